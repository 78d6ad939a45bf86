"""kill -9 during backup create and prune: earlier snapshots stay intact and the next run completes."""
from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from backup_helpers import PASS


def dangan(root: Path, *args) -> list[str]:
    return [sys.executable, "-m", "dangan", "--archive", str(root), "--as", "tester", *map(str, args)]


def run(root: Path, *args) -> subprocess.CompletedProcess:
    env = {**os.environ, "DANGAN_BACKUP_PASSPHRASE": PASS}
    r = subprocess.run(dangan(root, *args), capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    return r


def kill_during(root: Path, delay: float, *args, pause: float = 0.02) -> bool:
    """Run dangan with a pause between its repository writes; kill -9 it after ``delay``; True if it was running."""
    env = {**os.environ, "DANGAN_BACKUP_PASSPHRASE": PASS, "DANGAN_TEST_BACKUP_PAUSE": str(pause)}
    proc = subprocess.Popen(dangan(root, *args), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    time.sleep(delay)
    alive = proc.poll() is None
    if alive:
        os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    return alive


def add_files(root: Path, src: Path, n: int, start: int) -> None:
    src.mkdir(exist_ok=True)
    for f in src.iterdir():
        f.unlink()
    for i in range(start, start + n):
        (src / f"件-{i:04d}.txt").write_text(f"第{i}号 record {i} " + "档案" * (i % 40), encoding="utf-8")
    run(root, "ingest", src, "--category", "WS", "--dept", "BGS", "--retention", "D10", "--date", "2021-01-01")


def snapshot_list(root: Path, repo: Path) -> list[str]:
    return [json.loads(line)["id"] for line in run(root, "backup", "list", "--repo", repo, "--json").stdout.splitlines()]


def kill_creates(tmp_path: Path, root: Path, runs: int, seed: int) -> None:
    rng = random.Random(seed)
    repo = tmp_path / "repo"
    run(root, "backup", "init", "--repo", repo)
    add_files(root, tmp_path / "drop", 10, 0)
    run(root, "backup", "create", "--repo", repo)
    killed = 0
    for i in range(runs):
        before = snapshot_list(root, repo)
        add_files(root, tmp_path / "drop", 8, 100 * (i + 1))
        killed += kill_during(root, rng.uniform(0.4, 1.6), "backup", "create", "--repo", repo)
        after = snapshot_list(root, repo)
        assert set(before) <= set(after) and len(after) - len(before) <= 1
        run(root, "backup", "verify", "--repo", repo, "--read-data")            # earlier snapshots intact
        run(root, "backup", "create", "--repo", repo)                           # the next run completes
    assert killed > 0, "no run was interrupted: the test proved nothing"
    dest = tmp_path / "restored"
    run(root, "backup", "restore", "latest", "--to", dest, "--repo", repo)
    run(dest, "check")


def test_kill_9_during_create(tmp_path, archive_root):
    kill_creates(tmp_path, archive_root, runs=3, seed=1)


@pytest.mark.slow
def test_kill_9_during_create_twelve_times(tmp_path, archive_root):
    kill_creates(tmp_path, archive_root, runs=12, seed=2)


def test_kill_9_during_prune(tmp_path, archive_root):
    rng = random.Random(3)
    repo = tmp_path / "repo"
    run(archive_root, "backup", "init", "--repo", repo)
    for i in range(6):
        add_files(archive_root, tmp_path / "drop", 3, 10 * i)
        run(archive_root, "backup", "create", "--repo", repo)
    snaps = snapshot_list(archive_root, repo)
    killed = 0
    for keep in (5, 4, 3):
        killed += kill_during(archive_root, rng.uniform(0.6, 1.0), "backup", "prune", "--keep-last", keep,
                              "--repo", repo, pause=0.3)
        left = snapshot_list(archive_root, repo)
        assert snaps[-keep:] == left[-keep:], "the kept snapshots are all there"
        run(archive_root, "backup", "verify", "--repo", repo, "--read-data")
        run(archive_root, "backup", "prune", "--keep-last", keep, "--repo", repo)
        assert snapshot_list(archive_root, repo) == snaps[-keep:]
    assert killed > 0, "no prune was interrupted"
    run(archive_root, "backup", "create", "--repo", repo)
    run(archive_root, "backup", "verify", "--repo", repo, "--read-data")
