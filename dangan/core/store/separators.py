"""Separator sheets: a batch scan (one long PDF or TIFF) is split into one document per part.

A page carrying the configured separator barcode (default the text ``DANGAN-SEP`` in a QR code
or Code 128; ``PATCHT``, the PATCH-T sheet paperless-ngx prints, also works) ends a document; the
separator pages themselves are dropped from the parts.  Barcodes with a configured prefix set the
fields of the document they are on, or of the document that follows the separator carrying them
(``DH:`` an archival code of the volume to file under, ``META:key=value`` a metadata entry,
``TAG:`` a tag).  zxing-cpp reads the barcodes from pages rendered in memory (pypdfium2 for PDF,
Pillow for TIFF frames).  Only PDF pages with an image on them are rendered: a born-digital page
is no scanned sheet (and a 500-page report costs no rendering); a page that cannot be rendered or read is kept as an ordinary page and
named in ``Split.unreadable``, so one damaged page never stops the batch.

Configuration (``dangan.toml``)::

    [separators]
    enabled = true                 # look for separator sheets in multi-page PDF and TIFF files
    barcode = "DANGAN-SEP"         # the separator's text (PATCHT is always accepted too)
    dpi = 150                      # rendering resolution for reading barcodes
    max_pages = 2000
    [separators.prefixes]          # barcode prefix → field: volume, category, department, date,
    "DH:" = "volume"               #   retention, secrecy, title, tag or meta
    "META:" = "meta"
"""
from __future__ import annotations

import io
import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger("dangan.ingest")

DEFAULT_BARCODE = "DANGAN-SEP"
PATCH_T = "PATCHT"
DEFAULT_PREFIXES = {"DH:": "volume", "META:": "meta", "TAG:": "tag"}
FIELD_NAMES = ("volume", "category", "department", "date", "retention", "secrecy", "title", "tag", "meta")
SPLITTABLE = {"application/pdf", "image/tiff"}
NOT_SCANNED = object()           # a PDF page with no image on it: never a separator sheet


@dataclass(frozen=True)
class Settings:
    enabled: bool = True
    barcode: str = DEFAULT_BARCODE
    dpi: int = 150
    max_pages: int = 2000
    prefixes: tuple[tuple[str, str], ...] = tuple(DEFAULT_PREFIXES.items())

    @classmethod
    def of(cls, config) -> "Settings":
        raw = dict((config.raw.get("separators") or {}) if config is not None else {})
        prefixes = raw.get("prefixes")
        return cls(enabled=bool(raw.get("enabled", True)), barcode=str(raw.get("barcode", DEFAULT_BARCODE)),
                   dpi=int(raw.get("dpi", 150)), max_pages=int(raw.get("max_pages", 2000)),
                   prefixes=tuple((prefixes if prefixes is not None else DEFAULT_PREFIXES).items()))

    def is_separator(self, text: str) -> bool:
        t = text.strip()
        return t == self.barcode or t.upper().replace("-", "") == PATCH_T


@dataclass
class Part:
    """One document of a batch: its pages (0-based, in order) and the fields its barcodes set."""

    pages: list[int]
    values: list[tuple[str, str]] = field(default_factory=list)     # (field name, value)

    def page_range(self) -> str:
        first, last = self.pages[0] + 1, self.pages[-1] + 1
        return str(first) if first == last else f"{first}-{last}"


@dataclass
class Split:
    pages: int
    separators: list[int]            # 0-based pages dropped as separator sheets
    parts: list[Part]
    unreadable: list[int] = field(default_factory=list)


def barcodes_on(image) -> list[str]:
    """The texts of the QR and Code 128 (and Code 39) barcodes zxing-cpp finds on a PIL image."""
    import zxingcpp
    formats = (zxingcpp.BarcodeFormat.QRCode, zxingcpp.BarcodeFormat.Code128, zxingcpp.BarcodeFormat.Code39)
    found = zxingcpp.read_barcodes(image, formats=formats)  # type: ignore[arg-type]  # the stubs lag: a tuple is the API now
    return [b.text for b in found if b.valid and b.text]


#: PDFium is not thread-safe (pypdfium2 says so): ``ingest`` runs files in threads, so every call into it,
#: including the closing of its documents, is made under this one lock.  Without it two batch scans split at
#: once crashed the process (a segmentation fault in ``get_page``).
_PDFIUM = threading.Lock()


