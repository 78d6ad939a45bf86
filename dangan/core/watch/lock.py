"""One watcher per archive: ``ARCHIVE/.work/watch.lock`` (flock) and ``watch.json`` (its state).

The lock is held for the watcher's life; the kernel drops it when the process
dies, however it dies.  ``watch.json`` says who holds it (pid, host, start)
and what it is doing (heartbeat, folders, files waiting, counts); it is
replaced atomically every few seconds.  ``dangan status`` tells a running
watcher (lock held) from a stale state file (lock free: the watcher died).
Names of files are never written there, only folders and counts.
"""
from __future__ import annotations

import json
import os
import socket
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from dangan.errors import LockTimeout
from dangan.repository.fsutil import flocked, lock_held as fs_lock_held

LOCK_NAME = "watch.lock"
STATE_NAME = "watch.json"


#: How long a starting watcher retries the lock before it says another watcher runs (a probe's instant, amply).
PROBE_SECONDS = 2.0


class WatcherLock:
    def __init__(self, root: Path) -> None:
        self.dir = Path(root) / ".work"
        self._hold: ExitStack | None = None
        self.started = time.time()
        self._last: dict[str, Any] = {}
        self.previous: dict[str, Any] | None = None

    def acquire(self) -> "WatcherLock":
        self.dir.mkdir(exist_ok=True)
        hold = ExitStack()
        # a probe (``lock_held``: `dangan status`, the dashboard) holds a shared lock for an instant; a watcher
        # starting at that instant must not take it for another watcher, so it tries for a moment
        if not hold.enter_context(flocked(self.dir / LOCK_NAME, timeout=PROBE_SECONDS)):
            hold.close()
            state = read_state(self.dir.parent) or {}
            raise LockTimeout(f"a watcher is already running on this archive (pid {state.get('pid', '?')} "
                              f"on {state.get('host', '?')})") from None
        self._hold = hold
        self.previous = read_state(self.dir.parent)      # the last watcher's state (it is dead: we hold the lock)
        return self

    def write_state(self, **state: Any) -> None:
        self._last.update(state)
        doc = {"pid": os.getpid(), "host": socket.gethostname(), "started": self.started,
               "heartbeat": time.time(), **self._last}
        tmp = self.dir / f".{STATE_NAME}.{os.getpid()}"
        tmp.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
        os.replace(tmp, self.dir / STATE_NAME)

    def release(self) -> None:
        if self._hold is None:
            return
        try:
            self.write_state(stopped=time.time())
        except OSError:
            pass
        self._hold.close()
        self._hold = None

    def __enter__(self) -> "WatcherLock":
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()


def read_state(root: Path) -> dict[str, Any] | None:
    try:
        return json.loads((Path(root) / ".work" / STATE_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def lock_held(root: Path) -> bool:
    """Whether a live process holds the watcher lock (on this machine's view of the file)."""
    return fs_lock_held(Path(root) / ".work" / LOCK_NAME)
