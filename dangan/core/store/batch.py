"""Ingest of many files: each file's outcome reported, one bad file never stops the batch."""
from __future__ import annotations

import logging
import os
import threading
from collections import deque
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable, Iterator

from dangan.errors import DanganError, DuplicateRecord, Infected, StorageFull, StoreUnavailable
from dangan.core.catalogue.fields import RecordFields
from dangan.core.store.ingest import IngestOutcome, Ingestor
from dangan.core.store.source_files import shown_name

if TYPE_CHECKING:
    from dangan.core.store.group_commit import Settled
    from dangan.core.kernel.progress import Progress
    from dangan.core.archive import Archive

log = logging.getLogger("dangan.ingest")

#: From this many files a batch applies its index updates while it goes on (``batch_indexing``).
BACKGROUND_DRAIN_FILES = 1000


@dataclass(frozen=True)
class Source:
    """One file of a batch: whether a symbolic link may be followed to reach it, or why it is refused."""

    path: Path
    follow: bool = False
    refusal: str | None = None
    beneath: Path | None = None          # the folder named: no symlinked sub-folder is walked through


def expand(paths: Iterable[Path], *, follow_symlinks: bool = False) -> Iterator[Source]:
    """Files named, and the files inside folders named (recursively, sorted, symlinked folders not followed).

    A file named on the command line is taken even through a symbolic link (the user named it).
    Inside a folder, a symbolic link is followed only when it stays inside that folder, or
    with ``follow_symlinks``; one that leaves it is refused, so a link planted in a shared
    folder (``x.txt -> /etc/shadow``) is never archived by accident."""
    for p in paths:
        p = Path(p)
        if p.is_dir() and not p.is_symlink():
            top = p.resolve()
            for dirpath, dirnames, filenames in os.walk(p):
                dirnames.sort()
                for name in sorted(filenames):
                    f = Path(dirpath) / name
                    if not f.is_symlink():
                        yield Source(f, beneath=p)
                    elif follow_symlinks or f.resolve().is_relative_to(top):
                        yield Source(f, follow=True)
                    else:
                        yield Source(f, refusal=f"{shown_name(f)}: a symbolic link to a file outside "
                                                f"{shown_name(p)}: not followed (--follow-symlinks archives it)")
        else:
            yield Source(p, follow=True)