def _pdf_pages(path: Path, settings: Settings):
    """Yield (index, PIL image or None) for each page of a PDF, rendered in memory."""
    import pypdfium2 as pdfium
    with _PDFIUM:
        doc = pdfium.PdfDocument(str(path))
    try:
        with _PDFIUM:
            n = min(len(doc), settings.max_pages)
        yield n
        for i in range(n):
            try:
                with _PDFIUM:
                    page = doc[i]
                    try:
                        image = _render(page, settings) if _has_image(page) else NOT_SCANNED   # born-digital
                    finally:
                        page.close()
            except Exception:  # noqa: BLE001 - pdfium raises PdfiumError and others on a damaged page
                image = None
            yield i, image
    finally:
        with _PDFIUM:
            doc.close()


def _render(page, settings: Settings):
    """The page as a PIL image of its own (copied out of PDFium's bitmap, which is freed here, under the lock,
    not later by the garbage collector in whichever thread it runs)."""
    bitmap = page.render(scale=settings.dpi / 72, grayscale=True)
    try:
        return bitmap.to_pil().copy()
    finally:
        bitmap.close()


def _has_image(page) -> bool:
    import pypdfium2.raw as pdfium_c
    return any(obj.type == pdfium_c.FPDF_PAGEOBJ_IMAGE for obj in page.get_objects())


def _tiff_pages(path: Path, settings: Settings):
    from PIL import Image, ImageSequence
    with Image.open(path) as im:
        n = min(getattr(im, "n_frames", 1), settings.max_pages)
        yield n
        for i, frame in enumerate(ImageSequence.Iterator(im)):
            if i >= n:
                break
            try:
                yield i, frame.convert("L")
            except (OSError, ValueError, SyntaxError):
                yield i, None


def find_parts(path: Path, mime: str, settings: Settings) -> Split | None:
    """The documents of a batch scan, or None when the file is no batch (fewer than two parts)."""
    if not settings.enabled or mime not in SPLITTABLE:
        return None
    try:
        pages = _pdf_pages(path, settings) if mime == "application/pdf" else _tiff_pages(path, settings)
        total = next(pages)
    except Exception as exc:  # noqa: BLE001 - an unreadable file is archived whole, as it is
        log.info("separator check skipped: %s", type(exc).__name__)
        return None
    if total < 2:
        pages.close()
        return None
    separators: list[int] = []
    unreadable: list[int] = []
    parts: list[Part] = []
    current = Part([])
    pending: list[tuple[str, str]] = []            # values from a separator sheet: for the next part
    for i, image in pages:
        texts: list[str] = []
        if image is NOT_SCANNED:
            pass
        elif image is None:
            unreadable.append(i)
        else:
            try:
                texts = barcodes_on(image)
            except Exception:  # noqa: BLE001 - a page zxing cannot read stays an ordinary page
                unreadable.append(i)
        values = [v for t in texts for v in _values(t, settings)]
        if any(settings.is_separator(t) for t in texts):
            separators.append(i)
            if current.pages:
                parts.append(current)
                current = Part([])
            pending = values
            continue
        if pending:
            current.values.extend(pending)
            pending = []
        current.pages.append(i)
        current.values.extend(values)
    if current.pages:
        parts.append(current)
    if not separators or not parts or (len(parts) < 2 and not separators):
        return None
    return Split(total, separators, parts, unreadable)


def _values(text: str, settings: Settings) -> list[tuple[str, str]]:
    t = text.strip()
    for prefix, name in settings.prefixes:
        if t.startswith(prefix) and len(t) > len(prefix) and name in FIELD_NAMES:
            return [(name, t[len(prefix):].strip())]
    return []


def write_part(path: Path, mime: str, part: Part) -> bytes:
    """The part's pages as a file of the batch's format, in memory (pypdf for PDF, Pillow for TIFF)."""
    out = io.BytesIO()
    if mime == "application/pdf":
        from pypdf import PdfReader, PdfWriter
        reader = PdfReader(path, strict=False)
        writer = PdfWriter()
        for i in part.pages:
            writer.add_page(reader.pages[i])
        writer.write(out)
    else:
        from PIL import Image
        with Image.open(path) as im:
            frames = []
            for i in part.pages:
                im.seek(i)
                frames.append(im.copy())
        frames[0].save(out, format="TIFF", save_all=True, append_images=frames[1:], compression="tiff_deflate")
    return out.getvalue()
