"""PRONOM format identification with fido (``opf-fido``): a PUID and format name for a stored file.

fido is the Open Preservation Foundation's identifier over the UK National Archives' PRONOM registry
(the signatures DROID uses).  It runs here in-process: its signature files (about 2,000 formats) are
loaded once per process (:func:`identifier`, about a second) and then each file costs its 128 KB head
and tail matched against them, plus, for a ZIP or OLE2 container (docx, xlsx, odt, OFD…), a look at
the named parts inside.  The answer's ``basis`` says how it was found: ``signature`` (bytes),
``container`` (parts of a ZIP/OLE2 file), ``extension`` (no signature matched; the name alone, weak),
or ``none``.  Several equally good matches are reported as the first (fido's priority order), with the
others in ``alternatives``.

What fido does not know, dangan adds: an OFD file (GB/T 33190) has no PRONOM entry yet, and is
reported with dangan's local identifier ``dangan/ofd`` (basis ``container``) when its ZIP has
``OFD.xml`` at the root.

A ZIP whose parts would inflate past :data:`MAX_CONTAINER_BYTES` is matched on its bytes only
(fido reads container parts whole).  Identification never raises: a file fido cannot read is
``basis="none"`` with the reason in ``note``.
"""
from __future__ import annotations

import contextlib
import io
import os
import threading
import types
import zipfile
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

MAX_CONTAINER_BYTES = 256 * 1024 * 1024
OFD_PUID = "dangan/ofd"
OFD_NAME = "Open Fixed-layout Document (OFD, GB/T 33190)"
_LOCK = threading.Lock()             # a Fido instance keeps per-file state: one identification at a time


@dataclass
class FormatId:
    puid: str | None
    name: str = ""
    basis: str = "none"              # signature, container, extension, none
    version: str | None = None
    mime: str | None = None
    alternatives: list[str] = field(default_factory=list)
    note: str = ""

    def to_dict(self) -> dict:
        return dict(self.__dict__)


def fido_modules():
    """fido's ``fido`` module and its ``get_local_versions`` (imported without ``requests``)."""
    import sys
    stand_in = None
    if "requests" not in sys.modules:     # fido.versions imports it for signature updates, never asked for here
        stand_in = sys.modules["requests"] = _OnDemand("requests")
    try:
        from fido import fido as fido_mod
        from fido.versions import get_local_versions
    finally:
        if stand_in is not None and sys.modules.get("requests") is stand_in:
            del sys.modules["requests"]
    return fido_mod, get_local_versions


@lru_cache(maxsize=1)
def identifier():
    """The process's fido, signatures loaded once (PRONOM and fido's extensions, container signatures)."""
    fido_mod, get_local_versions = fido_modules()
    versions = get_local_versions()
    files = [versions.pronom_signature, versions.fido_extension_signature]
    instance = fido_mod.Fido(quiet=True, format_files=files, handle_matches=lambda *a, **k: None)
    instance.dangan_container_file = os.path.join(fido_mod.CONFIG_DIR, versions.pronom_container_signature)
    instance.dangan_containers = {}
    instance.dangan_pronom_version = versions.pronom_version
    from dangan.core.store.pronom_match import CompiledSignatures
    instance.dangan_compiled = CompiledSignatures(instance)      # fido's matching without its per-file XML walk
    return instance


class _OnDemand(types.ModuleType):
    """Stands in for a module while fido is imported; the real module is imported if an attribute is used."""

    def __getattr__(self, attr: str):
        import importlib
        return getattr(importlib.import_module(self.__name__), attr)


def _container_signatures(fido, kind: str) -> dict:
    """fido's ZIP or OLE2 container signatures, parsed on the first container file (then kept)."""
    if kind not in fido.dangan_containers:
        from xml.etree import ElementTree as ET
        doc = ET.parse(fido.dangan_container_file)
        for k in ("ZIP", "OLE2"):
            fido.dangan_containers[k] = fido.extract_signatures(doc, signature_type=k)
    return fido.dangan_containers[kind]


def pronom_version() -> str:
    return str(identifier().dangan_pronom_version)


def _describe(fido, matches: list, basis: str) -> FormatId:
    first = matches[0][0]
    version = first.find("version")
    mime = first.find("mime")
    return FormatId(puid=fido.get_puid(first), name=first.findtext("name") or "", basis=basis,
                    version=version.text if version is not None else None,
                    mime=mime.text if mime is not None else None,
                    alternatives=[fido.get_puid(f) for f, _ in matches[1:6]])


def _zip_inflates_too_far(path: Path) -> bool:
    try:
        with zipfile.ZipFile(path) as zf:
            return sum(i.file_size for i in zf.infolist()) > MAX_CONTAINER_BYTES
    except (zipfile.BadZipFile, OSError, ValueError):
        return False


def _is_ofd(path: Path) -> bool:
    try:
        with zipfile.ZipFile(path) as zf:
            return any(n.lstrip("/").lower() == "ofd.xml" for n in zf.namelist())
    except (zipfile.BadZipFile, OSError, ValueError):
        return False


