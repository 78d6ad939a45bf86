"""PDF text with pypdf; image-only pages rendered by pdftoppm and OCR'd.

Limits: the page tree is walked by hand with a visited set and ``max_pages``
(``/Count`` is never trusted: ``odd/poppler-85140-0.pdf`` claims 213 million
pages, and some trees loop); a time budget stops page work early and says so;
pages are rendered at 300 dpi, less when the page is so large that the bitmap
would pass ``max_pixels / 3``.  Rendering goes to a pipe, never a temp file.

Mojibake is never recorded as text: a page whose text layer (pypdf's, then
pdftotext's) still looks like a font decoded without its CMap (see
``mojibake.py``) is OCR'd, and if that gives nothing readable either, the page
is left out and named in ``unreadable_pages`` and the message.
"""
from __future__ import annotations

import logging
import math
import re
import subprocess
import time
import unicodedata
from pathlib import Path

from dangan.lifeline import tool_preexec
from dangan.model import Extraction

from .ocr import OcrFailed, OcrUnavailable, ocr_languages, run_tesseract
from .mojibake import looks_like_mojibake
from .options import ExtractOptions, failed, finish
from .text import fix_mojibake

NAME = "pdf"
OCR_DPI = 300
_MIN_TEXT = 10            # a page with fewer non-space characters counts as image-only
_HSPACE = re.compile(r"[ \t\r\xa0]+")


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}"[:300] if text else type(exc).__name__


def _walk_pages(reader, limit: int):
    """Yield PageObjects in tree order: cycle-safe, depth-bounded, at most ``limit``."""
    from pypdf import PageObject
    from pypdf.generic import IndirectObject, NameObject

    root = reader.trailer["/Root"].get_object()
    top = root.get("/Pages")
    if top is None:
        return
    inheritable = ("/Resources", "/MediaBox", "/CropBox", "/Rotate")
    seen: set = set()
    stack = [(top, {}, 0)]
    count = 0
    while stack and count < limit:
        ref, inherited, depth = stack.pop()
        key = (ref.idnum, ref.generation) if isinstance(ref, IndirectObject) else id(ref)
        if key in seen or depth > 64:
            continue
        seen.add(key)
        node = ref.get_object()
        if not hasattr(node, "get"):
            continue
        kids = node.get("/Kids")
        if node.get("/Type") == "/Pages" or (kids is not None and node.get("/Type") != "/Page"):
            here = dict(inherited)
            here.update({NameObject(k): node[k] for k in inheritable if k in node})
            kids = kids.get_object() if kids is not None else []
            stack.extend((kid, here, depth + 1) for kid in reversed(list(kids)))
            continue
        page = PageObject(reader, ref if isinstance(ref, IndirectObject) else None)
        page.update(node)
        for k, v in inherited.items():
            if k not in page:
                page[k] = v
        count += 1
        yield page


