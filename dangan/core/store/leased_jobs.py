"""``dangan worker``: extraction (OCR included) and index jobs shared by worker processes on any number of machines.

The jobs are the rows of ``extraction_queue`` (the records the watcher archived without extraction,
:mod:`.deferred`).  A worker *claims* one with a lease: ``claimed_by`` (``host:pid:uuid``) and ``lease_until``
(Unix seconds by the catalogue server's clock, :func:`..catalogue.leases.server_now`: a machine whose clock is
off neither takes a live job nor keeps a dead one alive), in a short transaction of its own — on PostgreSQL ``SELECT … FOR UPDATE SKIP LOCKED`` under
its row locks only (not the catalogue's write lock: claims on many machines do not queue behind each other), on
SQLite inside ``BEGIN IMMEDIATE``.  The work itself runs outside any transaction; the job is released by the
transaction that records its effect (the derivative version's, :func:`.deferred.add_derivative_text`, deletes
the row), or explicitly after a failure.

A killed worker's job is taken again once its lease has ended.  No job's effect happens twice: the version it
writes goes through the new-version protocol (:mod:`.new_version`), whose transaction checks under the write
lock that the record's head is still the one extracted from, so a second extraction of the same record is
refused there; a version the dead worker had published but not committed is settled first from its intent row
(:func:`.recovery.settle_intent`, adopted from the store, whose extraction result then makes the job a no-op).
Taking over a job counts as an attempt, so a file that kills every worker that touches it stops after
``deferred.MAX_ATTEMPTS``.

Between jobs a worker drains the index outbox into this machine's index (:func:`..search.indexing.drain`,
serialised locally by the drain lock).  The watcher's in-process :class:`.deferred.DeferredExtractor` is
unchanged; it leaves a job leased by a worker alone.  While a job runs, its lease is renewed
(:class:`LeaseKeeper`), so only a dead (or cut-off) worker's job is ever taken over.
"""
from __future__ import annotations

import logging
import os
import signal
import socket
import sqlite3
import threading
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Iterator

from dangan.errors import DanganError, LockTimeout, StorageFull, StoreUnavailable
from dangan.core.catalogue import db
from dangan.core.catalogue.connection import transaction
from dangan.core.kernel.clock import utc_text
from dangan.core.store.deferred import INTENT_SOURCE, MAX_ATTEMPTS, extract_queued

if TYPE_CHECKING:
    from dangan.core.archive import Archive

log = logging.getLogger("dangan.worker")

JOBS = ("extract", "index")
#: how long a claim holds a job; a worker dead longer than this has its job taken by another
LEASE_SECONDS = 600
#: the index outbox is drained after this many jobs, and whenever there is no job to take
DRAIN_EVERY = 20
#: a worker settles what dead processes left (recovery) this often, on any machine (leases say who is dead)
RECOVER_SECONDS = 10.0
#: Tests only: the worker kills itself (SIGKILL, as kill -9 would) right after claiming a job.
KILL_AFTER_CLAIM = "DANGAN_TEST_KILL_AFTER_CLAIM"


