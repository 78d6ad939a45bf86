"""kill -9 at random moments during a batch ingest: every file archived exactly once or not at all."""
from __future__ import annotations

import hashlib
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ocfl_helpers import assert_store_valid


def make_files(d: Path, n: int) -> dict[str, Path]:
    d.mkdir()
    out = {}
    for i in range(n):
        p = d / f"扫描件-{i:04d}.txt"
        p.write_text(f"第{i}号文件 record {i} " + "档案" * (i % 50), encoding="utf-8")
        out[hashlib.sha512(p.read_bytes()).hexdigest()] = p
    return out


def dangan(root: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "dangan", "--archive", str(root), "--as", "tester", *args]


def assert_consistent(root: Path, digests: dict[str, Path]) -> int:
    """The store validates, check passes, and no file is archived twice; returns records archived."""
    assert_store_valid(root / "store")
    r = subprocess.run(dangan(root, "check", "--json"), capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    conn = sqlite3.connect(root / "catalogue.sqlite")
    rows = conn.execute("SELECT main_sha512, count(*) FROM records GROUP BY main_sha512").fetchall()
    conn.close()
    assert all(n == 1 for _, n in rows), "a file was archived twice"
    assert {d for d, _ in rows} <= set(digests)
    return len(rows)


def run_kills(tmp_path: Path, archive_root: Path, files: int, runs: int, seed: int) -> None:
    """Kill an ingest of the folder at a random moment, ``runs`` times; the window is sized from a
    timed probe of this machine so that kills land during the batch, not after it."""
    rng = random.Random(seed)
    digests = make_files(tmp_path / "drop", files)
    killed = 0
    probe = tmp_path / "probe"
    probe.mkdir()
    for i in range(20):
        (probe / f"p{i}.txt").write_text(f"probe {i}", encoding="utf-8")
    probe_archive = tmp_path / "probe-archive"
    subprocess.run([sys.executable, "-m", "dangan", "init", str(probe_archive), "--fonds", "P1"], check=True,
                   capture_output=True)
    t = time.perf_counter()
    subprocess.run(dangan(probe_archive, "ingest", str(probe)), capture_output=True)
    per_file = (time.perf_counter() - t) / 20          # start-up included: an upper bound
    window = max(0.3, per_file * files * 0.8)
    for _ in range(runs):
        proc = subprocess.Popen(dangan(archive_root, "ingest", str(tmp_path / "drop"), "--json"),
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.05, window))
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            killed += 1
        proc.wait()
        assert_consistent(archive_root, digests)
    r = subprocess.run(dangan(archive_root, "ingest", str(tmp_path / "drop"), "--json"), capture_output=True, text=True)
    outcomes = [json.loads(line) for line in r.stdout.splitlines()]
    assert {o["status"] for o in outcomes} <= {"archived", "duplicate"}
    assert assert_consistent(archive_root, digests) == files
    assert killed > 0, "no run was interrupted: the test proved nothing"
    assert not any((archive_root / ".work" / "staging").iterdir()), "staging folders were left behind"


def test_kill_9_during_ingest_loses_and_duplicates_nothing(tmp_path, archive_root):
    run_kills(tmp_path, archive_root, files=60, runs=3, seed=1)


@pytest.mark.slow
def test_kill_9_twenty_times_during_a_200_file_ingest(tmp_path, archive_root):
    run_kills(tmp_path, archive_root, files=200, runs=20, seed=2)


def test_a_half_published_version_is_rolled_forward(archive, samples):
    """A crash after vN is renamed into the object but before the root inventory names it."""
    from dangan.core.store.batch import ingest_batch
    from dangan.core.catalogue.fields import RecordFields
    from dangan.core.store.recovery import recover_interrupted
    rid = ingest_batch(archive, [samples / "contract.txt"], RecordFields())[0].record_id
    obj = archive.store.object_path(rid)
    old_inv = (obj / "inventory.json").read_bytes()
    old_side = (obj / "inventory.json.sha512").read_bytes()
    from dangan.core.store.ingest import Ingestor
    Ingestor(archive).revise(rid, samples / "notes.md", message="v2")
    (obj / "inventory.json").write_bytes(old_inv)          # as if the process died before the root inventory
    (obj / "inventory.json.sha512").write_bytes(old_side)
    archive.conn.execute("UPDATE records SET version = 1 WHERE id = ?", (rid,))
    archive.conn.execute("DELETE FROM files WHERE record_id = ? AND version = 2", (rid,))
    archive.conn.execute("DELETE FROM versions WHERE record_id = ? AND version = 2", (rid,))
    archive.conn.execute("INSERT INTO ingest_intents VALUES (?, 999999999, ?, 'x', 'now')",
                         (rid, __import__("socket").gethostname()))
    assert recover_interrupted(archive)["adopted"] == 1
    assert archive.record(rid).version == 2
    assert (obj / "inventory.json").read_bytes() == (obj / "v2" / "inventory.json").read_bytes()
