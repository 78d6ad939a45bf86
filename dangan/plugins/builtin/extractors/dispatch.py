"""The dispatcher: walk ``EXTRACTORS`` in order; the first that does not return None wins.

Each extractor is a plain function ``extract_xxx(path, mime, options) ->
Extraction | None`` (None: "not mine"), the shape of the future pluggy hook
``dangan_extract`` (firstresult).  Order matters only where MIME types
overlap: e-mail before text (libmagic calls most .eml files text/plain),
OFD before office and text (libmagic calls an OFD application/zip), text last (it also
sniffs application/octet-stream).
"""
from __future__ import annotations

from pathlib import Path

from dangan.model import Extraction

from .mail import extract_email
from .media import extract_media
from .ofd import extract_ofd
from .ocr import extract_image
from .office import extract_office
from .options import ExtractOptions
from .pdf import extract_pdf
from .text import extract_text
from .thumbnail import make_thumbnail

EXTRACTORS = (extract_pdf, extract_image, extract_email, extract_ofd, extract_office, extract_media, extract_text)
_EMPTY_MIMES = {"inode/x-empty", "application/x-empty"}


def _name(fn) -> str:
    return fn.__module__.rsplit(".", 1)[-1]


def extract(path: Path, mime: str, options: ExtractOptions | None = None) -> Extraction:
    """Extract text and metadata from ``path`` in this process; never raises.

    Hostile files should go through ``dangan.core.store.extraction`` (a worker with
    time and memory limits) instead.
    """
    options = options or ExtractOptions()
    path = Path(path)
    try:
        if not path.is_file():
            return Extraction(status="failed", message=f"extraction failed: {path.name} is not a regular file")
        if mime in _EMPTY_MIMES or path.stat().st_size == 0:
            return Extraction(status="empty", message="the file is empty", extractor="dispatch")
        for fn in EXTRACTORS:
            result = fn(path, mime, options)
            if result is not None:
                if not result.extractor:
                    result.extractor = _name(fn)
                if options.thumbnail_px and result.status not in ("failed", "encrypted"):
                    result.thumbnail = make_thumbnail(path, mime, options, result.metadata)
                return result
    except MemoryError:
        return Extraction(status="failed", message="extraction failed: out of memory", extractor="dispatch")
    except Exception as exc:  # noqa: BLE001 - the edge between core and extractor code: report, never raise
        detail = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ""
        return Extraction(status="failed", extractor="dispatch",
                          message=f"extraction failed: {type(exc).__name__}" + (f": {detail}" if detail else ""))
    return Extraction(status="unsupported", message=f"no extractor for {mime}", extractor="dispatch")
