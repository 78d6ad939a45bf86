"""Searchable PDF/A copies of scans (GB/T 18894's archiving format) with OCRmyPDF.

For an image-only PDF or an image, OCRmyPDF makes a PDF/A-2b with the OCR text layer, pages
deskewed and turned upright (``--deskew --rotate-pages``), languages ``chi_sim+chi_tra+eng`` by
default.  The copy is a derivative, ``.dangan/pdfa/<main file>.pdf``, in the same OCFL version as
the record's extracted text; the original stays the record's main file, untouched.  The text
search indexes is OCRmyPDF's sidecar of that same run: one OCR, not two (the ordinary
extractor is skipped for these files).

OCRmyPDF runs as a child process (``python -m ocrmypdf``) so that it has a time limit, dies with
dangan and keeps its temporary images where it is told: for a record that may be sealed, only in
a memory-backed folder (``/dev/shm``, :func:`kernel.memory_tmp.memory_dir`), its output on a pipe, so
the confidential plaintext never touches disk; without such a folder a sealed record gets no
PDF/A copy and its extraction says so.  Every copy made is checked before it is kept: the PDF/A
identification in its XMP (``pdfaid:part`` 2, conformance B), every font embedded, and the text
extractable again by pypdf (:func:`verify`).

Configuration::

    [pdfa]
    enabled = "auto"          # auto: when OCRmyPDF and Ghostscript are installed; on: always; off
    languages = "chi_sim+chi_tra+eng"   # default: [extraction] ocr_languages
    sealed = "memory"         # memory: sealed records in a memory-backed folder only; off: never
    timeout_seconds = 900
"""
from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from dangan.model import Extraction

if TYPE_CHECKING:
    from dangan.core.archive import Archive

IMAGE_MIMES = {"image/jpeg", "image/png", "image/tiff", "image/bmp", "image/x-ms-bmp", "image/gif"}
DERIVATIVE_FOLDER = ".dangan/pdfa/"
NAME = "ocrmypdf"


def pdfa_path(logical_path: str) -> str:
    from dangan.core.store.source_files import fit_name
    folder, _, name = logical_path.rpartition("/")
    return f"{DERIVATIVE_FOLDER}{folder + '/' if folder else ''}{fit_name(Path(name).stem + '.pdfa.pdf')}"


@dataclass(frozen=True)
class Settings:
    enabled: str = "auto"
    languages: str = "chi_sim+chi_tra+eng"
    sealed: str = "memory"
    timeout: float = 900.0

    @classmethod
    def of(cls, config) -> "Settings":
        raw = dict(config.raw.get("pdfa") or {})
        return cls(enabled=str(raw.get("enabled", "auto")),
                   languages=str(raw.get("languages", config.ocr_languages)),
                   sealed=str(raw.get("sealed", "memory")), timeout=float(raw.get("timeout_seconds", 900)))

    def available(self) -> bool:
        if self.enabled == "off":
            return False
        if self.enabled == "on":
            return True
        try:
            import ocrmypdf  # noqa: F401
        except ImportError:
            return False
        return shutil.which("gs") is not None and shutil.which("tesseract") is not None


@dataclass
class Copy:
    """A PDF/A made from one file: its bytes, the text of the same OCR run, what the check found."""

    data: bytes | None
    extraction: Extraction
    checked: dict = field(default_factory=dict)


def wanted(path: Path, mime: str) -> bool:
    """An image, or a PDF none of whose pages has a text layer (a scan)."""
    from dangan.model import ExtractOptions
    limits = ExtractOptions()
    if mime in IMAGE_MIMES:                   # a pixel bomb is left to the extractor, which refuses it
        try:
            from PIL import Image
            with Image.open(path) as im:
                return im.width * im.height <= limits.max_pixels and getattr(im, "n_frames", 1) <= limits.max_pages
        except Exception:  # noqa: BLE001 - Pillow raises many types for unreadable headers
            return False
    if mime != "application/pdf":
        return False
    try:
        from pypdf import PdfReader
        reader = PdfReader(path, strict=False)
        if reader.is_encrypted:
            return False
        if len(reader.pages) > limits.max_pages:
            return False
        for i, page in enumerate(reader.pages):
            if i >= 50:
                break
            if len("".join((page.extract_text() or "").split())) >= 10:
                return False
        return len(reader.pages) > 0
    except Exception:  # noqa: BLE001 - a PDF pypdf cannot read is left to the ordinary extractor
        return False


