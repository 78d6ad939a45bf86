"""One operation at a time per backup repository: the lock file ``locks/repo``.

The lock holds the pid, the host, the process's start time (so a recycled
pid is not mistaken for the holder), the operation and when it began.  It is
taken with an exclusive create.  A lock whose process is gone **on this
host** is stale: it is broken with a log line on stderr.  A lock from
another host is never broken here — we cannot know whether that process is
alive; ``dangan backup unlock`` breaks it when a person says so.
"""
from __future__ import annotations

import json
import logging
import os
import socket
from contextlib import contextmanager
from typing import Iterator

from dangan.errors import LockTimeout, NotFound
from dangan.repository.backup.target import BackupTarget
from dangan.repository.backup.repo import utcnow
from dangan.repository.fsutil import pid_alive, process_start

LOCK = "locks/repo"
log = logging.getLogger("dangan.backup")


def read_lock(target: BackupTarget) -> dict | None:
    try:
        return json.loads(target.get(LOCK))
    except NotFound:
        return None
    except ValueError:                         # torn by hand or a foreign file: nobody can be alive behind it
        return {"pid": -1, "host": socket.gethostname(), "op": "?", "time": "?"}


def describe(holder: dict) -> str:
    return f"pid {holder.get('pid')} on {holder.get('host')} ({holder.get('op')} since {holder.get('time')})"


@contextmanager
def repository_lock(target: BackupTarget, op: str, *, warn=None) -> Iterator[dict]:
    """Hold the repository's lock for ``op``; raise LockTimeout (exit 9) if another holds it."""
    warn = warn or (lambda msg: log.warning(msg))
    pid = os.getpid()
    me = {"pid": pid, "host": socket.gethostname(), "start": process_start(pid), "op": op, "time": utcnow()}
    mine = json.dumps(me).encode()
    for _attempt in range(5):
        if target.create_exclusive(LOCK, mine):
            break
        holder = read_lock(target)
        if holder is None:
            continue                                   # released meanwhile: try again
        if holder.get("host") != me["host"]:
            raise LockTimeout(f"the backup repository {target.location} is locked by {describe(holder)}; "
                              "a lock held on another host is never broken automatically: if that process is "
                              "gone, run `dangan backup unlock`")
        if pid_alive(int(holder.get("pid", -1)), holder.get("start")):
            raise LockTimeout(f"the backup repository {target.location} is busy: locked by {describe(holder)}")
        warn(f"dangan: breaking the stale lock of {target.location}: {describe(holder)} is no longer running")
        if read_lock(target) == holder:
            target.delete(LOCK)
    else:
        raise LockTimeout(f"could not lock the backup repository {target.location}; try again")
    try:
        yield me
    finally:
        if read_lock(target) == json.loads(mine):
            target.delete(LOCK)


def break_lock(target: BackupTarget) -> dict | None:
    """Remove the lock whoever holds it (a person decided); returns the holder."""
    holder = read_lock(target)
    if holder is not None:
        target.delete(LOCK)
    return holder
