"""Transient folders for plaintext, named after their process, and the sweep of those a dead process left.

A batch scan's parts, a sealed record's OCRmyPDF work and a web upload live for a moment in a
memory-backed folder (``/dev/shm``: confidential plaintext never touches a disk).  A process killed
with -9 cannot remove its folder, and a memory filesystem keeps it until the machine restarts -- a
secret scan's pages left lying in RAM, readable by the archive's own account.  So each such folder is
named ``dangan-KIND-PID-START-random`` (``START``: the process's start time, so a reused pid does not
protect a dead process's folder), and crash recovery (:func:`sweep_dead`, called by
``recovery.recover_interrupted``) removes every folder of that shape whose process is gone, in the
memory folder and in the ordinary temporary folder.  Only this user's folders are touched.
"""
from __future__ import annotations

import os
import re
import shutil
import tempfile
from pathlib import Path

from dangan.repository.fsutil import pid_alive, process_start

DEFAULT_MEMORY_DIR = "/dev/shm"
KINDS = ("parts", "resume", "pdfa", "upload")
_NAME = re.compile(r"^dangan-(?:%s)-(\d+)-(\d+)-" % "|".join(KINDS))


def memory_dir() -> Path | None:
    """A memory-backed folder for transient plaintext (``$DANGAN_MEMORY_TMP``, default /dev/shm), or None."""
    where = Path(os.environ.get("DANGAN_MEMORY_TMP", DEFAULT_MEMORY_DIR))
    try:
        if where.is_dir() and os.access(where, os.W_OK | os.X_OK):
            return where
    except OSError:
        pass
    return None


def prefix(kind: str) -> str:
    """The name prefix of this process's transient folders of ``kind`` (one of :data:`KINDS`)."""
    assert kind in KINDS, kind
    return f"dangan-{kind}-{os.getpid()}-{process_start(os.getpid()) or 0}-"


def folder(kind: str, where: Path | str | None) -> tempfile.TemporaryDirectory:
    """A ``TemporaryDirectory`` in ``where`` (None: the ordinary temporary folder) that :func:`sweep_dead`
    can attribute to this process."""
    return tempfile.TemporaryDirectory(prefix=prefix(kind), dir=where)


def sweep_dead() -> int:
    """Remove the transient folders of processes that are gone; returns how many were removed."""
    removed = 0
    places = {p for p in (memory_dir(), Path(tempfile.gettempdir())) if p is not None}
    uid = os.geteuid()
    for place in places:
        try:
            entries = list(os.scandir(place))
        except OSError:
            continue
        for entry in entries:
            m = _NAME.match(entry.name)
            if m is None:
                continue
            try:
                if not entry.is_dir(follow_symlinks=False) or entry.stat(follow_symlinks=False).st_uid != uid:
                    continue
            except OSError:
                continue
            pid, start = int(m.group(1)), m.group(2)
            if pid_alive(pid, None if start == "0" else start):
                continue
            shutil.rmtree(entry.path, ignore_errors=True)
            removed += not os.path.lexists(entry.path)
    return removed
