"""Durable-write helpers: fsync files and directories, renames, translate OS errors.

Every rename the store and the keystore make goes through :func:`rename`, so
that a test can crash the process deterministically right after the N-th of
them: ``DANGAN_TEST_CRASH_AFTER=rename:N`` makes the N-th rename of the
process SIGKILL it the moment the rename returned (tests/test_destruction_crash*.py).
``commit:N`` does the same after the N-th destruction commit (core calls
``crash_point("commit")``), ``index:N`` after the N-th batch of index updates is applied
(``search.indexing.drain``).  Unset, the hook costs one environment lookup.
"""
from __future__ import annotations

import errno
import functools
import fcntl
import os
import signal
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from ..errors import AccessDenied, IntegrityError, StorageFull

CHUNK = 1024 * 1024
CRASH_ENV = "DANGAN_TEST_CRASH_AFTER"
_crash_points = 0


def rename(src, dst, *, replace: bool = False) -> None:
    """``os.rename`` (or ``os.replace``), then the test crash hook."""
    (os.replace if replace else os.rename)(src, dst)
    crash_point("rename")


def crash_point(kind: str) -> None:
    """Test hook: SIGKILL this process after its N-th ``kind`` when ``$DANGAN_TEST_CRASH_AFTER`` is ``kind:N``."""
    global _crash_points
    spec = os.environ.get(CRASH_ENV)
    if not spec:
        return
    want, _, n = spec.partition(":")
    if want != kind:
        return
    _crash_points += 1
    if str(_crash_points) == n.strip():
        os.kill(os.getpid(), signal.SIGKILL)


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
    rename(tmp, path, replace=True)
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


def rename_in(staged_root: Path, root: Path, rel: Path, *, durable: bool = True) -> int:
    """Move ``staged_root/rel`` to ``root/rel`` with one rename, never leaving an empty folder.

    The highest missing folder of ``rel`` is renamed in whole (tuple folders and
    object together); if a concurrent writer creates it first, the next level
    down is tried.  Returns how many folders of ``rel`` stay behind in ``staged_root`` (empty).
    """
    parts = rel.parts
    for i in range(len(parts)):
        dst = root.joinpath(*parts[:i + 1])
        if dst.exists():
            continue
        try:
            rename(staged_root.joinpath(*parts[:i + 1]), dst)
        except OSError as exc:
            if exc.errno in (errno.EEXIST, errno.ENOTEMPTY):
                continue
            raise
        if durable:
            fsync_dir(dst.parent)
        return i
    raise IntegrityError(f"object folder {rel} already exists")


def sync_filesystem(path: Path) -> None:
    """Make everything written to the filesystem holding ``path`` durable: ``syncfs(2)`` (Linux), else
    ``sync(2)``.  One call stands for the fsyncs of many files and folders (group commit)."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        syncfs = _syncfs()
        if syncfs is not None and syncfs(fd) == 0:
            return
    finally:
        os.close(fd)
    os.sync()


@functools.lru_cache(maxsize=1)
def _syncfs():
    """libc's ``syncfs``, or None (loaded on first use: ctypes is no import every command should pay)."""
    try:
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        fn = libc.syncfs
        fn.argtypes = [ctypes.c_int]
        return fn
    except (OSError, AttributeError):
        return None



def subdirs(path: Path) -> Iterator[Path]:
    try:
        with os.scandir(path) as it:
            for e in it:
                if e.is_dir(follow_symlinks=False):
                    yield Path(e.path)
    except FileNotFoundError:
        return


def prune_empty(path: Path) -> None:
    for dirpath, dirnames, filenames in os.walk(path, topdown=False):
        if not os.listdir(dirpath):
            os.rmdir(dirpath)


def fsync_tree(path: Path) -> None:
    for dirpath, _dirs, _files in os.walk(path, topdown=False):
        fsync_dir(Path(dirpath))


def process_start(pid: int) -> str | None:
    """When process ``pid`` started, in clock ticks since boot (``/proc/PID/stat``, Linux); None if unknown
    or gone.  Recorded beside a pid, it tells the process from a later one that got the same pid."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            stat = fh.read().decode(errors="replace")
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]


def pid_alive(pid: int, start: str | None = None) -> bool:
    """Is process ``pid`` alive (on this host)?  With ``start`` (its :func:`process_start` when the pid was
    recorded), a pid since taken by another process counts as gone.  A pid of 0 or less is never alive
    (``kill`` would ask about a whole process group)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass                          # alive, another user's
    if start is not None:
        now = process_start(pid)
        if now is not None and now != start:
            return False              # the pid was reused by another process
    return True


#: How often a lock with a ``timeout`` is tried again.
LOCK_POLL_SECONDS = 0.01


@contextmanager
def flocked(path: Path, *, wait: bool = True, timeout: float | None = None, shared: bool = False,
            mode: int = 0o666) -> Iterator[bool]:
    """A ``flock`` on ``path`` (created with ``mode``, less the umask, if missing) for the ``with`` block:
    exclusive, or ``shared``.  It yields True once held.  ``wait`` False: yields False at once when another
    holds it; ``timeout``: tries for that many seconds, then yields False.  The caller says what a False
    means (``LockTimeout`` naming the lock, or "busy, skip").  The lock goes when the block ends, or with
    the process however it dies."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, mode)
    try:
        kind = fcntl.LOCK_SH if shared else fcntl.LOCK_EX
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, kind | (fcntl.LOCK_NB if (not wait or deadline is not None) else 0))
                break
            except BlockingIOError:
                if deadline is None or time.monotonic() >= deadline:
                    yield False
                    return
                time.sleep(LOCK_POLL_SECONDS)
        try:
            yield True
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def lock_held(path: Path) -> bool:
    """Whether a process (this one included) holds an exclusive ``flock`` on ``path``; False when it does not exist."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False
