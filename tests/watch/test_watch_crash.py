"""kill -9 the watcher at random moments: every drop file ends archived exactly once, or still in the
drop folder, or quarantined with a reason — with ``--duplicates archive``, where only the hand-off
records (not the duplicate check) can prevent a second copy."""
from __future__ import annotations

import os
import random
import signal
import subprocess
import time
from pathlib import Path

import pytest

from ocfl_helpers import assert_store_valid
from dangan.core.watch.lock import lock_held
from watch_helpers import dangan, digests, folder, query, settled, sha512, wait_for, watching, write

DEAD_PID = 999_999_999


def where_is(drop: Path, rel: str) -> list[str]:
    places = []
    if (drop / rel).exists():
        places.append("drop")
    if (drop / "done" / rel).exists():
        places.append("done")
    q = drop / "quarantine" / rel
    if q.exists():
        assert Path(str(q) + ".error.txt").read_text(encoding="utf-8").strip(), f"{rel} quarantined without reason"
        places.append("quarantine")
    return places


def assert_invariant(root: Path, drop: Path, files: dict[str, str]) -> dict[str, int]:
    """Each file in exactly one place; archived at most once; a file in done/ is archived."""
    counts: dict[str, int] = {}
    for digest, n in query(root, "SELECT main_sha512, count(*) FROM records GROUP BY main_sha512"):
        counts[digest] = n
    assert all(n == 1 for n in counts.values()), "a file was archived twice"
    places = {"drop": 0, "done": 0, "quarantine": 0}
    for rel, digest in files.items():
        where = where_is(drop, rel)
        assert len(where) == 1, f"{rel} is in {where or 'no place'}"
        places[where[0]] += 1
        if where[0] == "done":
            assert counts.get(digest) == 1, f"{rel} left the drop folder but is not archived"
    return places


