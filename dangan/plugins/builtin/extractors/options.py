"""Options shared by every extractor, and small helpers they all use.

Extractors import only ``dangan.model``, ``dangan.errors``, the standard
library and third-party libraries; this module is the one sibling they share.
"""
from __future__ import annotations

from pathlib import Path

from dangan.model import Extraction, ExtractOptions  # noqa: F401  (re-exported)


def finish(text: str, options: ExtractOptions, *, extractor: str, metadata: dict | None = None,
           ocr: bool = False, message: str = "", status: str | None = None) -> Extraction:
    """Build an ``Extraction``: cap the text, pick ``ok``/``empty`` from its content."""
    metadata = dict(metadata or {})
    if len(text) > options.max_chars:
        text = text[: options.max_chars]
        metadata["truncated"] = True
        message = message or f"text truncated to {options.max_chars} characters"
    if status is None:
        status = "ok" if text.strip() else "empty"
    return Extraction(status=status, text=text, metadata=metadata, message=message,
                      ocr=ocr, extractor=extractor)


def failed(extractor: str, reason: str, **metadata: object) -> Extraction:
    return Extraction(status="failed", message=f"extraction failed: {reason}",
                      metadata=dict(metadata), extractor=extractor)


def unsupported(extractor: str, reason: str, **metadata: object) -> Extraction:
    return Extraction(status="unsupported", message=reason, metadata=dict(metadata),
                      extractor=extractor)


def read_head(path: Path, size: int = 4096) -> bytes:
    with open(path, "rb") as fh:
        return fh.read(size)
