"""``dangan worker`` (issue 17.5): extraction jobs shared by worker processes through leases in the catalogue.

Real processes on one archive (catalogue.sqlite, and PostgreSQL): two workers share 40 queued jobs and each job
is done by exactly one of them, once; a worker killed (SIGKILL) while it holds a lease, or right after
publishing a version it had not committed, has its job taken over by another after the lease, and the job's
effect (one new version with the text) happens once.  The stores are validated by ocfl-py (conftest).
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from dangan.core.archive import Archive
from dangan.core.catalogue.fields import RecordFields
from dangan.core.kernel.actor import Actor
from dangan.core.store.deferred import enqueue
from dangan.core.store.ingest import Ingestor
from worker_helpers import catalogue, queue_jobs

CORPUS = Path(__file__).resolve().parent.parent / "data" / "corpus"


@pytest.fixture(params=["sqlite", "postgresql"])
def catalogue_backend(request) -> str:
    """Every test here runs on the embedded catalogue.sqlite and on PostgreSQL (the pg_url fixture).  Defined in
    the module, not a tests/worker/conftest.py: a second conftest module would shadow tests/conftest.py's name."""
    return request.param


def dangan(root: Path, *args: object) -> list[str]:
    return [sys.executable, "-m", "dangan", "--archive", str(root), "--as", "tester", *map(str, args)]


def extracted_by(stderr: str) -> list[str]:
    return re.findall(r"record (\S+): extracted", stderr)


def summary_of(stdout: str) -> dict:
    return json.loads(stdout.strip().splitlines()[-1])


def assert_each_done_once(root: Path, ids) -> None:
    """Every job's effect exactly once: version 2 with its text, one extraction (or recovery) event, none queued."""
    rows = catalogue(root, "SELECT id, version, extraction_status FROM records")
    assert sorted(r[0] for r in rows) == sorted(ids)
    assert {(r[1], r[2]) for r in rows} == {(2, "ok")}
    events = catalogue(root, "SELECT object, action FROM audit WHERE action IN ('record.extract', 'record.recover')")
    assert sorted(e[0] for e in events) == sorted(ids)
    assert catalogue(root, "SELECT count(*) FROM extraction_queue") == [(0,)]
    assert catalogue(root, "SELECT count(*) FROM ingest_intents") == [(0,)]


