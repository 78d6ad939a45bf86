"""A staged file's content analysis in worker processes: MIME type, PRONOM format, plain text.

``dangan ingest`` of many small files (issue 15, third pass) spent half of each staging thread's time in
three steps that depend only on the staged file's bytes: libmagic, PRONOM matching and the in-process
text extraction of plain-text-like files.  In threads they share one interpreter lock; an
:class:`Analyser` runs them in a pool of processes of their own while the batch's threads stage, hash
and commit, so a batch uses both cores.  The answers are the ones the parent would have found
(:func:`analyse` calls the same functions); a worker only reads the staged copy (nothing is written, so
"archived exactly once or not at all" is the parent's business as before), and a worker that dies is
no error: that file and the rest are analysed in the parent.

Workers are spawned (fresh interpreters, dangan's own children), die with dangan (their own process
group, ``lifeline.die_with``) and have the extraction worker's memory limit.  Sealed records are never handed over: their staged copies are ciphertext.
"""
from __future__ import annotations

import logging
import os
import resource
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dangan.model import Extraction

if TYPE_CHECKING:
    from concurrent.futures import ProcessPoolExecutor

log = logging.getLogger("dangan.ingest")

#: A batch smaller than this is analysed in the parent (starting the workers costs more than it saves).
MIN_FILES = 128


@dataclass
class Analysis:
    mime: str
    found: Any = None                   # pronom.FormatId, or None when identification is off
    extraction: Extraction | None = None  # plain text extracted here, or None: the parent extracts as usual


def analyse(path: str, name: str, identify: bool, extractor: Any, options: Any) -> Analysis:
    """What the parent's ``Ingestor`` would find for the staged file at ``path`` (``name``: its original name)."""
    from dangan.core.store import mime as mimes
    from dangan.core.store.extraction import INPROCESS_MAX_BYTES, INPROCESS_MIMES
    p = Path(path)
    content = mimes.by_content(p)
    found = None
    if identify:
        from dangan.core.store import pronom
        found = pronom.identify(p, name)
    extraction = None
    if extractor is not None and content in INPROCESS_MIMES and p.stat().st_size <= INPROCESS_MAX_BYTES:
        extraction = extractor(p, content, options)      # as ExtractionWorker.extract does in-process
    return Analysis(content, found, extraction)


def _start_worker(owner_pid: int, memory_mb: int) -> None:
    from dangan.lifeline import die_with, die_with_parent
    os.setsid()
    die_with_parent(os.getppid())
    die_with(owner_pid)
    limit = memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


class Analyser:
    """A pool of ``workers`` analysis processes; call it from any thread, one file at a time per thread."""

    def __init__(self, workers: int, *, extractor: Any = None, options: Any = None, memory_mb: int = 1024) -> None:
        # imported here, not at the top: a batch smaller than MIN_FILES (a one-file ``dangan ingest``) reads
        # MIN_FILES and never starts a pool, so it need not load concurrent.futures.process and multiprocessing
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor
        self.extractor = extractor          # a picklable PluginExtractor (the archive's), or None: no text here
        self.options = options
        self._pool: ProcessPoolExecutor | None = ProcessPoolExecutor(
            # spawn, not the forkserver: the workers are dangan's own children, reaped by it, so their CPU
            # time is counted with dangan's (``time dangan ingest``), and a fresh interpreter holds no locks
            max_workers=max(1, workers), mp_context=multiprocessing.get_context("spawn"), initializer=_start_worker,
            initargs=(os.getpid(), memory_mb))

    def __call__(self, path: Path, name: str, identify: bool) -> Analysis | None:
        """The staged file's analysis, or None when the pool is gone (the caller analyses it itself)."""
        from concurrent.futures.process import BrokenProcessPool   # loaded by __init__ already
        pool = self._pool
        if pool is None:
            return None
        try:
            return pool.submit(analyse, str(path), name, identify, self.extractor, self.options).result()
        except BrokenProcessPool as exc:
            log.warning("content analysis in worker processes stopped (%s): the parent analyses the rest", exc)
            self._pool = None
            return None
        except Exception:  # noqa: BLE001 - shut down, or this file's own trouble: the parent analyses it as before
            return None

    def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
