"""Durable-write helpers: fsync files and directories, translate OS errors."""
from __future__ import annotations

import errno
import os
from pathlib import Path

from ..errors import AccessDenied, StorageFull

CHUNK = 1024 * 1024


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_durable(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` (a new file) and fsync it."""
    with open(path, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def replace_durable(path: Path, data: bytes) -> None:
    """Atomically replace ``path`` with ``data``: temp file, fsync, rename, fsync dir."""
    tmp = path.with_name(path.name + ".tmp")
    write_durable(tmp, data)
    os.replace(tmp, path)
    fsync_dir(path.parent)


def makedirs_durable(path: Path, stop: Path) -> None:
    """Create ``path`` and its missing parents up to ``stop``, fsyncing each new entry."""
    missing = []
    p = path
    while not p.exists():
        missing.append(p)
        if p == stop or p.parent == p:
            break
        p = p.parent
    for d in reversed(missing):
        d.mkdir(exist_ok=True)
        fsync_dir(d.parent)


def translate_oserror(exc: OSError, what: str) -> Exception:
    """Turn a low-level OSError into a domain error with one clear line."""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return StorageFull(f"disk full while {what}: nothing was archived; free space and retry")
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return AccessDenied(f"permission denied while {what}: {exc.filename or ''}".rstrip(": "))
    return exc
