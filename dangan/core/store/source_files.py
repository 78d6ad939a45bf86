"""Files handed to the archive, opened defensively: hostile drops and odd names are refused, not followed.

A file to archive is checked and read through **one descriptor**:

- ``lstat`` first: a symbolic link is refused unless the caller asked to follow
  it; a FIFO, socket or device is refused before anything opens it (opening a
  FIFO blocks until a writer appears);
- ``open(O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_NOCTTY)``, then ``fstat`` the
  descriptor: it must be a regular file, and the same one ``lstat`` saw (a
  file swapped in between is refused);
- everything after that — hashing, copying, MIME detection, extraction of a
  sealed record — reads that descriptor (``SourceFile.fh``, ``head()``,
  ``proc_path``), never the name again, so a symlink planted after the check
  cannot redirect the copy.

Size: files over ``[ingest] max_file_mb`` (default 20480, i.e. 20 GiB) are
refused; a sparse file (far less on disk than its length) gets a warning,
because the archive will store every byte of its length.

Names: a file name that is not valid UTF-8 is kept as *escaped text*
(``caf\\xe9.txt``): that is what the catalogue, the store and every message
show.  Titles taken from file names lose control and bidirectional-override
characters.
"""
from __future__ import annotations

import errno
import os
import re
import stat
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from dangan.errors import FileRefused, SymlinkedFolder

DEFAULT_MAX_FILE_MB = 20480
#: A file is reported as sparse when less than this share of its length is allocated on disk.
SPARSE_RATIO = 0.5
SPARSE_MIN_BYTES = 1024 * 1024
NAME_MAX = 255
MAX_TITLE = 1000

#: Characters that reorder or hide text on a terminal (bidi embeddings, overrides, isolates, marks).
BIDI_CONTROLS = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(m: re.Match) -> str:
    c = m.group()
    o = ord(c)
    if c in _NAMED:
        return _NAMED[c]
    if 0xDC80 <= o <= 0xDCFF:                   # a byte of a file name that was not UTF-8 (surrogateescape)
        return f"\\x{o - 0xDC00:02x}"
    return f"\\x{o:02x}" if o < 0x100 else f"\\u{o:04x}"


def escape_text(s: str) -> str:
    """``s`` as it may be printed or logged: control, bidi and undecodable characters escaped
    (``\\n``, ``\\x1b``, ``\\u202e``, ``\\xe9``), so a name cannot fake a line or reorder one."""
    return _UNSAFE.sub(_escape, s) if _UNSAFE.search(s) else s


def shown_name(name: str | os.PathLike) -> str:
    """A file name or path as text: bytes that are not UTF-8 become ``\\xNN`` (never lone surrogates)."""
    return os.fsencode(name).decode("utf-8", "backslashreplace")


def restored_name(text: str) -> str:
    """The file name ``shown_name`` escaped, as the OS name it came from (``\\xNN`` back to the byte),
    so ``dangan get`` gives a file back under the bytes it arrived with; other text is left alone."""
    if "\\x" not in text:
        return text
    raw = re.sub(r"\\x([89a-f][0-9a-f])", lambda m: chr(0xDC00 + int(m.group(1), 16)), text)
    return raw if shown_name(os.fsdecode(os.fsencode(raw))) == text else text


def title_from_name(name: str) -> str:
    """A record title from a file name: its stem, without control or bidi characters, never empty."""
    stem = Path(shown_name(name)).stem or shown_name(name)
    cleaned = "".join(" " if unicodedata.category(c) == "Cc" or c in BIDI_CONTROLS else c
                      for c in unicodedata.normalize("NFC", stem))
    cleaned = re.sub(r"\s+", " ", cleaned).strip()[:MAX_TITLE]
    return cleaned or "_"


def fit_name(name: str, limit: int = NAME_MAX) -> str:
    """``name`` shortened (stem cut, a hash added, extension kept) so that it takes at most ``limit`` bytes."""
    if len(os.fsencode(name)) <= limit:
        return name
    import hashlib
    digest = hashlib.sha256(os.fsencode(name)).hexdigest()[:12]
    stem, dot, ext = name.rpartition(".")
    if not dot or not stem or len(ext.encode("utf-8", "surrogateescape")) > 32:
        stem, dot, ext = name, "", ""
    room = limit - len(f"-{digest}{dot}{ext}".encode())
    cut = stem.encode("utf-8", "surrogateescape")[:max(room, 0)].decode("utf-8", "ignore")
    return f"{cut}-{digest}{dot}{ext}"


def max_file_bytes(config) -> int | None:
    """``[ingest] max_file_mb`` in bytes (0 or a negative value: no limit)."""
    from dangan.errors import UsageError
    raw = (config.raw.get("ingest") or {}).get("max_file_mb", DEFAULT_MAX_FILE_MB)
    try:
        mb = float(raw)
    except (TypeError, ValueError):
        raise UsageError(f"dangan.toml: [ingest] max_file_mb must be a number of megabytes, not {raw!r}") from None
    return int(mb * 1024 * 1024) if mb > 0 else None


def is_sparse(st: os.stat_result) -> bool:
    return st.st_size >= SPARSE_MIN_BYTES and st.st_blocks * 512 < st.st_size * SPARSE_RATIO


def _mb(n: int) -> str:
    return f"{n / (1024 * 1024):,.1f} MB"