def ingest_batch(archive: Archive, paths: Iterable[Path], fields: RecordFields, *, attachments: tuple[Path, ...] = (),
                 allow_duplicate: bool = False, on_outcome: Callable[[IngestOutcome], None] | None = None,
                 progress: Progress | None = None, index: bool = True, jobs: int | None = None,
                 on_warning: Callable[[str], None] | None = None, create_volume: bool = True,
                 follow_symlinks: bool = False,
                 fields_for: Callable[[Path], RecordFields] | None = None) -> list[IngestOutcome]:
    """Ingest files; ``jobs`` files are staged, hashed and extracted at once (default ``[ingest] jobs``,
    else 2), but committed strictly in the given order, so archival codes follow the input order.
    ``fields_for`` gives each file its own fields (a manifest's row) instead of ``fields``."""
    from dangan.core.policy.users import acting_user
    from dangan.core.store.recovery import recover_interrupted
    acting_user(archive, action="ingest")      # once users are registered, only they may archive

    from dangan.core.catalogue.audit_anchor import require_intact
    require_intact(archive)                 # a broken audit trail: refused before the first file
    recover_interrupted(archive)
    files = list(expand(paths, follow_symlinks=follow_symlinks))
    jobs = max(1, int(jobs or archive.config.raw.get("ingest", {}).get("jobs", 2)))
    analyser = _analyser(archive, len(files), jobs)
    if analyser is not None:
        jobs += analyser_workers(archive)     # threads waiting on the workers: enough to keep them busy
    outcomes: list[IngestOutcome | None] = [None] * len(files)
    reported = [0]
    group = None
    if len(files) > 1:       # group commit (store/group_commit): many files, few syncs (on a bucket: their
        # requests overlapped, repository/ocfl_s3_group)
        from dangan.core.store.group_commit import CommitGroup
        group = CommitGroup(archive)
    background = None
    if index and group is not None and len(files) >= BACKGROUND_DRAIN_FILES:
        from dangan.core.store.batch_indexing import BackgroundDrain
        background = BackgroundDrain(archive)     # the index kept up while the batch goes on
    bar = progress if len(files) > 1 else None
    if bar:
        bar.start(len(files))
    turns = _Turns()
    stop = threading.Event()
    workers: list = []
    local = threading.local()

    def ingestor() -> Ingestor:
        if not hasattr(local, "ingestor"):
            from dangan.core.archive import Archive
            from dangan.core.kernel.pipeline import pipeline_for
            a = archive if not workers else Archive(archive.root, archive.actor, extra_plugins=archive.extra_plugins)
            workers.append(a)
            local.ingestor = Ingestor(a, allow_duplicate=allow_duplicate, on_warning=on_warning,
                                      create_volume=create_volume, group=group, **pipeline_for(a))
            local.ingestor.analyser = analyser
        return local.ingestor

    def run(k: int, source: Source) -> tuple[IngestOutcome, Settled | None, Ingestor | None] | None:
        try:
            if stop.is_set():
                return None
            if source.refusal:
                return IngestOutcome(shown_name(source.path), "refused", message=source.refusal), None, None
            one = ingestor()
            outcome = _one(one, source, fields_for(source.path) if fields_for else fields, attachments,
                           gate=lambda: turns.turn(k))
            return outcome, (group.take(outcome.record_id) if group and outcome.record_id else None), one
        finally:
            turns.done(k)
            if group is not None and k == len(files) - 1:
                group.flush()                 # every earlier file has had its turn: the last group commits

    def report(outcome: IngestOutcome, waiting: Settled | None, one: Ingestor | None) -> None:
        if waiting is not None and waiting.error is not None and one is not None:
            outcome = _failure(one, Path(outcome.source), outcome.source, waiting.error)
        elif waiting is not None and waiting.record is not None:
            outcome.archival_code = waiting.record.archival_code      # given when its group was committed
        outcomes[reported[0]] = outcome
        reported[0] += 1
        if bar:                           # the bar is cleared, the file's line printed, the bar redrawn below
            bar.before_output()
        if on_outcome:
            on_outcome(outcome)
            for part in outcome.parts:    # a batch scan's documents, each on its own line
                on_outcome(part)
        if bar:
            bar.advance(1)
        if background is not None and reported[0] % 64 == 0:
            background.poke()
        if outcome.status == "failed" and (outcome.message.startswith("disk full")
                                           or outcome.exit_code == StoreUnavailable.exit_code):
            stop.set()       # nothing more can be archived (full disk, S3 out of reach); the rest stay where they are

    try:
        if jobs == 1 or len(files) < 2:
            results: Iterator[tuple[IngestOutcome, Settled | None, Ingestor | None] | None] = (
                run(k, p) for k, p in enumerate(files))
        else:
            from concurrent.futures import ThreadPoolExecutor
            pool = ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="dangan-ingest")
            results = pool.map(run, range(len(files)), files)
        queue: deque[tuple[IngestOutcome, Settled | None, Ingestor | None]] = deque()
        for result in results:
            if result is None:
                continue
            queue.append(result)
            while queue and (queue[0][1] is None or queue[0][1].done.is_set()):   # in input order, once committed
                report(*queue.popleft())
        if group is not None:
            group.flush()
        while queue:
            report(*queue.popleft())
    finally:
        if jobs > 1 and len(files) >= 2:
            pool.shutdown(wait=True)
        if group is not None:
            group.close()
        if analyser is not None:
            analyser.close()
        if background is not None:
            background.close()
        if bar:
            bar.finish()
        for a in workers:
            if a is not archive:
                a.close()
    done = [x for o in outcomes if o is not None for x in (o, *o.parts)]
    if index:
        _drain_at_end(archive, done, on_warning)
    return done


def _drain_at_end(archive: Archive, done: list[IngestOutcome], on_warning: Callable[[str], None] | None) -> None:
    """Searchable when the command returns; a killed run's updates, still queued when every file comes back
    as a duplicate, are applied too."""
    from dangan.core.search.indexing import drain, pending
    if any(o.status == "archived" for o in done) or pending(archive):
        try:
            drain(archive)          # searchable when the command returns
        except DanganError as exc:  # archived all the same; the updates stay queued for the next drain
            if on_warning:
                on_warning(f"archived, but not yet searchable: {exc.message}")