def test_two_workers_share_forty_jobs_each_done_exactly_once(archive_root, tmp_path, cli):
    words = queue_jobs(archive_root, tmp_path, 40)
    workers = [subprocess.Popen(dangan(archive_root, "worker", "--once", "--json", "--idle", "0.2"),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    results = [w.communicate(timeout=600) for w in workers]
    for w, (out, err) in zip(workers, results):
        assert w.returncode == 0, err
        assert "Traceback" not in err
    summaries = [summary_of(out) for out, _ in results]
    done = [extracted_by(err) for _, err in results]
    assert sum(s["extracted"] for s in summaries) == 40
    assert [len(d) for d in done] == [s["extracted"] for s in summaries]
    assert not set(done[0]) & set(done[1])                  # no job done by both
    assert sorted(done[0] + done[1]) == sorted(words)
    assert summaries[0]["worker"] != summaries[1]["worker"] and all(s["failed"] == 0 for s in summaries)
    assert_each_done_once(archive_root, words)
    assert catalogue(archive_root, "SELECT count(*) FROM index_outbox") == [(0,)]
    rid, word = next(iter(words.items()))
    hits = [json.loads(line) for line in cli("search", word, "--json").output.splitlines()]
    assert [h["record_id"] for h in hits if "record_id" in h] == [rid]     # its text (only there): indexed by a worker


def _killed_holding_a_lease(archive_root, env_var: str) -> str:
    """A worker that dies (SIGKILL, or _exit right after publishing) with a lease of 2 s on its first job."""
    env = {**os.environ, env_var: "1"}
    dead = subprocess.run(dangan(archive_root, "worker", "--once", "--json", "--lease", "2"), env=env,
                          capture_output=True, text=True, timeout=300)
    assert dead.returncode in (-9, 137), dead.stderr
    held = catalogue(archive_root, "SELECT record_id, claimed_by FROM extraction_queue WHERE claimed_by IS NOT NULL")
    assert len(held) == 1 and held[0][1].split(":")[1].isdigit()
    return held[0][0]


def test_a_killed_workers_job_is_taken_over_after_its_lease_and_done_once(archive_root, tmp_path):
    from dangan.core.store.leased_jobs import KILL_AFTER_CLAIM
    words = queue_jobs(archive_root, tmp_path, 3)
    held = _killed_holding_a_lease(archive_root, KILL_AFTER_CLAIM)
    other = subprocess.run(dangan(archive_root, "worker", "--once", "--json", "--lease", "2", "--idle", "0.2"),
                           capture_output=True, text=True, timeout=300)
    assert other.returncode == 0, other.stderr
    s = summary_of(other.stdout)
    assert (s["extracted"], s["taken_over"], s["failed"]) == (3, 1, 0), (s, other.stderr)
    assert f"record {held}: the lease of worker" in other.stderr
    assert_each_done_once(archive_root, words)


def test_a_version_published_by_a_killed_worker_is_settled_not_written_again(archive_root, tmp_path):
    from dangan.core.store.new_version import EXIT_AFTER_PUBLISH
    words = queue_jobs(archive_root, tmp_path, 3)
    held = _killed_holding_a_lease(archive_root, EXIT_AFTER_PUBLISH)     # its v2 is in the store, not the catalogue
    other = subprocess.run(dangan(archive_root, "worker", "--once", "--json", "--lease", "2", "--idle", "0.2"),
                           capture_output=True, text=True, timeout=300)
    assert other.returncode == 0, other.stderr
    s = summary_of(other.stdout)
    assert s["extracted"] == 2 and s["failed"] == 0
    assert held not in extracted_by(other.stderr)                      # settled from the store, not extracted again
    assert catalogue(archive_root, "SELECT action FROM audit WHERE object = ? AND action IN"
                                   " ('record.extract', 'record.recover')", held) == [("record.recover",)]
    assert_each_done_once(archive_root, words)


def test_worker_help_and_bad_jobs(cli):
    out = cli("worker", "-h").output
    assert "--once" in out and "--jobs" in out and "--lease" in out and "--json" in out
    bad = cli("worker", "--jobs", "extract,ocr-everything", ok=False)
    assert bad.exit_code == 2 and "choose from extract, index" in bad.output


def test_index_only_worker_drains_the_outbox(archive_root, tmp_path, cli):
    words = queue_jobs(archive_root, tmp_path, 2)          # ingest queued their index-outbox rows too
    out = cli("worker", "--once", "--json", "--jobs", "index").output
    s = json.loads(out.strip().splitlines()[-1])
    assert s["extracted"] == 0 and s["indexed"] >= 2
    assert catalogue(archive_root, "SELECT count(*) FROM index_outbox") == [(0,)]
    assert catalogue(archive_root, "SELECT count(*) FROM extraction_queue") == [(2,)]   # not its job
    assert len(words) == 2


def test_a_live_workers_lease_is_renewed_so_its_job_is_not_taken_over(archive_root, tmp_path):
    """While a job runs (an OCR may outlast any lease), its lease is renewed from a connection of its own."""
    import time
    from dangan.core.store import leased_jobs
    queue_jobs(archive_root, tmp_path, 1)
    a = Archive(archive_root, Actor("tester", "tester"))
    try:
        job = leased_jobs.claim(a, "host:1:first", lease_seconds=6)
        assert job is not None and job.previous is None
        first = catalogue(archive_root, "SELECT lease_until FROM extraction_queue")[0][0]
        with leased_jobs.LeaseKeeper(a, job.record_id, "host:1:first", 6) as keeper:
            deadline = time.monotonic() + 120
            while keeper.renewals < 2 and time.monotonic() < deadline:
                time.sleep(0.1)
            assert keeper.renewals >= 2
            assert leased_jobs.claim(a, "host:2:second", lease_seconds=6) is None    # still held: renewed
        assert catalogue(archive_root, "SELECT claimed_by FROM extraction_queue") == [("host:1:first",)]
        assert catalogue(archive_root, "SELECT lease_until FROM extraction_queue")[0][0] > first
    finally:
        a.close()


def test_the_watchers_extractor_leaves_a_job_a_worker_holds(archive_root, tmp_path):
    from dangan.core.store import deferred, leased_jobs
    ids = list(queue_jobs(archive_root, tmp_path, 2))
    a = Archive(archive_root, Actor("tester", "tester"))
    try:
        job = leased_jobs.claim(a, "elsewhere:7:abc", lease_seconds=600)
        assert job is not None
        assert deferred.next_batch(a) == [rid for rid in ids if rid != job.record_id]
        assert deferred.run_batch(a) == 1                         # the free one only
        assert catalogue(archive_root, "SELECT record_id, claimed_by FROM extraction_queue") == \
            [(job.record_id, "elsewhere:7:abc")]
        leased_jobs.release(a, job.record_id, "elsewhere:7:abc")  # given back: anyone's again
        assert deferred.next_batch(a) == [job.record_id]
    finally:
        a.close()


def test_a_running_worker_stops_cleanly_on_sigterm(archive_root, tmp_path):
    import signal
    import time
    ids = queue_jobs(archive_root, tmp_path, 3)
    w = subprocess.Popen(dangan(archive_root, "worker", "--json", "--idle", "0.2"), stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 300
        while catalogue(archive_root, "SELECT count(*) FROM extraction_queue") != [(0,)] and time.monotonic() < deadline:
            assert w.poll() is None, w.stderr.read() if w.stderr else ""
            time.sleep(0.2)
    finally:
        w.send_signal(signal.SIGTERM)
        out, err = w.communicate(timeout=120)
    assert w.returncode == 0, err
    assert summary_of(out)["extracted"] == 3
    assert_each_done_once(archive_root, ids)


@pytest.mark.parametrize("catalogue_backend", ["sqlite"])
def test_an_ocr_job_is_done_by_a_worker(archive_root, cli):
    """A scanned image queued as the watcher leaves it: the worker's job runs Tesseract and files its text."""
    a = Archive(archive_root, Actor("tester", "tester"))
    try:
        rid = Ingestor(a).ingest(CORPUS / "images" / "multi-line_cn1.png", RecordFields(title="scan")).id
        with a.transaction() as conn:
            enqueue(conn, rid)
    finally:
        a.close()
    done = subprocess.run(dangan(archive_root, "worker", "--once", "--json"), capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr
    assert summary_of(done.stdout)["extracted"] == 1
    shown = json.loads(cli("show", rid, "--json").output)
    assert shown["version"] == 2 and shown["extraction"]["status"] == "ok", shown["extraction"]
    details = json.loads(catalogue(archive_root, "SELECT details FROM audit WHERE action = 'record.extract'")[0][0])
    assert details["ocr"] and details["chars"] > 10                 # Tesseract read the scan's text
    assert_each_done_once(archive_root, [rid])
