"""OFD (GB/T 33190, the Chinese fixed-layout format of e-documents and e-invoices): text and metadata.

An OFD file is a ZIP: ``OFD.xml`` at its root names each document's ``Document.xml`` (``DocRoot``),
its ``DocInfo`` (title, author, dates, keywords, custom data) and its ``Signatures``; a document
lists its pages in order, each a ``Content.xml`` of layers of ``TextObject``s, optionally on a
template page (an invoice's printed labels live there).  This module reads those parts only:

* the ZIP's central directory is checked first with the office extractors' zip-bomb guards
  (:func:`office.check_zip`), and each part is read with a size cap;
* XML is parsed with defusedxml (no entity expansion, no external entities, no DTD tricks);
* text comes out in reading order: every ``TextCode`` is placed at its absolute position
  (the object's ``Boundary`` origin plus the code's ``X``/``Y``), codes on the same baseline
  (within half a glyph) form a line, lines run top to bottom and codes left to right;
* custom data (``发票号码: 99999951``) is appended to the text, so an invoice is found by its number.

Elements are matched by local name, so files that use a non-standard namespace (or none) read
the same.  Drawing paths and images carry no text and are skipped.
"""
from __future__ import annotations

import posixpath
import time
import zipfile
from pathlib import Path

from dangan.model import Extraction

from .office import check_zip
from .options import ExtractOptions, failed, finish

NAME = "ofd"
OFD_MIME = "application/ofd"
_MIMES = {OFD_MIME, "application/zip", "application/x-zip-compressed", "application/octet-stream"}
MAX_PART_BYTES = 64 * 1024 * 1024
_DOCINFO = {"Title": "title", "Author": "author", "Subject": "subject", "Abstract": "abstract",
            "CreationDate": "created", "ModDate": "modified", "Creator": "creator",
            "CreatorVersion": "creator_version", "DocID": "doc_id", "DocUsage": "usage"}


def is_ofd(path: Path) -> bool:
    """True when ``path`` is a ZIP with an ``OFD.xml`` at its root (the OFD container)."""
    try:
        with zipfile.ZipFile(path) as zf:
            return any(n.lstrip("/").lower() == "ofd.xml" for n in zf.namelist())
    except (zipfile.BadZipFile, OSError, ValueError):
        return False


def _local(tag: object) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


class _Package:
    """The ZIP's parts by normalised name, read with a size cap and parsed safely."""

    def __init__(self, zf: zipfile.ZipFile) -> None:
        self.zf = zf
        self.names = {n.lstrip("/").replace("\\", "/").lower(): n for n in zf.namelist()}

    def resolve(self, loc: str, base: str = "") -> str:
        loc = (loc or "").strip().replace("\\", "/")
        path = loc.lstrip("/") if loc.startswith("/") else posixpath.join(posixpath.dirname(base), loc)
        return posixpath.normpath(path).lstrip("/")

    def has(self, name: str) -> bool:
        return name.lower() in self.names

    def xml(self, name: str):
        from defusedxml.ElementTree import fromstring

        real = self.names.get(name.lower())
        if real is None:
            raise KeyError(f"{name} is missing from the OFD package")
        info = self.zf.getinfo(real)
        if info.file_size > MAX_PART_BYTES:
            raise ValueError(f"{name} is {info.file_size} bytes (limit {MAX_PART_BYTES})")
        with self.zf.open(info) as fh:
            data = fh.read(MAX_PART_BYTES + 1)
        if len(data) > MAX_PART_BYTES:
            raise ValueError(f"{name} expands past {MAX_PART_BYTES} bytes")
        return fromstring(data)


def _child(el, name: str):
    return next((c for c in el if _local(c.tag) == name), None)


def _children(el, name: str) -> list:
    return [c for c in el if _local(c.tag) == name]


def _floats(value: str | None) -> list[float]:
    out = []
    for part in (value or "").split():
        try:
            out.append(float(part))
        except ValueError:
            pass                 # DeltaX "g 14 3.175" abbreviations: only numbers matter here
    return out


def _codes(root) -> list[tuple[float, float, float, float, str]]:
    """(y, x, right edge, glyph size, text) of every TextCode under ``root``, at absolute positions."""
    out = []
    for obj in root.iter():
        if _local(obj.tag) != "TextObject":
            continue
        box = _floats(obj.get("Boundary")) + [0.0, 0.0, 0.0, 0.0]
        size = (_floats(obj.get("Size")) or [3.5])[0]
        for code in obj:
            if _local(code.tag) != "TextCode" or not (code.text or "").strip():
                continue
            x = box[0] + (_floats(code.get("X")) or [0.0])[0]
            y = box[1] + (_floats(code.get("Y")) or [0.0])[0]
            out.append((y, x, box[0] + box[2], size, code.text))
    return out