def worker_name() -> str:
    """``host:pid:uuid``: unique to this process even when pids are reused or hosts share a name."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:12]}"


@dataclass
class Claim:
    record_id: str
    previous: str | None          # the worker whose lease had ended (a take-over), or None


@dataclass
class Summary:
    worker: str
    extracted: int = 0
    skipped: int = 0
    gone: int = 0
    failed: int = 0
    postponed: int = 0
    taken_over: int = 0
    settled: int = 0
    indexed: int = 0
    errors: list[str] = field(default_factory=list)
    since_drain: int = 0             # jobs done since the index outbox was last drained

    def as_dict(self) -> dict:
        return {k: getattr(self, k) for k in ("worker", "extracted", "skipped", "gone", "failed", "postponed",
                                               "taken_over", "settled", "indexed", "errors")}


@contextmanager
def _claim_transaction(conn) -> Iterator:
    if db.dialect(conn) != "postgresql":
        with transaction(conn) as c:
            yield c
        return
    conn.execute("BEGIN")            # row locks only: claims need not wait for the catalogue's write lock
    try:
        yield conn
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


def claim(archive: Archive, worker: str, lease_seconds: float = LEASE_SECONDS) -> Claim | None:
    """Claim the oldest job nobody holds (or whose holder's lease has ended); None when there is none."""
    from dangan.core.catalogue.leases import server_now
    conn = archive.conn
    sql = ("SELECT record_id, claimed_by, lease_until FROM extraction_queue WHERE attempts < ?"
           " AND (lease_until IS NULL OR lease_until <= ?) ORDER BY queued, record_id LIMIT 1")
    if db.dialect(conn) == "postgresql":
        sql += " FOR UPDATE SKIP LOCKED"
    with _claim_transaction(conn) as c:
        now = server_now(c)
        row = c.execute(sql, (MAX_ATTEMPTS, now)).fetchone()
        if row is None:
            return None
        previous = row["claimed_by"] if row["lease_until"] is not None else None
        if previous:             # the holder died (or stalled): that try counts
            c.execute("UPDATE extraction_queue SET attempts = attempts + 1, last_error = ?, last_attempt = ?"
                      " WHERE record_id = ?", (f"the lease of worker {previous} ended", utc_text(), row["record_id"]))
        c.execute("UPDATE extraction_queue SET claimed_by = ?, lease_until = ? WHERE record_id = ?",
                  (worker, now + int(max(lease_seconds, 1)), row["record_id"]))
    if previous:
        still = conn.execute("SELECT attempts FROM extraction_queue WHERE record_id = ?", (row["record_id"],)).fetchone()
        if still is not None and still["attempts"] >= MAX_ATTEMPTS:      # given up: left for a person (dangan status)
            release(archive, row["record_id"], worker)
            return claim(archive, worker, lease_seconds)
    return Claim(row["record_id"], previous)


def release(archive: Archive, record_id: str, worker: str, failure: str | None = None) -> None:
    """Give a claimed job back (after a failure, ``failure`` counts as an attempt)."""
    with transaction(archive.conn) as conn:
        if failure is not None:
            conn.execute("UPDATE extraction_queue SET attempts = attempts + 1, last_error = ?, last_attempt = ?"
                         " WHERE record_id = ? AND claimed_by = ?", (failure[:500], utc_text(), record_id, worker))
        conn.execute("UPDATE extraction_queue SET claimed_by = NULL, lease_until = NULL"
                     " WHERE record_id = ? AND claimed_by = ?", (record_id, worker))


def waiting(archive: Archive) -> int:
    """Jobs still to be done: free, or held by a worker (they come back if its lease ends)."""
    return archive.conn.execute("SELECT count(*) FROM extraction_queue WHERE attempts < ?",
                                (MAX_ATTEMPTS,)).fetchone()[0]


def settle_dead_holder(archive: Archive, record_id: str) -> bool:
    """A taken-over job: settle the version its dead holder may have left between publish and commit.

    Only an intent of deferred extraction is settled (the job's lease says its worker is gone).  On SQLite a
    live pid on this host is left alone (a watcher's own extractor); on PostgreSQL the intent's own lease is
    taken over first (:mod:`..catalogue.leases`): a writer that still renews it, on any machine, is left alone."""
    from dangan.core.catalogue import leases
    from dangan.core.store.recovery import settle_intent
    from dangan.repository.fsutil import pid_alive
    conn = archive.conn
    row = conn.execute("SELECT pid, host, source FROM ingest_intents WHERE object_id = ?", (record_id,)).fetchone()
    if row is None or row["source"] != INTENT_SOURCE:
        return False
    if leases.applies(conn):
        if not leases.take_over(conn, "ingest", record_id):
            return False
        try:
            settle_intent(archive, record_id)
        finally:
            leases.release(conn, "ingest", record_id)
        return True
    if row["host"] == socket.gethostname() and pid_alive(row["pid"]):
        return False
    settle_intent(archive, record_id)
    return True


class LeaseKeeper:
    """Renews a held job's lease every third of it, from a catalogue connection of its own, while the work runs
    (an OCR of a long scan outlasts any fixed lease; a live worker's job is never taken over, so recovery never
    touches what a live writer is publishing).  A renewal that fails is logged and tried again."""

    def __init__(self, archive: Archive, record_id: str, worker: str, lease_seconds: float) -> None:
        self.url = archive.catalogue_url or archive.catalogue_path
        self.record_id, self.worker, self.lease_seconds = record_id, worker, max(lease_seconds, 1)
        self.renewals = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="dangan-lease", daemon=True)

    def __enter__(self) -> "LeaseKeeper":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        from dangan.core.catalogue import connection
        from dangan.core.catalogue.leases import server_now
        conn = None
        try:
            while not self._stop.wait(self.lease_seconds / 3):
                try:
                    conn = conn or connection.connect(self.url)
                    with _claim_transaction(conn) as c:
                        c.execute("UPDATE extraction_queue SET lease_until = ? WHERE record_id = ? AND claimed_by = ?",
                                  (server_now(c) + int(self.lease_seconds), self.record_id, self.worker))
                    self.renewals += 1
                except (DanganError, OSError, sqlite3.Error) as exc:
                    log.warning("record %s: renewing the lease failed (%s); trying again", self.record_id, exc)
        finally:
            if conn is not None:
                conn.close()


