"""Options shared by every extractor, and small helpers they all use.

Extractors import only ``dangan.model``, ``dangan.errors``, the standard
library and third-party libraries; this module is the one sibling they share.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from dangan.model import Extraction


@dataclass(frozen=True)
class ExtractOptions:
    """What the caller lets an extractor do.

    ``password`` opens encrypted PDFs; ``ocr_languages`` is Tesseract's ``-l``
    value; ``ocr=False`` skips OCR (images end ``not-ocred``); ``max_pages``
    caps the PDF pages read (``/Count`` is never trusted); ``max_chars`` caps
    the text returned; ``tesseract_cmd`` names the Tesseract executable.
    """

    password: str | None = None
    ocr_languages: str = "chi_sim+eng"
    ocr: bool = True
    max_pages: int = 500
    max_chars: int = 5_000_000
    tesseract_cmd: str = "tesseract"
    #: Bytes a text-like file may have; larger files are read up to this much.
    max_text_bytes: int = 64 * 1024 * 1024
    #: Uncompressed bytes an office (ZIP) container may expand to.
    max_unzipped_bytes: int = 512 * 1024 * 1024
    #: Pixels an image or a rendered PDF page may have before OCR is refused.
    max_pixels: int = 120_000_000
    #: Seconds one external program (tesseract, pdftoppm) may run.
    tool_timeout: float = 90.0
    #: Seconds a PDF's page loop may take; later pages are skipped with a message.
    #: ``extract_in_worker`` lowers it below its own timeout.
    time_budget: float = 100.0


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