@dataclass
class SourceFile:
    """A file opened for archiving: its descriptor, and what ``fstat`` said of it."""

    path: Path
    fh: BinaryIO
    st: os.stat_result

    @property
    def name(self) -> str:
        return shown_name(self.path.name)

    @property
    def proc_path(self) -> Path:
        """A name for this very descriptor, for a helper process (the extraction worker) to open."""
        return Path(f"/proc/{os.getpid()}/fd/{self.fh.fileno()}")

    def head(self, n: int) -> bytes:
        """The first ``n`` bytes, read without moving the descriptor's position."""
        return os.pread(self.fh.fileno(), n, 0)

    def sparse_warning(self) -> str | None:
        if not is_sparse(self.st):
            return None
        return (f"{shown_name(self.path)} is a sparse file: {_mb(self.st.st_size)} long but only "
                f"{_mb(self.st.st_blocks * 512)} on disk; the archive stores all {_mb(self.st.st_size)}")

    def close(self) -> None:
        self.fh.close()

    def __enter__(self) -> "SourceFile":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def open_source(path: Path, *, follow_symlinks: bool = False, max_bytes: int | None = None,
                beneath: Path | None = None) -> SourceFile:
    """Open ``path`` for archiving (see the module's docstring); ``FileRefused`` says why not.

    With ``beneath`` (a drop folder), ``path`` must lie inside it and no folder between the
    two may be a symbolic link either: each is opened with ``O_NOFOLLOW`` relative to the one
    above, so a sub-folder swapped for a link to ``/etc`` after the scan is not walked through."""
    path = Path(path)
    shown = shown_name(path)
    parent_fd = open_folder_beneath(path, beneath) if beneath is not None else None
    target: str | Path = path.name if parent_fd is not None else path
    try:
        try:
            lst = os.stat(target, dir_fd=parent_fd, follow_symlinks=False)
        except FileNotFoundError:
            raise FileRefused(f"{shown}: no such file") from None
        except OSError as exc:
            raise FileRefused(f"{shown}: cannot read ({exc.strerror})") from None
        if stat.S_ISLNK(lst.st_mode) and not follow_symlinks:
            raise FileRefused(f"{shown}: a symbolic link: not followed (archive the file itself)")
        if not stat.S_ISLNK(lst.st_mode):
            _require_regular(lst, shown)
        flags = os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | getattr(os, "O_CLOEXEC", 0)
        if not follow_symlinks:
            flags |= os.O_NOFOLLOW
        try:
            fd = os.open(target, flags, dir_fd=parent_fd)
        except FileNotFoundError:
            raise FileRefused(f"{shown}: no such file") from None
        except IsADirectoryError:
            raise FileRefused(f"{shown}: is a folder") from None
        except PermissionError:
            raise FileRefused(f"{shown}: permission denied") from None
        except OSError as exc:
            if exc.errno == errno.ELOOP and not follow_symlinks:
                raise FileRefused(f"{shown}: a symbolic link: not followed (archive the file itself)") from None
            raise FileRefused(f"{shown}: cannot open ({exc.strerror})") from None
    finally:
        if parent_fd is not None:
            os.close(parent_fd)
    try:
        st = os.fstat(fd)
        _require_regular(st, shown)
        if not stat.S_ISLNK(lst.st_mode) and (st.st_dev, st.st_ino) != (lst.st_dev, lst.st_ino):
            raise FileRefused(f"{shown}: the file was replaced while it was being opened; try again")
        if st.st_size == 0:
            raise FileRefused(f"{shown}: empty file (0 bytes): nothing to archive")
        if max_bytes is not None and st.st_size > max_bytes:
            raise FileRefused(f"{shown}: too large ({_mb(st.st_size)}; the limit is {_mb(max_bytes)}, "
                              f"[ingest] max_file_mb in dangan.toml)"
                              + (f"; it is a sparse file, only {_mb(st.st_blocks * 512)} on disk"
                                 if is_sparse(st) else ""))
        os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return SourceFile(path, os.fdopen(fd, "rb"), st)


def open_folder_beneath(path: Path, root: Path) -> int:
    """A descriptor of ``path``'s folder, reached from ``root`` without following any symbolic link
    (``SymlinkedFolder`` if one is met); the caller closes it."""
    shown = shown_name(path)
    try:
        rel = Path(path).relative_to(root)
    except ValueError:
        raise FileRefused(f"{shown}: not inside {shown_name(root)}") from None
    if not rel.parts or any(part in ("..", ".") for part in rel.parts):
        raise FileRefused(f"{shown}: not a file inside {shown_name(root)}")
    dir_flags = os.O_RDONLY | os.O_DIRECTORY | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(root, dir_flags)
    except OSError as exc:
        raise FileRefused(f"{shown}: cannot open its folder ({exc.strerror})") from None
    try:
        for part in rel.parts[:-1]:
            try:
                nxt = os.open(part, dir_flags | os.O_NOFOLLOW, dir_fd=fd)
            except OSError as exc:
                if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                    raise SymlinkedFolder(f"{shown}: its folder {shown_name(part)} is a symbolic link: "
                                      f"not followed") from None
                raise FileRefused(f"{shown}: cannot open its folder ({exc.strerror})") from None
            os.close(fd)
            fd = nxt
    except BaseException:
        os.close(fd)
        raise
    return fd


def _require_regular(st: os.stat_result, shown: str) -> None:
    mode = st.st_mode
    if stat.S_ISREG(mode):
        return
    if stat.S_ISDIR(mode):
        raise FileRefused(f"{shown}: is a folder")
    kind = ("a named pipe (FIFO)" if stat.S_ISFIFO(mode) else "a socket" if stat.S_ISSOCK(mode)
            else "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else "an unknown kind")
    raise FileRefused(f"{shown}: not a regular file ({kind}): only regular files are archived")
