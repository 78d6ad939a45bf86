"""Job leases by the catalogue server's clock (issue 17.5): machines whose clocks are off share one queue safely.

On PostgreSQL a job's ``lease_until`` is written and compared in the server's Unix seconds, never the worker
machine's ``time.time()``.  Here a worker's clock is set a day ahead or a day behind (``time.time`` patched in
this process, as a machine with a wrong clock would read it): a clock ahead neither takes a job another worker
holds nor, renewing its own, keeps it alive past its lease once it dies; a clock behind writes leases that hold
against the others and still takes over a job whose holder's lease has ended.
"""
from __future__ import annotations

import time

import pytest

from dangan.core.archive import Archive
from dangan.core.catalogue.leases import server_now
from dangan.core.kernel.actor import Actor
from dangan.core.store import deferred, leased_jobs
from worker_helpers import catalogue, queue_jobs

DAY = 86400


@pytest.fixture
def catalogue_backend() -> str:
    return "postgresql"


@pytest.fixture
def archive(archive_root):
    a = Archive(archive_root, Actor("tester", "tester"))
    yield a
    a.close()


def clock_off_by(monkeypatch, seconds: float) -> None:
    """This process's clock (every thread's) reads ``seconds`` off; the catalogue server's is right."""
    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() + seconds)


def lease_left(root) -> int:
    """Seconds left of the one held job's lease, by the catalogue server's clock."""
    a = Archive(root, Actor("tester", "tester"))
    try:
        (until,) = a.conn.execute("SELECT lease_until FROM extraction_queue WHERE claimed_by IS NOT NULL").fetchone()
        return int(until) - server_now(a.conn)
    finally:
        a.close()


def taken_when_ended(archive: Archive, worker: str, deadline_s: float = 120) -> leased_jobs.Claim | None:
    """Claim as ``worker`` until a job is free (a lease ends), or None at the deadline."""
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        job = leased_jobs.claim(archive, worker, lease_seconds=600)
        if job is not None:
            return job
        time.sleep(0.2)
    return None


def test_a_clock_a_day_ahead_never_takes_a_live_job(archive_root, tmp_path, archive, monkeypatch):
    (rid,) = queue_jobs(archive_root, tmp_path, 1)
    held = leased_jobs.claim(archive, "right:1:live", lease_seconds=600)
    assert held is not None and held.record_id == rid
    clock_off_by(monkeypatch, DAY)          # by its own clock the live lease ended hours ago
    assert leased_jobs.claim(archive, "ahead:2:skewed", lease_seconds=600) is None
    assert deferred.next_batch(archive) == []                 # nor does that machine's watcher extractor take it
    assert catalogue(archive_root, "SELECT claimed_by, attempts FROM extraction_queue") == [("right:1:live", 0)]


def test_a_clock_a_day_ahead_does_not_keep_a_dead_job_alive(archive_root, tmp_path, archive, monkeypatch):
    (rid,) = queue_jobs(archive_root, tmp_path, 1)
    with monkeypatch.context() as skewed:
        clock_off_by(skewed, DAY)
        job = leased_jobs.claim(archive, "ahead:1:skewed", lease_seconds=3)
        assert job is not None and job.record_id == rid
        assert 0 < lease_left(archive_root) <= 3               # by the server's clock, not a day from now
        with leased_jobs.LeaseKeeper(archive, rid, "ahead:1:skewed", 3) as keeper:   # renewed while it works
            deadline = time.monotonic() + 120
            while keeper.renewals < 2 and time.monotonic() < deadline:
                time.sleep(0.1)
            assert keeper.renewals >= 2
            assert 0 < lease_left(archive_root) <= 3
    # the skewed worker is gone (no more renewals): another machine, its clock right, takes the job once it ends
    taken = taken_when_ended(archive, "right:2:next")
    assert taken is not None and (taken.record_id, taken.previous) == (rid, "ahead:1:skewed")
    assert catalogue(archive_root, "SELECT claimed_by, attempts FROM extraction_queue") == [("right:2:next", 1)]


def test_a_clock_a_day_behind_writes_leases_that_hold_and_takes_over_ended_ones(archive_root, tmp_path, archive,
                                                                                 monkeypatch):
    ids = queue_jobs(archive_root, tmp_path, 2)
    right = Archive(archive_root, Actor("tester", "tester"))
    try:
        dying = leased_jobs.claim(right, "right:1:dying", lease_seconds=1)     # its holder dies at once
        assert dying is not None
        clock_off_by(monkeypatch, -DAY)
        mine = leased_jobs.claim(archive, "behind:2:skewed", lease_seconds=600)
        assert mine is not None and mine.record_id != dying.record_id
        # its lease holds for ten minutes by the server's clock (by its own it would have ended a day ago)
        assert leased_jobs.claim(right, "right:3:other", lease_seconds=600) is None
        # and the dead holder's job, whose lease has ended by the server's clock, is taken over by it
        taken = taken_when_ended(archive, "behind:2:skewed")
        assert taken is not None and (taken.record_id, taken.previous) == (dying.record_id, "right:1:dying")
    finally:
        right.close()
    rows = catalogue(archive_root, "SELECT record_id, claimed_by FROM extraction_queue ORDER BY record_id")
    assert rows == sorted((rid, "behind:2:skewed") for rid in ids)