def reading_order(codes: list[tuple[float, float, float, float, str]]) -> str:
    """Codes grouped into lines (same baseline within half a glyph), top to bottom, left to right."""
    lines: list[list] = []
    for code in sorted(codes, key=lambda c: (c[0], c[1])):
        if lines and abs(code[0] - lines[-1][0][0]) <= max(code[3], lines[-1][0][3]) / 2:
            lines[-1].append(code)
        else:
            lines.append([code])
    out = []
    for line in lines:
        parts, right = [], None
        for y, x, edge, size, text in sorted(line, key=lambda c: c[1]):
            if right is not None and x - right > size:
                parts.append(" ")
            parts.append(text)
            right = max(edge, x)
        out.append("".join(parts).strip())
    return "\n".join(line for line in out if line)


def _templates(pkg: _Package, doc, doc_path: str) -> dict[str, str]:
    common = _child(doc, "CommonData")
    found = {}
    for tpl in _children(common, "TemplatePage") if common is not None else []:
        if tpl.get("ID") and tpl.get("BaseLoc"):
            found[tpl.get("ID")] = pkg.resolve(tpl.get("BaseLoc"), doc_path)
    return found


def _signatures(pkg: _Package, body, ofd_path: str) -> int:
    sig = _child(body, "Signatures")
    if sig is None or not (sig.text or "").strip():
        return 0
    name = pkg.resolve(sig.text, ofd_path)
    if not pkg.has(name):
        return 0
    return sum(1 for el in pkg.xml(name).iter() if _local(el.tag) == "Signature")


def _docinfo(body, meta: dict, custom: list[str]) -> None:
    info = _child(body, "DocInfo")
    if info is None:
        return
    for el in info:
        key = _local(el.tag)
        if key in _DOCINFO and (el.text or "").strip() and _DOCINFO[key] not in meta:
            meta[_DOCINFO[key]] = el.text.strip()
        elif key == "Keywords":
            words = [k.text.strip() for k in el if (k.text or "").strip()]
            if words:
                meta["keywords"] = "; ".join(words)
        elif key == "CustomDatas":
            for item in el:
                label, value = item.get("Name"), (item.text or "").strip()
                if label and value and len(custom) < 200:
                    meta[f"custom.{label}"] = value
                    custom.append(f"{label}: {value}")


def read_ofd(path: Path, options: ExtractOptions) -> tuple[str, dict]:
    started = time.monotonic()
    meta: dict = {"pages": 0, "signed": False}
    custom: list[str] = []
    pages_text: list[str] = []
    with zipfile.ZipFile(path) as zf:
        pkg = _Package(zf)
        root_name = next(n for n in pkg.names if n == "ofd.xml")
        ofd = pkg.xml(root_name)
        if ofd.get("Version"):
            meta["ofd_version"] = ofd.get("Version")
        signatures = 0
        for body in _children(ofd, "DocBody"):
            _docinfo(body, meta, custom)
            signatures += _signatures(pkg, body, root_name)
            doc_root = _child(body, "DocRoot")
            if doc_root is None or not (doc_root.text or "").strip():
                continue
            doc_path = pkg.resolve(doc_root.text, root_name)
            doc = pkg.xml(doc_path)
            templates = _templates(pkg, doc, doc_path)
            pages = _child(doc, "Pages")
            for page in _children(pages, "Page") if pages is not None else []:
                meta["pages"] += 1
                if meta["pages"] > options.max_pages or time.monotonic() - started > options.time_budget:
                    meta["truncated"] = True
                    continue                     # keep counting pages; read no more of them
                page_path = pkg.resolve(page.get("BaseLoc", ""), doc_path)
                if not pkg.has(page_path):
                    continue
                content = pkg.xml(page_path)
                codes = []
                for tpl in _children(content, "Template"):
                    tpl_path = templates.get(tpl.get("TemplateID", ""))
                    if tpl_path and pkg.has(tpl_path):
                        codes += _codes(pkg.xml(tpl_path))
                codes += _codes(content)
                pages_text.append(reading_order(codes))
        meta["signatures"] = signatures
        meta["signed"] = signatures > 0
    text = "\n\f\n".join(pages_text).strip("\n\f")
    if custom:
        text = (text + "\n\n" if text else "") + "\n".join(custom)
    return text, meta


def extract_ofd(path: Path, mime: str, options: ExtractOptions) -> Extraction | None:
    if mime not in _MIMES or (mime != OFD_MIME and not is_ofd(path)):
        return None
    refused = check_zip(path, options)
    if refused:
        return failed(NAME, refused)
    try:
        text, meta = read_ofd(path, options)
    except (KeyError, ValueError, TypeError, IndexError, zipfile.BadZipFile, OSError, SyntaxError,
            RecursionError, StopIteration) as exc:
        # defusedxml's refusals (DTDForbidden, EntitiesForbidden) are ValueErrors; ParseError a SyntaxError
        return failed(NAME, f"cannot read the OFD document ({type(exc).__name__}: {exc})"[:300])
    return finish(text, options, extractor=NAME, metadata=meta)