def work_one(archive: Archive, job: Claim, worker: str, summary: Summary,
             lease_seconds: float = LEASE_SECONDS) -> None:
    """Do one claimed job; its row leaves the queue in the transaction that records the extraction."""
    if job.previous:
        summary.taken_over += 1
        log.warning("record %s: the lease of worker %s ended; taking its job over", job.record_id, job.previous)
        if settle_dead_holder(archive, job.record_id):
            summary.settled += 1
    try:
        with LeaseKeeper(archive, job.record_id, worker, lease_seconds):
            outcome = extract_queued(archive, job.record_id)
    except (LockTimeout, StorageFull, StoreUnavailable) as exc:     # the catalogue or the store away: not its fault
        log.warning("extraction of record %s postponed: %s", job.record_id, exc.message)
        summary.postponed += 1
        release(archive, job.record_id, worker)
        return
    except DanganError as exc:
        log.error("extraction of record %s failed: %s", job.record_id, exc.message)
        summary.failed += 1
        summary.errors.append(f"{job.record_id}: {exc.message}")
        release(archive, job.record_id, worker, failure=exc.message)
        return
    setattr(summary, outcome, getattr(summary, outcome) + 1)
    log.info("record %s: %s", job.record_id, outcome)


def _drain(archive: Archive, summary: Summary) -> None:
    from dangan.core.search.indexing import drain
    from dangan.core.search.nodes import behind
    if behind(archive):
        summary.indexed += drain(archive, blocking=False)


def run(archive: Archive, *, jobs: tuple[str, ...] = JOBS, once: bool = False, lease_seconds: float = LEASE_SECONDS,
        idle_seconds: float = 2.0, stop: threading.Event | None = None, worker: str | None = None) -> Summary:
    """Take jobs until ``stop`` is set; with ``once``, until the queue holds nothing this worker could take (a job
    another worker holds is waited for: it is done by its holder, or taken over when its lease ends)."""
    unknown = set(jobs) - set(JOBS)
    if unknown or not jobs:
        raise DanganError(f"unknown job kind(s) {', '.join(sorted(unknown)) or '(none)'}: choose from {', '.join(JOBS)}")
    stop = stop or threading.Event()
    summary = Summary(worker or worker_name())
    next_recovery = 0.0
    while not stop.is_set():
        try:
            if time.monotonic() >= next_recovery:
                _recover(archive)
                next_recovery = time.monotonic() + RECOVER_SECONDS
            if _one_round(archive, jobs, once, lease_seconds, idle_seconds, stop, summary):
                break
        except (LockTimeout, StoreUnavailable, sqlite3.OperationalError) as exc:
            why = exc.message if isinstance(exc, DanganError) else str(exc)
            log.warning("the catalogue or the store is away (%s); trying again", why)   # a restart, a failover
            stop.wait(idle_seconds)
    return summary


def _recover(archive: Archive) -> None:
    """Settle what dead processes left (on a shared catalogue: any machine's, once its lease has ended)."""
    from dangan.core.store.recovery import recover_interrupted
    recover_interrupted(archive)


def _one_round(archive: Archive, jobs: tuple[str, ...], once: bool, lease_seconds: float, idle_seconds: float,
               stop: threading.Event, summary: Summary) -> bool:
    """One job (and now and then a drain), or a drain and a wait; True when ``once`` and nothing is left."""
    job = claim(archive, summary.worker, lease_seconds) if "extract" in jobs else None
    if job is not None:
        if os.environ.get(KILL_AFTER_CLAIM):
            os.kill(os.getpid(), signal.SIGKILL)        # tests: a worker killed while it holds a lease
        work_one(archive, job, summary.worker, summary, lease_seconds)
        summary.since_drain += 1
        if "index" in jobs and summary.since_drain >= DRAIN_EVERY:
            _drain(archive, summary)
            summary.since_drain = 0
        return False
    if "index" in jobs:
        _drain(archive, summary)
        summary.since_drain = 0
    if once and ("extract" not in jobs or not waiting(archive)):
        from dangan.core.search.nodes import behind
        if "index" not in jobs or not behind(archive):
            return True
    stop.wait(min(idle_seconds, 0.5) if once else idle_seconds)
    return False