def identify(path: Path, name: str | None = None) -> FormatId:
    """The PRONOM format of the file at ``path`` (``name``: its original name, for the extension fallback).

    Matched against the cached signature table (``pronom_table``: fido's XML is not parsed); a ZIP or
    OLE2 container, whose parts fido reads, is identified by fido itself (:func:`_identify_with_fido`)."""
    path = Path(path)
    name = name or path.name
    try:
        from dangan.core.store.pronom_table import signature_table
        table = signature_table()
        with open(path, "rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            if size == 0:
                return FormatId(None, basis="none", note="empty file")
            bof = fh.read(table.bufsize)                  # fido's get_buffers: head and tail, seekable
            if size <= len(bof):
                eof = bof
            elif size - len(bof) < table.bufsize:
                eof = bof[size - len(bof):] + fh.read(size - len(bof))
            else:
                fh.seek(size - table.bufsize)
                eof = fh.read(table.bufsize)
        matches = table.match_formats(bof, eof)
        if table.container_type(matches) in ("zip", "ole"):
            return _identify_with_fido(path, name)
        if matches:
            return _describe_rows(matches, "signature")
        by_name = table.match_extensions(name)
        if by_name:
            return _describe_rows(by_name, "extension")
        return FormatId(None, basis="none", note="no PRONOM signature matched")
    except Exception as exc:  # noqa: BLE001 - identification is advisory: a file it cannot read is reported, not fatal
        return FormatId(None, basis="none", note=f"identification failed: {type(exc).__name__}: {exc}"[:200])


def _describe_rows(matches: list, basis: str) -> FormatId:
    first = matches[0][0]
    return FormatId(puid=first.puid, name=first.name, basis=basis, version=first.version, mime=first.mime,
                    alternatives=[row.puid for row, _ in matches[1:6]])


def _identify_with_fido(path: Path, name: str) -> FormatId:
    """:func:`identify` by fido loaded in full (its ElementTree, container signatures): ZIP and OLE2 files."""
    from fido.package import OlePackage, ZipPackage
    try:
        fido = identifier()
        with _LOCK, contextlib.redirect_stderr(io.StringIO()), open(path, "rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            fido.current_file, fido.current_filesize = str(path), size
            if size == 0:
                return FormatId(None, basis="none", note="empty file")
            bof, eof, _ = fido.get_buffers(fh, size, seekable=True)
            matches = fido.dangan_compiled.match_formats(bof, eof)
            kind = fido.container_type(matches)
            note = ""
            if kind == "zip" and _is_ofd(path):
                return FormatId(OFD_PUID, OFD_NAME, "container", mime="application/ofd",
                                alternatives=[fido.get_puid(f) for f, _ in matches[:3]])
            if kind in ("zip", "ole"):
                if kind == "zip" and _zip_inflates_too_far(path):
                    note = f"container parts not read (they inflate past {MAX_CONTAINER_BYTES} bytes)"
                else:
                    klass, sig = (ZipPackage, "ZIP") if kind == "zip" else (OlePackage, "OLE2")
                    puids = klass(str(path), _container_signatures(fido, sig)).detect_formats()
                    inner = [(fido.puid_format_map[p], "") for p in dict.fromkeys(puids) if p in fido.puid_format_map]
                    if inner:
                        return _describe(fido, inner, "container")
            if matches:
                found = _describe(fido, matches, "signature")
                found.note = note
                return found
            by_name = fido.dangan_compiled.match_extensions(name)
            if by_name:
                return _describe(fido, by_name, "extension")
            return FormatId(None, basis="none", note="no PRONOM signature matched")
    except Exception as exc:  # noqa: BLE001 - identification is advisory: a file it cannot read is reported, not fatal
        return FormatId(None, basis="none", note=f"identification failed: {type(exc).__name__}: {exc}"[:200])


# -- the format policy ([formats] in dangan.toml) ------------------------------------------------------

#: Preservation formats when ``[formats] preservation`` is not set: the long-term formats of GB/T 18894 and
#: DA/T 47 that PRONOM names (PDF/A, OFD, TIFF, JPEG, JPEG 2000, PNG, plain text, XML, WAV, FLAC, MP3, MP4,
#: Matroska).  A file in any other format (or not identified) is "at risk" in the usability check.
DEFAULT_PRESERVATION = (
    "fmt/95", "fmt/354", "fmt/476", "fmt/477", "fmt/478", "fmt/479", "fmt/480", "fmt/481",      # PDF/A-1a…3u
    OFD_PUID,
    "fmt/353", "fmt/7", "fmt/8", "fmt/9", "fmt/10",                                             # TIFF
    "fmt/42", "fmt/43", "fmt/44", "fmt/645", "x-fmt/390", "x-fmt/391", "x-fmt/398",            # JPEG (JFIF, Exif)
    "x-fmt/392",                                                                                # JPEG 2000 (JP2)
    "fmt/11", "fmt/12", "fmt/13",                                                               # PNG
    "x-fmt/111", "fmt/101",                                                                     # text, XML
    "fmt/6", "fmt/141", "fmt/142", "fmt/143", "fmt/1", "fmt/2", "fmt/527",                      # WAV, BWF
    "fmt/279", "fmt/134", "fmt/199", "fmt/569",                                                 # FLAC MP3 MP4 MKV
)


def identify_enabled(config) -> bool:
    """``[formats] identify`` (default true)."""
    return bool(config.raw.get("formats", {}).get("identify", True))


def preservation_puids(config) -> frozenset[str]:
    """``[formats] preservation``: the PUIDs the archive keeps for the long term."""
    return frozenset(config.raw.get("formats", {}).get("preservation", DEFAULT_PRESERVATION))


def identify_entry(entry, path: Path, name: str) -> None:
    """Set a :class:`~dangan.model.RecordFile`'s ``puid``, ``format_name`` and ``format_basis`` from ``path``."""
    set_entry(entry, identify(path, name))


def set_entry(entry, found: FormatId) -> None:
    """Set a :class:`~dangan.model.RecordFile`'s format fields from an identification."""
    entry.puid, entry.format_name, entry.format_basis = found.puid, found.name or None, found.basis


def at_risk(puid: str | None, preservation: frozenset[str]) -> str:
    """Why a file in format ``puid`` is at risk ('' when it is in a preservation format)."""
    if not puid:
        return "format not identified"
    return "" if puid in preservation else "not a preservation format"
