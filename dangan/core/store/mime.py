"""MIME types by content (libmagic), compared with what the extension claims.

libmagic calls an OFD file (GB/T 33190) ``application/zip``; a ZIP whose root holds ``OFD.xml`` is
reported as ``application/ofd`` instead, and ``.ofd`` names map to it.
"""
from __future__ import annotations

import mimetypes
import zipfile
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

# Content types libmagic reports generically for formats the extension refines.
_GENERIC = {"application/octet-stream", "text/plain", "application/zip", "application/x-empty",
            "application/cdfv2", "application/x-ole-storage"}
_EQUIVALENT = {
    ("audio/x-wav", "audio/wav"), ("audio/wav", "audio/x-wav"), ("image/jp2", "image/jpx"),
    ("application/x-bzip2", "application/x-bzip"), ("audio/x-m4a", "audio/mp4"), ("audio/mp4", "audio/x-m4a"),
    ("video/x-ms-asf", "audio/x-ms-wma"), ("text/x-c", "text/plain"), ("message/rfc822", "text/plain"),
    ("text/html", "text/plain"), ("text/csv", "text/plain"), ("text/markdown", "text/plain"),
    ("application/xml", "text/xml"), ("text/xml", "application/xml"), ("audio/flac", "audio/x-flac"),
    ("audio/x-flac", "audio/flac"), ("audio/mpeg", "audio/mp3"), ("image/heic", "image/heif"),
    ("image/heif", "image/heic"),
}


OFD = "application/ofd"
mimetypes.add_type(OFD, ".ofd", strict=False)


@lru_cache(maxsize=1)
def _magic():
    with _libmagic_by_soname():
        import magic
    return magic.Magic(mime=True)


@contextmanager
def _libmagic_by_soname():
    """python-magic finds libmagic with ``ctypes.util.find_library``, which runs ``ldconfig -p`` (twice: its
    module and its compat module): two processes started by every ``dangan ingest``.  While it is
    imported, the lookup of ``magic`` answers libmagic's soname when that loads; anything else (or no
    such library) is looked up as usual."""
    import ctypes
    import ctypes.util
    original = ctypes.util.find_library

    def find(name: str):
        if name == "magic":
            try:
                ctypes.CDLL("libmagic.so.1")
                return "libmagic.so.1"
            except OSError:
                pass
        return original(name)

    ctypes.util.find_library = find
    try:
        yield
    finally:
        ctypes.util.find_library = original


def by_content(path: Path) -> str:
    try:
        found = _magic().from_file(str(path)) or "application/octet-stream"
    except Exception:  # libmagic refuses some files; content type is then unknown, not an error
        return "application/octet-stream"
    return OFD if found == "application/zip" and _is_ofd(path) else found


def _is_ofd(path: Path) -> bool:
    """A ZIP with ``OFD.xml`` at its root (only the central directory is read)."""
    try:
        with zipfile.ZipFile(path) as zf:
            return any(n.lstrip("/").lower() == "ofd.xml" for n in zf.namelist())
    except (zipfile.BadZipFile, OSError, ValueError):
        return False


def by_bytes(data: bytes) -> str:
    """The content type of a file's first bytes (a sealed record's source, read through its descriptor)."""
    try:
        return _magic().from_buffer(data) or "application/octet-stream"
    except Exception:  # as in by_content: unknown, not an error
        return "application/octet-stream"


def by_extension(name: str) -> str | None:
    return mimetypes.guess_type(name, strict=False)[0]


def mismatch(content: str, extension: str | None) -> bool:
    """True when the content is recognisably something other than the extension says."""
    if extension is None or content == extension or content in _GENERIC:
        return False
    if (content, extension) in _EQUIVALENT or (extension, content) in _EQUIVALENT:
        return False
    return True
