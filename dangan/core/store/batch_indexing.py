"""A large batch's index updates applied while it goes on, by a thread of their own.

``ingest_batch`` used to apply the whole batch's index outbox at the end: for 10,000 small files that
is reading each record back from the store, tokenising its text and committing the index twenty
times, after the last file, with the rest of the machine idle.  A :class:`BackgroundDrain` applies the
outbox (``search.indexing.drain``, the same code, its drain lock, ``indexing.BATCH`` rows a commit)
each time a batch's worth of committed records is waiting, while the staging and committing threads
go on; the end of the batch drains what is left as before.  Nothing changes for a crash: the outbox
rows stay until the index has committed them, and a record indexed twice is replaced, not doubled.
"""
from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dangan.core.archive import Archive

log = logging.getLogger("dangan.ingest")


class BackgroundDrain:
    """Drains the index outbox of ``archive`` (through an archive object of its own) when poked."""

    def __init__(self, archive: Archive) -> None:
        self.archive = type(archive)(archive.root, archive.actor, extra_plugins=archive.extra_plugins)
        self._wake = threading.Event()
        self._stop = False
        self._thread = threading.Thread(target=self._loop, name="dangan-index", daemon=True)
        self._thread.start()

    def poke(self) -> None:
        """Committed records are waiting: drain if a batch's worth of them is."""
        self._wake.set()

    def _loop(self) -> None:
        from dangan.errors import DanganError
        from dangan.core.search.indexing import BATCH, drain, pending
        while True:
            self._wake.wait()
            self._wake.clear()
            closing = self._stop                # closing: the full batches waiting still go, the rest is the caller's
            try:
                while pending(self.archive) >= BATCH:
                    if not drain(self.archive, blocking=False, limit=BATCH):
                        break                    # another process holds the drain lock: it applies them
            except DanganError as exc:          # the end of the batch drains again, and says so if it fails
                log.warning("index updates during the batch stopped: %s", exc.message)
                return
            if closing:
                return

    def close(self) -> None:
        """Stop once the full batches already waiting are applied (the caller drains the rest)."""
        self._stop = True
        self._wake.set()
        self._thread.join()
        self.archive.close()