class _EncodingTrouble(logging.Handler):
    """Notes pypdf's warnings that it decoded a font with a guessed encoding."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.seen = False

    def emit(self, record: logging.LogRecord) -> None:
        msg = record.getMessage()
        if "encoding" in msg.lower() or "not implemented" in msg:
            self.seen = True


def _odd_ratio(text: str) -> float:
    """Share of characters that betray a font decoded without its CMap."""
    chars = [c for c in text if not c.isspace()]
    if not chars:
        return 0.0
    odd = 0
    for c in chars:
        o = ord(c)
        if (0x250 <= o <= 0x3FF or 0x980 <= o <= 0xDFF or 0xE80 <= o <= 0xEFF or 0x780 <= o <= 0x7BF
                or unicodedata.category(c) in ("Cn", "Co", "Cc", "Cs", "Mn")):
            odd += 1
    return odd / len(chars)


def _poppler_page(path: Path, number: int, options: ExtractOptions) -> str | None:
    """The same page through pdftotext (poppler maps CJK CMaps pypdf lacks)."""
    cmd = ["pdftotext", "-q", "-enc", "UTF-8", "-f", str(number), "-l", str(number)]
    if options.password:
        cmd += ["-upw", options.password]
    try:
        proc = subprocess.run(cmd + [str(path), "-"], capture_output=True, timeout=options.tool_timeout,
                              check=False,
                              preexec_fn=tool_preexec())
    except (OSError, subprocess.TimeoutExpired):
        return None
    return proc.stdout.decode("utf-8", "replace").strip("\f") if proc.returncode == 0 else None


def _second_opinion(path: Path, number: int, text: str, trouble: bool, options: ExtractOptions) -> str:
    odd = _odd_ratio(text)
    if not trouble and odd < 0.05:
        return text
    alt = _poppler_page(path, number, options)
    if alt and alt.strip() and _odd_ratio(alt) < odd + (0.01 if trouble else 0):
        return _HSPACE.sub(" ", alt)
    return text


def _has_images(page) -> bool:
    try:
        xobjects = page["/Resources"].get_object().get("/XObject")
        return bool(xobjects and len(xobjects.get_object()))
    except (KeyError, AttributeError, TypeError, ValueError):
        return False


def _render_dpi(page, options: ExtractOptions) -> int:
    try:
        box = page.mediabox
        w, h = abs(float(box.width)), abs(float(box.height))
    except (KeyError, AttributeError, TypeError, ValueError):
        return OCR_DPI
    area = (w / 72) * (h / 72)          # square inches
    if area <= 0:
        return OCR_DPI
    cap = options.max_pixels / 3        # a rendered page is OCR'd, not archived: keep it modest
    return max(36, min(OCR_DPI, int(math.sqrt(cap / area))))


def _ocr_page(path: Path, number: int, dpi: int, options: ExtractOptions) -> str:
    cmd = ["pdftoppm", "-r", str(dpi), "-f", str(number), "-l", str(number), "-gray", "-singlefile"]
    if options.password:
        cmd += ["-upw", options.password]
    cmd.append(str(path))
    try:
        proc = subprocess.run(cmd, capture_output=True, timeout=options.tool_timeout, check=False,
                              preexec_fn=tool_preexec())
    except FileNotFoundError:
        raise OcrUnavailable("not OCR'd: pdftoppm (poppler-utils) is not installed") from None
    except subprocess.TimeoutExpired:
        raise OcrFailed(f"pdftoppm took longer than {options.tool_timeout:.0f} s on page {number}") from None
    if proc.returncode != 0 or not proc.stdout:
        err = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        raise OcrFailed(f"pdftoppm failed on page {number}: {err[-1] if err else proc.returncode}")
    return run_tesseract(proc.stdout, options, dpi=dpi)


def _open(path: Path, options: ExtractOptions):
    """Return (reader, metadata) or an Extraction that ends the work."""
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(path, strict=False)
    except (PdfReadError, ValueError, TypeError, KeyError, AttributeError, IndexError,
            RecursionError, OSError, AssertionError) as exc:
        return failed(NAME, f"not a readable PDF ({_reason(exc)})"), None
    meta: dict = {"encrypted": bool(reader.is_encrypted)}
    if reader.is_encrypted:
        try:
            opened = reader.decrypt(options.password or "")
            if not opened and options.password:
                opened = reader.decrypt("")     # a batch password; this file may need none
        except (NotImplementedError, PdfReadError, ValueError, KeyError, TypeError) as exc:
            return Extraction(status="failed", extractor=NAME, metadata=meta,
                              message=f"extraction failed: cannot decrypt ({_reason(exc)})"), None
        if not opened:
            msg = ("the password given does not open this PDF" if options.password
                   else "this PDF is encrypted: a password is needed to read it")
            return Extraction(status="encrypted", message=msg, metadata=meta, extractor=NAME), None
    return reader, meta


def _info(reader, meta: dict) -> None:
    try:
        info = reader.metadata
        if info:
            for key, name in (("/Title", "title"), ("/Author", "author"), ("/Subject", "subject"),
                              ("/Creator", "creator"), ("/Producer", "producer")):
                value = info.get(key)
                value = str(value).replace("\x00", "").strip() if value is not None else ""
                if value:
                    meta[name] = value[:500]
    except Exception as exc:        # noqa: BLE001 - a damaged info dict is not worth failing the file
        meta["info_error"] = _reason(exc)
    try:
        meta["pdf_version"] = reader.pdf_header.lstrip("%PDF-")
    except (AttributeError, ValueError):
        pass


def extract_pdf(path: Path, mime: str, options: ExtractOptions) -> Extraction | None:
    if mime != "application/pdf":
        return None
    log = logging.getLogger("pypdf")
    log.setLevel(logging.WARNING)
    log.propagate = False                # damaged files warn a lot; the message reports instead
    if not log.handlers:
        log.addHandler(logging.NullHandler())
    reader, meta = _open(path, options)
    if isinstance(reader, Extraction):
        if reader.status == "failed" and "not a readable PDF" in reader.message:
            return _poppler_fallback(path, options, reader)
        return reader
    _info(reader, meta)
    trouble = _EncodingTrouble()
    logging.getLogger("pypdf").addHandler(trouble)
    try:
        return _pages(reader, meta, path, options, trouble)
    finally:
        logging.getLogger("pypdf").removeHandler(trouble)


def _pages(reader, meta: dict, path: Path, options: ExtractOptions, trouble: _EncodingTrouble) -> Extraction:
    deadline = time.monotonic() + options.time_budget
    parts: list[str] = []
    notes: list[str] = []
    ocr_pages: list[int] = []
    unreadable: list[int] = []
    ocr_error = ""
    pages = 0
    total = 0
    try:
        for number, page in enumerate(_walk_pages(reader, options.max_pages), start=1):
            pages = number
            if time.monotonic() > deadline:
                notes.append(f"stopped at page {number}: time budget of {options.time_budget:.0f} s used")
                break
            trouble.seen = False
            try:
                text = _HSPACE.sub(" ", fix_mojibake(page.extract_text() or ""))
                text = _second_opinion(path, number, text, trouble.seen, options)
            except Exception as exc:   # noqa: BLE001 - pypdf raises anything on a bad content stream
                text = ""
                notes.append(f"page {number}: {_reason(exc)}")
            garbled = looks_like_mojibake(text)
            if garbled:
                text = ""
            if len(text.split()) == 0 or len("".join(text.split())) < _MIN_TEXT:
                if (garbled or _has_images(page)) and not ocr_error:
                    try:
                        ocr_languages(options)
                        read = _ocr_page(path, number, _render_dpi(page, options), options)
                        text = "" if looks_like_mojibake(read) else (read or text)
                        ocr_pages.append(number)
                    except OcrUnavailable as exc:
                        ocr_error = str(exc)
                    except OcrFailed as exc:
                        notes.append(f"page {number}: OCR failed: {exc}")
            if garbled and not text.strip():
                unreadable.append(number)
            parts.append(text)
            total += len(text)
            if total > options.max_chars:
                notes.append(f"stopped at page {number}: {options.max_chars} characters reached")
                break
    except Exception as exc:           # noqa: BLE001 - a broken page tree: keep the pages read so far
        notes.append(f"page tree: {_reason(exc)}")
    else:
        if pages >= options.max_pages:
            notes.append(f"only the first {options.max_pages} pages were read")
    meta["pages"] = pages
    if not pages:
        notes.append("no pages found: the page tree is empty or damaged")
    if ocr_pages:
        meta["ocr_pages"] = ocr_pages
    if unreadable:
        meta["unreadable_pages"] = unreadable
        notes.append(f"page{'s' if len(unreadable) > 1 else ''} {', '.join(map(str, unreadable))} unreadable: "
                     "the text layer is mojibake (a font without its character map; poppler-data "
                     "provides the CJK ones) and OCR gave no text")
    text = "\n\f".join(parts).strip("\n\f")
    message = "; ".join(notes)[:1000]
    if ocr_error and not text.strip():
        return Extraction(status="not-ocred", message=ocr_error, metadata=meta, extractor=NAME)
    if ocr_error:
        message = "; ".join(filter(None, [ocr_error + " (image-only pages skipped)", message]))
    if not pages and notes:
        return Extraction(status="failed", message=f"extraction failed: {message}", metadata=meta,
                          extractor=NAME)
    return finish(text, options, extractor=NAME, metadata=meta, ocr=bool(ocr_pages), message=message)


def _poppler_fallback(path: Path, options: ExtractOptions, refused: Extraction) -> Extraction:
    """pdftotext reconstructs some files pypdf refuses (no startxref, junk before the header)."""
    cmd = ["pdftotext", "-q", "-enc", "UTF-8", "-l", str(options.max_pages), str(path), "-"]
    try:
        proc = subprocess.run(cmd, capture_output=True, timeout=options.tool_timeout, check=False,
                              preexec_fn=tool_preexec())
    except (OSError, subprocess.TimeoutExpired):
        return refused
    text = _HSPACE.sub(" ", proc.stdout.decode("utf-8", "replace")).strip("\n\f")
    if proc.returncode != 0 or not text.strip():
        return refused
    return finish(text, options, extractor=NAME, metadata={"repaired_by": "pdftotext"},
                  message=f"pypdf could not read the file ({refused.message.removeprefix('extraction failed: ')}); "
                          "text recovered with pdftotext")
