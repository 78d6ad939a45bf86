"""Ingest of many files: each file's outcome reported, one bad file never stops the batch."""
from __future__ import annotations

import os
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterable, Iterator

from ..errors import DanganError, DuplicateRecord, StorageFull
from .fields import RecordFields
from .ingest import IngestOutcome, Ingestor


def expand(paths: Iterable[Path]) -> Iterator[Path]:
    """Files named, and the files inside folders named (recursively, sorted, symlinked folders not followed)."""
    for p in paths:
        p = Path(p)
        if p.is_dir() and not p.is_symlink():
            for dirpath, dirnames, filenames in os.walk(p):
                dirnames.sort()
                for name in sorted(filenames):
                    yield Path(dirpath) / name
        else:
            yield p


def ingest_batch(archive, paths: Iterable[Path], fields: RecordFields, *, attachments: tuple[Path, ...] = (),
                 allow_duplicate: bool = False, on_outcome: Callable[[IngestOutcome], None] | None = None,
                 progress: bool = False, index: bool = True, jobs: int | None = None,
                 on_warning: Callable[[str], None] | None = None, create_volume: bool = True) -> list[IngestOutcome]:
    """Ingest files; ``jobs`` files are staged, hashed and extracted at once (default ``[ingest] jobs``,
    else 2), but committed strictly in the given order, so archival codes follow the input order."""
    from .recovery import recover_interrupted

    recover_interrupted(archive)
    files = list(expand(paths))
    jobs = max(1, int(jobs or archive.config.raw.get("ingest", {}).get("jobs", 2)))
    outcomes: list[IngestOutcome | None] = [None] * len(files)
    bar = None
    if progress and len(files) > 1:
        import sys

        import click
        bar = click.progressbar(length=len(files), label="archiving", file=sys.stderr)   # stdout keeps the lines
        bar.__enter__()
    turns = _Turns()
    stop = threading.Event()
    workers: list = []
    local = threading.local()

    def ingestor() -> Ingestor:
        if not hasattr(local, "ingestor"):
            from .archive import Archive
            from .pipeline import pipeline_for
            a = archive if not workers else Archive(archive.root, archive.actor, extra_plugins=archive.extra_plugins)
            workers.append(a)
            local.ingestor = Ingestor(a, allow_duplicate=allow_duplicate, create_volume=create_volume,
                                      **pipeline_for(a))
        return local.ingestor

    def run(k: int, path: Path) -> IngestOutcome | None:
        try:
            if stop.is_set():
                return None
            return _one(ingestor(), path, fields, attachments, gate=lambda: turns.turn(k))
        finally:
            turns.done(k)

    try:
        if jobs == 1 or len(files) < 2:
            results = (run(k, p) for k, p in enumerate(files))
        else:
            from concurrent.futures import ThreadPoolExecutor
            pool = ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="dangan-ingest")
            results = pool.map(run, range(len(files)), files)
        for k, outcome in enumerate(results):
            if outcome is None:
                continue
            outcomes[k] = outcome
            if bar:                           # the bar is cleared, the file's line printed, the bar redrawn below
                bar.file.write("\r\033[K")
                bar.file.flush()
            if on_outcome:
                on_outcome(outcome)
            if bar:
                bar.update(1)
            if outcome.status == "failed" and outcome.message.startswith("disk full"):
                stop.set()       # nothing more can be archived; the rest stay where they are
    finally:
        if jobs > 1 and len(files) >= 2:
            pool.shutdown(wait=True)
        if bar:
            bar.__exit__(None, None, None)
        for a in workers:
            if a is not archive:
                a.close()
    done = [o for o in outcomes if o is not None]
    if index and any(o.status == "archived" for o in done):
        from .indexing import drain
        try:
            drain(archive)          # searchable when the command returns
        except DanganError as exc:  # archived all the same; the updates stay queued for the next drain
            if on_warning:
                on_warning(f"archived, but not yet searchable: {exc.message}")
    return done


class _Turns:
    """Lets parallel ingests commit one at a time, in input order."""

    def __init__(self) -> None:
        self.next = 0
        self.cv = threading.Condition()

    @contextmanager
    def turn(self, k: int) -> Iterator[None]:
        with self.cv:
            self.cv.wait_for(lambda: self.next >= k)
        try:
            yield
        finally:
            self.done(k)

    def done(self, k: int) -> None:
        with self.cv:
            self.cv.wait_for(lambda: self.next >= k)
            if self.next == k:
                self.next = k + 1
                self.cv.notify_all()


def _one(ingestor: Ingestor, path: Path, fields: RecordFields, attachments: tuple[Path, ...],
         gate=None) -> IngestOutcome:
    try:
        rec = ingestor.ingest(path, fields, attachments, gate=gate)
    except DuplicateRecord as exc:
        return IngestOutcome(str(path), "duplicate", exc.existing_id, message=exc.message, exit_code=exc.exit_code)
    except StorageFull as exc:
        return IngestOutcome(str(path), "failed", message=exc.message, exit_code=exc.exit_code)
    except DanganError as exc:
        return IngestOutcome(str(path), "refused", message=exc.message if str(path) in exc.message
                             else f"{path}: {exc.message}", exit_code=exc.exit_code)
    note = ""
    if rec.status == "pending":
        from .approvals import pending_note
        note = pending_note(ingestor.archive, rec)
    return IngestOutcome(str(path), "archived", rec.id, rec.archival_code, message=note)