def check_archive(root: Path) -> None:
    assert_store_valid(root / "store")
    r = subprocess.run(dangan(root, "check", "--json"), capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def run_kills(tmp_path: Path, root: Path, n_files: int, runs: int, seed: int) -> None:
    rng = random.Random(seed)
    drop = tmp_path / "drop"
    drop.mkdir()
    files: dict[str, str] = {}

    def make(lo: int, hi: int) -> None:
        for i in range(lo, hi):
            rel = f"s{i % 4}/扫描-{i:04d}.txt"
            files[rel] = sha512(write(drop / rel, f"第{i}号 scan {i} " + "档案" * (i % 40)))

    cmd = dangan(root, "watch", str(drop), "--duplicates", "archive", "--settle", "0.2")
    make(0, n_files // 2)
    killed = 0
    for run in range(runs):
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        # the kill's moment is counted from the watcher's start, not the process's: on a loaded machine the
        # interpreter and its imports alone can take longer than the whole random window
        wait_for(lambda: lock_held(root) or proc.poll() is not None, what="the watcher to take its lock")
        if run == 0:
            time.sleep(0.8)
            make(n_files // 2, n_files)          # the rest of the burst arrives while it runs
        if run == runs - 1 and not digests(root):
            # every earlier kill came before the first file was archived: this one must land in the work
            wait_for(lambda: digests(root) or proc.poll() is not None, what="the first file archived")
            time.sleep(rng.uniform(0.0, 0.5))
        else:
            time.sleep(rng.uniform(0.5, 3.5))
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            killed += 1
        proc.wait()
        assert_invariant(root, drop, files)
    assert digests(root), "nothing was archived between the kills: the kills never hit the work"
    r = subprocess.run(dangan(root, "watch", str(drop), "--duplicates", "archive", "--once"),
                       capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stderr
    places = assert_invariant(root, drop, files)
    assert places["drop"] == 0
    assert len(digests(root)) + places["quarantine"] == n_files
    assert killed > 0, "no run was interrupted: the test proved nothing"
    assert not query(root, "SELECT * FROM ingest_intents")
    assert not query(root, "SELECT * FROM watch_handoffs WHERE state != 'done'")
    assert not any((root / ".work" / "staging").iterdir()), "staging folders were left behind"
    check_archive(root)


def test_kill_9_during_a_burst_three_times(tmp_path, archive_root):
    run_kills(tmp_path, archive_root, n_files=60, runs=3, seed=7)


@pytest.mark.slow
def test_kill_9_twenty_times_during_a_500_file_burst(tmp_path, archive_root):
    run_kills(tmp_path, archive_root, n_files=500, runs=20, seed=11)


# -- the windows, one at a time (deterministic) --------------------------------------------------------
class Died(BaseException):
    """Stands for kill -9: nothing after it runs, no cleanup of ours."""


def _start_dead(archive_root: Path, drop: Path, monkeypatch, target: str, **kw) -> None:
    """Run a watcher until ``target`` is called, which 'kills' it; then make its pid a dead one."""
    def die(*a, **k):
        raise Died()
    monkeypatch.setattr(target, die)
    try:
        with watching(archive_root, folder(drop, duplicates="archive", **kw)):
            wait_for(lambda: query(archive_root, "SELECT count(*) FROM watch_handoffs")[0][0] > 0, what="a hand-off")
            time.sleep(0.5)
    except Died:
        pass
    monkeypatch.undo()
    query_conn(archive_root, "UPDATE watch_handoffs SET pid = ?", DEAD_PID)
    query_conn(archive_root, "UPDATE ingest_intents SET pid = ?", DEAD_PID)


def query_conn(root: Path, sql: str, *args) -> None:
    import sqlite3
    conn = sqlite3.connect(root / "catalogue.sqlite", timeout=60)
    with conn:
        conn.execute(sql, args)
    conn.close()


def test_archived_but_not_yet_moved_is_not_archived_again(archive_root, tmp_path, monkeypatch):
    """Killed after the commit, before the move: the audit event of the ingest names the hand-off."""
    drop = tmp_path / "drop"
    f = write(drop / "a.txt", "archived, then the power went")
    digest = sha512(f)
    _start_dead(archive_root, drop, monkeypatch, "dangan.core.watch.files.to_done")
    assert f.exists() and digests(archive_root) == [digest]
    assert query(archive_root, "SELECT state FROM watch_handoffs") == [("pending",)]
    with watching(archive_root, folder(drop, duplicates="archive")) as w:
        wait_for(lambda: (drop / "done" / "a.txt").exists() and settled(w), what="the move finished")
    assert digests(archive_root) == [digest]
    assert query(archive_root, "SELECT state, outcome FROM watch_handoffs") == [("done", "archived")]
    assert query(archive_root, "SELECT extraction_status FROM records") == [("ok",)]   # queued on settling


def test_moved_but_not_finished_is_closed(archive_root, tmp_path, monkeypatch):
    """Killed after the move, before the hand-off was finished: settled from the audit trail, nothing redone."""
    drop = tmp_path / "drop"
    write(drop / "b.txt", "moved, hand-off open")
    _start_dead(archive_root, drop, monkeypatch, "dangan.core.watch.handoff.finish")
    assert (drop / "done" / "b.txt").exists() and query(archive_root, "SELECT state FROM watch_handoffs") == [("pending",)]
    with watching(archive_root, folder(drop, duplicates="archive")) as w:
        wait_for(lambda: settled(w), what="settled")
    assert len(digests(archive_root)) == 1
    assert query(archive_root, "SELECT state, outcome FROM watch_handoffs") == [("done", "archived")]
    assert query(archive_root, "SELECT extraction_status FROM records") == [("ok",)]


def test_published_but_not_committed_is_adopted_once(archive_root, tmp_path, monkeypatch):
    """Killed between the OCFL publish and the catalogue commit: the dead watcher's intent is adopted."""
    drop = tmp_path / "drop"
    f = write(drop / "c.txt", "published, not committed")
    digest = sha512(f)
    monkeypatch.setattr("dangan.core.store.new_version.settle_after_failure", lambda archive, rid: None)
    _start_dead(archive_root, drop, monkeypatch, "dangan.core.catalogue.records.insert_record")
    assert digests(archive_root) == [] and query(archive_root, "SELECT count(*) FROM ingest_intents")[0][0] == 1
    with watching(archive_root, folder(drop, duplicates="archive")) as w:
        wait_for(lambda: (drop / "done" / "c.txt").exists() and not len(w.tracker), what="adopted and moved")
    assert digests(archive_root) == [digest]
    assert query(archive_root, "SELECT outcome FROM watch_handoffs") == [("archived",)]


def test_pending_but_never_archived_is_taken_again(archive_root, tmp_path, monkeypatch):
    drop = tmp_path / "drop"
    f = write(drop / "d.txt", "claimed, then killed before ingest")
    _start_dead(archive_root, drop, monkeypatch, "dangan.core.store.ingest.Ingestor.ingest")
    assert f.exists() and digests(archive_root) == []
    with watching(archive_root, folder(drop, duplicates="archive")) as w:
        wait_for(lambda: (drop / "done" / "d.txt").exists() and not len(w.tracker), what="archived on restart")
    assert len(digests(archive_root)) == 1
    assert sorted(r[0] for r in query(archive_root, "SELECT outcome FROM watch_handoffs")) == ["archived", "interrupted"]
