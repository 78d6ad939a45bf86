"""The keystore's file: canonical JSON with a SHA-256 checksum, atomic 0600 writes, a lock.

The file is one JSON object; its member ``sha256`` is the hex SHA-256 of the
canonical encoding (sorted keys, no spaces, ASCII) of all the other members.
The checksum is unkeyed on purpose: it must be checkable without a secret
(records are filed into a locked volume, and ``open`` needs no passphrase).
It catches accidental corruption; tampering with wrapped keys is caught by
the AEAD of each wrapped key, which also binds the archive, volume and
record ids (see ``keystore_wrap``).  Whoever can write the file can always
delete keys; no MAC could prevent that.
"""
from __future__ import annotations

import hashlib
import json
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ..errors import IntegrityError, LockTimeout, NotFound
from .fsutil import flocked, rename

FORMAT = "dangan-keystore/1"
LOCK_TIMEOUT = 60.0


def canonical(body: dict[str, Any]) -> bytes:
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode("ascii")


def encode(doc: dict[str, Any]) -> bytes:
    body = {k: v for k, v in doc.items() if k != "sha256"}
    full = dict(body, sha256=hashlib.sha256(canonical(body)).hexdigest())
    return json.dumps(full, sort_keys=True, indent=1, ensure_ascii=True).encode("ascii") + b"\n"


def decode(raw: bytes, where: Path) -> dict[str, Any]:
    """Parse and verify; IntegrityError on anything but an intact keystore."""
    try:
        doc = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise IntegrityError(f"keystore at {where} is damaged (not valid JSON): restore it from a copy") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT or not isinstance(doc.get("sha256"), str):
        raise IntegrityError(f"keystore at {where} is damaged or not a dangan keystore ({FORMAT})")
    body = {k: v for k, v in doc.items() if k != "sha256"}
    if hashlib.sha256(canonical(body)).hexdigest() != doc["sha256"]:
        raise IntegrityError(f"keystore at {where} is damaged or was edited (checksum mismatch): restore it from a copy")
    return doc


Stamp = tuple[int, int, int, int]


def _stamp_of(st: os.stat_result) -> Stamp:
    return (st.st_ino, st.st_mtime_ns, st.st_ctime_ns, st.st_size)


def stamp(path: Path) -> Stamp:
    """What tells a reader the file was replaced (each save is a new inode)."""
    return _stamp_of(path.stat())


def read(path: Path) -> tuple[dict[str, Any], Stamp]:
    try:
        with open(path, "rb") as fh:
            st = os.fstat(fh.fileno())
            raw = fh.read()
    except FileNotFoundError:
        raise NotFound(f"no keystore at {path}: create a volume or set $DANGAN_KEYSTORE") from None
    return decode(raw, path), _stamp_of(st)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path: Path, data: bytes) -> None:
    """Replace ``path`` by ``data``: 0600 temp file, fsync, rename, fsync the directory.

    There is deliberately no ``.bak``: an old copy of the keystore would keep
    keys that crypto-shredding removed.
    """
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        try:
            os.fchmod(fd, 0o600)
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        finally:
            os.close(fd)
        rename(tmp, path, replace=True)           # (the crash-window test hook counts it)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    _fsync_dir(path.parent)


@contextmanager
def locked(path: Path, timeout: float = LOCK_TIMEOUT) -> Iterator[None]:
    """An exclusive ``flock`` on ``<keystore>.lock`` (the keystore itself is replaced by rename)."""
    lock = path.with_name(path.name + ".lock")
    with flocked(lock, timeout=timeout, mode=0o600) as held:
        if not held:
            raise LockTimeout(f"keystore at {path} is busy (another process holds {lock.name})")
        yield