def analyser_workers(archive: Archive) -> int:
    """``[ingest] workers``: content-analysis processes for a large batch (default: one a core; 0: none)."""
    n = archive.config.raw.get("ingest", {}).get("workers")
    return max(0, int(n)) if n is not None else (os.cpu_count() or 1)


def _analyser(archive: Archive, n_files: int, jobs: int):
    """Worker processes for the staged files' MIME type, PRONOM format and plain text (``store/analysis``),
    for a batch large enough to pay for starting them; None to analyse in the staging threads."""
    from dangan.core.store.analysis import MIN_FILES
    workers = analyser_workers(archive)
    if workers < 1 or jobs < 2 or n_files < MIN_FILES:
        return None
    from dangan.core.kernel.pipeline import extraction_mode
    return archive.analyser(workers, text=extraction_mode(archive.config) != "workers")


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


def _one(ingestor: Ingestor, source: Source, fields: RecordFields, attachments: tuple[Path, ...],
         gate=None) -> IngestOutcome:
    from dangan.core.store.scan_batch import ingest_scan
    path, shown = source.path, shown_name(source.path)
    try:
        scan = ingest_scan(ingestor, path, fields, attachments, gate=gate, follow_symlinks=source.follow,
                           beneath=source.beneath)
        rec = scan.record
    except Exception as exc:  # noqa: BLE001 - a bug met by one file must not stop the batch (invariant 9)
        return _failure(ingestor, path, shown, exc)
    note = ""
    if rec.status == "pending":
        from dangan.core.management.approvals import pending_note
        note = pending_note(ingestor.archive, rec)
    if scan.note:
        note = "; ".join(filter(None, [note, scan.note]))
    outcome = IngestOutcome(shown, "archived", rec.id, rec.archival_code, message=note,
                            extraction_queued=rec.id in ingestor.queued)
    for p in scan.parts:
        label = f"{shown} [part {p.number}/{len(scan.parts)}, pages {p.part.page_range()}]"
        if p.record is not None:
            outcome.parts.append(IngestOutcome(label, "archived", p.record.id, p.record.archival_code,
                                               extraction_queued=p.record.id in ingestor.queued))
        elif p.error is not None:
            outcome.parts.append(IngestOutcome(label, "refused", message=f"{label}: {p.error.message}; its pages "
                                               f"stay in the batch record {rec.id}", exit_code=p.error.exit_code))
    if scan.parts:
        outcome.message = "; ".join(filter(None, [outcome.message, f"a batch scan: split into {len(scan.parts)} "
                                                  f"record(s) at its separator sheets"]))
    return outcome


def _failure(ingestor: Ingestor, path: Path, shown: str, exc: BaseException) -> IngestOutcome:
    """The outcome of a file that was not archived, from what refused or failed it (while staging it, or
    when its group was committed)."""
    if isinstance(exc, DuplicateRecord):
        return IngestOutcome(shown, "duplicate", exc.existing_id, message=exc.message, exit_code=exc.exit_code)
    if isinstance(exc, StorageFull):
        return IngestOutcome(shown, "failed", message=exc.message, exit_code=exc.exit_code)
    if isinstance(exc, StoreUnavailable):     # the S3 service out of reach: the file stays where it was
        return IngestOutcome(shown, "failed", message=exc.message if shown in exc.message
                             else f"{shown}: {exc.message}", exit_code=exc.exit_code)
    if isinstance(exc, Infected):            # moved out of the user's way, beside its reason; never archived
        from dangan.core.store.antivirus import quarantine
        where = quarantine(ingestor.archive.root, exc.path or path, exc.message)
        note = f" (moved to {shown_name(where)})" if where else " (it could not be moved to quarantine/: remove it)"
        return IngestOutcome(shown, "refused", message=exc.message + note, exit_code=exc.exit_code)
    if isinstance(exc, DanganError):
        return IngestOutcome(shown, "refused", message=exc.message if shown in exc.message
                             else f"{shown}: {exc.message}", exit_code=exc.exit_code)
    log.error("%s: unexpected error", shown, exc_info=exc)
    return IngestOutcome(shown, "failed", message=f"{shown}: not archived: unexpected error "
                         f"({type(exc).__name__}: {shown_name(str(exc))})")