def make(path: Path, mime: str, settings: Settings, *, sealed: bool) -> Copy | None:
    """The PDF/A copy of ``path`` and its text, or None when none is wanted (then extract as usual).

    ``sealed``: the record may be confidential; OCRmyPDF then works only in memory (or not at all)."""
    if (mime != "application/pdf" and mime not in IMAGE_MIMES) or not settings.available() or not wanted(path, mime):
        return None
    from dangan.core.kernel import memory_tmp
    from dangan.core.kernel.memory_tmp import memory_dir
    where = memory_dir() if sealed else None
    if sealed and settings.sealed == "off":
        return _failed("not made for sealed records ([pdfa] sealed = \"off\")")
    if sealed and where is None:               # the ordinary extractor OCRs it through pipes instead
        return _failed("a sealed record gets none without a memory-backed folder (/dev/shm): OCRmyPDF's "
                       "temporary images would touch disk")
    with memory_tmp.folder("pdfa", where) as tmp:
        sidecar = Path(tmp) / "text.txt"
        cmd = [sys.executable, "-m", "dangan.core.store.ocrmypdf_child", str(os.getpid()),
               "--output-type", "pdfa-2", "--deskew", "--rotate-pages",
               "-l", settings.languages, "--sidecar", str(sidecar), "--jobs", "1", "--optimize", "1", "--quiet"]
        if mime in IMAGE_MIMES:
            cmd += ["--image-dpi", "300"]     # used only when the image does not say its resolution
        cmd += [str(path), "-"]
        env = dict(os.environ, TMPDIR=tmp, OMP_THREAD_LIMIT="1")
        try:
            out, err, code = _run(cmd, env, tmp, settings.timeout)
        except subprocess.TimeoutExpired:
            return _failed(f"OCRmyPDF took longer than {settings.timeout:.0f} s")
        except OSError as exc:
            return _failed(f"OCRmyPDF cannot run ({exc.strerror or exc})")
        if code != 0 or not out.startswith(b"%PDF"):
            errors = [ln for ln in err.decode("utf-8", "replace").splitlines() if ln.strip()]
            return _failed(f"OCRmyPDF exit {code}: {errors[-1][:200] if errors else 'no message'}")
        text = sidecar.read_text("utf-8", "replace") if sidecar.exists() else ""
    checked = verify(out)
    pages = text.split("\f")
    ocr_pages = [i for i, p in enumerate(pages, 1) if p.strip()]
    from dangan.plugins.builtin.extractors.ocr import clean_cjk_spaces
    clean = clean_cjk_spaces(text.replace("\f", "\n\f")).strip()
    meta = {"pdfa": checked.get("pdfa", ""), "pdfa_check": "ok" if checked["ok"] else "; ".join(checked["problems"]),
            "pages": checked.get("pages", len(pages)), "ocr_pages": ocr_pages}
    extraction = Extraction(status="ok" if clean else "empty", text=clean, ocr=True, extractor=NAME, metadata=meta,
                            message="" if checked["ok"] else f"the PDF/A copy has problems: {meta['pdfa_check']}")
    return Copy(out if checked["ok"] else None, extraction, checked)


def _run(cmd: list[str], env: dict, cwd: str, timeout: float) -> tuple[bytes, bytes, int]:
    """Run OCRmyPDF (its own process group, dying with dangan); on a time-out kill the whole group."""
    import signal
    from dangan.lifeline import tool_preexec
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                            cwd=cwd, preexec_fn=tool_preexec())
    try:
        out, err = proc.communicate(timeout=timeout)
    except BaseException:
        try:
            os.killpg(proc.pid, signal.SIGKILL)     # OCRmyPDF, its Tesseract and Ghostscript
        except (ProcessLookupError, PermissionError):
            proc.kill()
        proc.communicate()
        raise
    return out, err, proc.returncode


def searchable_copy(archive: Archive, path: Path, mime: str, *, sealed: bool, extractor) -> tuple[Extraction, bytes | None]:
    """Extraction for ingest and the deferred extractor: a scan's PDF/A copy and its text from the same
    OCR run, or (no copy wanted, or OCRmyPDF failed) the ordinary extractor's result."""
    copy = make(path, mime, Settings.of(archive.config), sealed=sealed)
    if copy is None:
        return extractor(path, mime), None
    if copy.extraction.status == "failed" or copy.data is None:
        result = extractor(path, mime)
        result.message = "; ".join(filter(None, [result.message, copy.extraction.message]))
        if copy.checked:
            result.metadata["pdfa_check"] = copy.extraction.metadata.get("pdfa_check", "")
        return result, None
    return copy.extraction, copy.data


def _failed(reason: str) -> Copy:
    return Copy(None, Extraction(status="failed", message=f"no PDF/A copy: {reason}", extractor=NAME))


def verify(data: bytes) -> dict:
    """What a PDF/A-2b copy must show: the XMP identification, every font embedded, text extractable."""
    import pikepdf
    from pypdf import PdfReader
    problems: list[str] = []
    out: dict = {}
    try:
        with pikepdf.open(io.BytesIO(data)) as pdf:
            meta = pdf.open_metadata()
            part, conf = meta.get("pdfaid:part"), meta.get("pdfaid:conformance")
            out["pdfa"] = f"PDF/A-{part}{(conf or '').upper()}" if part else ""
            if str(part) != "2" or str(conf).upper() != "B":
                problems.append(f"XMP says PDF/A part {part!r} conformance {conf!r}, not 2B")
            out["pages"] = len(pdf.pages)
            unembedded = sorted(_unembedded_fonts(pdf))
            if unembedded:
                problems.append("fonts not embedded: " + ", ".join(unembedded[:5]))
    except Exception as exc:  # noqa: BLE001 - pikepdf raises PdfError and others on a broken file
        problems.append(f"unreadable: {type(exc).__name__}")
    try:
        reader = PdfReader(io.BytesIO(data))
        out["text_chars"] = sum(len((p.extract_text() or "").strip()) for p in reader.pages)
    except Exception as exc:  # noqa: BLE001
        problems.append(f"pypdf cannot read the text: {type(exc).__name__}")
    out["problems"] = problems
    out["ok"] = not problems
    return out


def _unembedded_fonts(pdf) -> set[str]:
    import pikepdf
    missing: set[str] = set()
    for obj in pdf.objects:
        if not isinstance(obj, pikepdf.Dictionary) or obj.get("/Type") != "/Font":
            continue
        if obj.get("/Subtype") in ("/Type0", "/Type3"):
            continue                          # Type0: its descendant is checked; Type3: glyphs are content
        desc = obj.get("/FontDescriptor")
        if desc is None or not any(k in desc for k in ("/FontFile", "/FontFile2", "/FontFile3")):
            missing.add(str(obj.get("/BaseFont", "?")))
    return missing
