"""The job queue under concurrent claimers (issue 17.5): ``FOR UPDATE SKIP LOCKED`` on PostgreSQL.

A claimer whose claim transaction is still open (held inside it, after its row is locked and updated) does not
make a second claimer wait: the second gets another job at once — it returns while the first transaction is
demonstrably open (its update not yet visible to a third connection).  Then many claimers, each on a connection
of its own, started together, take every job exactly once between them.
"""
from __future__ import annotations

import threading

import pytest

from dangan.core.archive import Archive
from dangan.core.kernel.actor import Actor
from dangan.core.store import leased_jobs
from worker_helpers import catalogue, queue_jobs

#: a bound on every wait, so a broken queue fails the test instead of hanging it (never a timed assertion)
PATIENCE = 120


@pytest.fixture
def catalogue_backend() -> str:
    return "postgresql"


def opened(root) -> Archive:
    return Archive(root, Actor("tester", "tester"))


def test_a_second_claimer_takes_another_job_while_the_first_claim_is_still_open(archive_root, tmp_path):
    ids = queue_jobs(archive_root, tmp_path, 3)
    first, second = opened(archive_root), opened(archive_root)
    locked, release, second_done = threading.Event(), threading.Event(), threading.Event()
    conn = first.conn
    plain_execute = conn.execute

    def held_open(sql, *args, **kw):
        cur = plain_execute(sql, *args, **kw)
        if sql.startswith("UPDATE extraction_queue SET claimed_by"):    # its row locked and written, not committed
            locked.set()
            release.wait(PATIENCE)
        return cur

    conn.execute = held_open  # type: ignore[method-assign]
    claims: dict[str, leased_jobs.Claim | None] = {}
    errors: list[BaseException] = []

    def claim_as(name: str, archive: Archive, done: threading.Event | None = None) -> None:
        try:
            claims[name] = leased_jobs.claim(archive, name, lease_seconds=600)
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)
        finally:
            if done is not None:
                done.set()

    t1 = threading.Thread(target=claim_as, args=("host:1:first", first))
    t2 = threading.Thread(target=claim_as, args=("host:2:second", second, second_done))
    try:
        t1.start()
        assert locked.wait(PATIENCE), errors
        t2.start()
        assert second_done.wait(PATIENCE), "the second claimer waited for the first one's row lock"
        assert not errors, errors
        assert t1.is_alive() and not release.is_set()                 # the first claim's transaction is open:
        assert catalogue(archive_root, "SELECT count(*) FROM extraction_queue WHERE claimed_by = ?",
                         "host:1:first") == [(0,)]                      # its update is not visible yet
        got = claims["host:2:second"]
        assert got is not None and got.previous is None
    finally:
        release.set()
        t1.join(PATIENCE)
        t2.join(PATIENCE)
        conn.execute = plain_execute  # type: ignore[method-assign]
        first.close()
        second.close()
    assert not errors, errors
    one, two = claims["host:1:first"], claims["host:2:second"]
    assert one is not None and two is not None and one.record_id != two.record_id
    assert {one.record_id, two.record_id} <= set(ids)
    assert sorted(catalogue(archive_root, "SELECT record_id, claimed_by FROM extraction_queue WHERE claimed_by"
                                          " IS NOT NULL")) == sorted([(one.record_id, "host:1:first"),
                                                                      (two.record_id, "host:2:second")])


@pytest.mark.parametrize("catalogue_backend", ["postgresql", "sqlite"])
def test_many_claimers_at_once_never_claim_one_job_twice(archive_root, tmp_path):
    claimers, jobs = 6, 30
    ids = queue_jobs(archive_root, tmp_path, jobs)
    start = threading.Barrier(claimers)
    taken: dict[str, list[str]] = {}
    errors: list[BaseException] = []

    def claim_all(name: str) -> None:
        a = opened(archive_root)
        mine = taken.setdefault(name, [])
        try:
            start.wait(PATIENCE)
            while (job := leased_jobs.claim(a, name, lease_seconds=600)) is not None:
                assert job.previous is None                       # nothing was ever taken from a live holder
                mine.append(job.record_id)
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)
        finally:
            a.close()

    threads = [threading.Thread(target=claim_all, args=(f"host:{k}:claimer",)) for k in range(claimers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(PATIENCE * 2)
    assert not errors, errors
    every = [rid for mine in taken.values() for rid in mine]
    assert sorted(every) == sorted(ids)                           # each job claimed once, by one claimer
    rows = dict(catalogue(archive_root, "SELECT record_id, claimed_by FROM extraction_queue"))
    assert rows == {rid: name for name, mine in taken.items() for rid in mine}
    assert catalogue(archive_root, "SELECT max(attempts) FROM extraction_queue") == [(0,)]
