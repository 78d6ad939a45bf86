"""Office documents: docx (python-docx), xlsx (openpyxl), pptx (python-pptx), ODF (odfpy).

Every OOXML/ODF file is a ZIP: its central directory is checked first (total
uncompressed size, entry count, compression ratio) so a zip bomb is refused
before any library inflates it.  Legacy binary Office files (.doc, .xls,
.ppt) have no well-kept pure-Python reader: they end ``unsupported`` with a
message; password-protected OOXML (an OLE2 wrapper) ends ``encrypted``.
"""
from __future__ import annotations

import warnings
import zipfile
from pathlib import Path

from dangan.model import Extraction

from .options import ExtractOptions, failed, finish, unsupported

NAME = "office"
_OOXML = "application/vnd.openxmlformats-officedocument."
DOCX = _OOXML + "wordprocessingml.document"
XLSX = _OOXML + "spreadsheetml.sheet"
PPTX = _OOXML + "presentationml.presentation"
_ODF = {"application/vnd.oasis.opendocument.text", "application/vnd.oasis.opendocument.spreadsheet",
        "application/vnd.oasis.opendocument.presentation", "application/vnd.oasis.opendocument.graphics"}
_LEGACY = {"application/msword": "Word 97-2003 (.doc)", "application/vnd.ms-excel": "Excel 97-2003 (.xls)",
           "application/vnd.ms-powerpoint": "PowerPoint 97-2003 (.ppt)",
           "application/x-ole-storage": "OLE2 compound file", "application/CDFV2": "OLE2 compound file",
           "application/vnd.lotus-1-2-3": "Lotus 1-2-3 spreadsheet",
           "application/vnd.ms-works": "Microsoft Works document"}
MAX_CELLS = 2_000_000
MAX_ENTRIES = 20_000
MAX_RATIO = 200          # uncompressed / compressed, for the archive as a whole


def check_zip(path: Path, options: ExtractOptions) -> str | None:
    """Why this ZIP must not be opened, or None when it looks sane."""
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        return f"not a readable ZIP container ({exc})"
    if len(infos) > MAX_ENTRIES:
        return f"the ZIP container has {len(infos)} entries (limit {MAX_ENTRIES})"
    total = sum(i.file_size for i in infos)
    packed = sum(i.compress_size for i in infos) or 1
    if total > options.max_unzipped_bytes:
        return (f"the ZIP container would expand to {total} bytes (limit {options.max_unzipped_bytes}): "
                "possible zip bomb")
    if total > 50 * 1024 * 1024 and total / packed > MAX_RATIO:
        return f"the ZIP container compresses {total / packed:.0f}:1: possible zip bomb"
    return None


def _docx(path: Path, options: ExtractOptions) -> tuple[str, dict]:
    import docx
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    doc = docx.Document(str(path))
    parts: list[str] = []
    size = 0
    for child in doc.element.body.iterchildren():
        tag = child.tag.rsplit("}", 1)[-1]
        if tag == "p":
            parts.append(Paragraph(child, doc).text)
        elif tag == "tbl":
            for row in Table(child, doc).rows:
                parts.append("\t".join(cell.text for cell in row.cells))
        size += len(parts[-1]) if parts else 0
        if size > options.max_chars:
            break
    for section in doc.sections:
        for part in (section.header, section.footer):
            try:
                parts.extend(p.text for p in part.paragraphs if p.text.strip())
            except (ValueError, KeyError, AttributeError):
                pass
    props = doc.core_properties
    meta = {k: v for k, v in (("title", props.title), ("author", props.author), ("subject", props.subject),
                              ("keywords", props.keywords)) if v}
    if props.created:
        meta["created"] = props.created.isoformat()
    meta["paragraphs"] = len(doc.paragraphs)
    return "\n".join(parts), meta


def _xlsx(path: Path, options: ExtractOptions) -> tuple[str, dict]:
    import openpyxl

    wb = openpyxl.load_workbook(str(path), read_only=True, data_only=True)
    parts: list[str] = []
    cells = 0
    size = 0
    meta: dict = {"sheets": wb.sheetnames}
    try:
        for ws in wb.worksheets:
            parts.append(f"# {ws.title}")
            for row in ws.iter_rows(values_only=True):   # noqa: B007
                values = ["" if v is None else str(v) for v in row]
                cells += len(values)
                line = "\t".join(values).rstrip("\t")
                if line:
                    parts.append(line)
                    size += len(line)
                if cells > MAX_CELLS or size > options.max_chars:
                    meta["truncated"] = True
                    break
            if meta.get("truncated"):
                break
    finally:
        wb.close()
    meta["cells"] = cells
    return "\n".join(parts), meta


