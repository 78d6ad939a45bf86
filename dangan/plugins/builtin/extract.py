"""The built-in text extractors, as a plugin (``trylast``: any other extractor wins)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from ...model import Extraction
from ..hookspecs import hookimpl


@hookimpl(trylast=True)
def dangan_extract(path: Path, mime: str, options: Any) -> Extraction | None:
    # imported lazily: the extractors pull in heavy libraries (pypdf, Pillow, ...)
    from .extractors import extract

    return extract(path, mime, options)