def _pptx(path: Path, options: ExtractOptions) -> tuple[str, dict]:
    from pptx import Presentation

    prs = Presentation(str(path))
    parts: list[str] = []

    def shape_text(shape) -> None:
        if getattr(shape, "has_text_frame", False) and shape.has_text_frame:
            parts.append(shape.text_frame.text)
        if getattr(shape, "has_table", False) and shape.has_table:
            for row in shape.table.rows:
                parts.append("\t".join(cell.text for cell in row.cells))
        for sub in getattr(shape, "shapes", ()):       # group shapes
            shape_text(sub)

    slides = 0
    for slides, slide in enumerate(prs.slides, start=1):
        parts.append(f"# slide {slides}")
        for shape in slide.shapes:
            shape_text(shape)
        if slide.has_notes_slide and slide.notes_slide.notes_text_frame is not None:
            parts.append(slide.notes_slide.notes_text_frame.text)
    props = prs.core_properties
    meta = {k: v for k, v in (("title", props.title), ("author", props.author)) if v}
    meta["slides"] = slides
    return "\n".join(p for p in parts if p.strip()), meta


def _odf(path: Path, options: ExtractOptions) -> tuple[str, dict]:
    from odf.opendocument import load

    doc = load(str(path))
    parts: list[str] = []
    breaks = {"p", "h", "table-row", "list-item"}

    def walk(node, buf: list[str]) -> None:
        for child in node.childNodes:
            if child.nodeType == child.TEXT_NODE:
                buf.append(child.data)
                continue
            name = getattr(child, "tagName", "").split(":")[-1]
            if name == "s":
                buf.append(" " * int(child.getAttribute("c") or 1))
            elif name == "tab":
                buf.append("\t")
            elif name == "line-break":
                buf.append("\n")
            elif name in ("table-cell",):
                walk(child, buf)
                buf.append("\t")
            else:
                walk(child, buf)
            if name in breaks:
                buf.append("\n")

    buf: list[str] = []
    walk(doc.body, buf)
    parts.append("".join(buf))
    meta: dict = {}
    for el in doc.meta.childNodes:
        name = getattr(el, "tagName", "")
        if name in ("dc:title", "dc:creator", "dc:subject"):
            meta[name.split(":")[1].replace("creator", "author")] = str(el)
    return "\n".join(parts), meta


_READERS = {DOCX: _docx, XLSX: _xlsx, PPTX: _pptx,
            "application/vnd.ms-word.document.macroenabled.12": _docx,
            "application/vnd.ms-excel.sheet.macroenabled.12": _xlsx,
            "application/vnd.ms-powerpoint.presentation.macroenabled.12": _pptx}


def extract_office(path: Path, mime: str, options: ExtractOptions) -> Extraction | None:
    if mime == "application/encrypted":
        return Extraction(status="encrypted", extractor=NAME,
                          message="password-protected Office document: decryption is not supported")
    if mime in _LEGACY:
        return unsupported(NAME, f"{_LEGACY[mime]}: no well-kept library reads this format; "
                                 "convert it to an open format (docx, xlsx, odt) to index its text")
    reader = _READERS.get(mime) or (_odf if mime in _ODF else None)
    if reader is None:
        return None
    refused = check_zip(path, options)
    if refused:
        return failed(NAME, refused)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")     # openpyxl: "Unknown extension is not supported" and the like
            text, meta = reader(path, options)
    except (KeyError, ValueError, TypeError, AttributeError, IndexError, zipfile.BadZipFile,
            OSError, SyntaxError, RecursionError) as exc:
        # lxml's XMLSyntaxError is a SyntaxError; python-docx/pptx raise KeyError for missing parts
        return failed(NAME, f"cannot read the document ({type(exc).__name__}: {exc})"[:300])
    return finish(text, options, extractor=NAME, metadata=meta)
