"""Group commit (``store/group_commit``): a batch ingest commits its files in groups, and a kill -9 in the middle
of a group's publishing loses and duplicates nothing.

Real processes (``dangan ingest DIR``), SIGKILLed by the rename hook (``DANGAN_TEST_CRASH_AFTER``) while the
group's objects are being renamed into the store; the store is validated with ocfl-py after each step.
"""
from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

from ocfl_helpers import assert_store_valid


def make_files(folder: Path, n: int) -> set[str]:
    folder.mkdir()
    digests = set()
    for i in range(n):
        p = folder / f"函件-{i:03d}.txt"
        p.write_text(f"第{i}号函件 group commit {i} " + "借阅" * (i % 7), encoding="utf-8")
        digests.add(hashlib.sha512(p.read_bytes()).hexdigest())
    return digests


def dangan(root: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "dangan", "--archive", str(root), "--as", "tester", *args],
                          capture_output=True, text=True, env={**os.environ, **(env or {})})


def rows(root: Path, sql: str) -> list:
    conn = sqlite3.connect(root / "catalogue.sqlite")
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def objects(root: Path) -> int:
    return sum(1 for _ in (root / "store").glob("*/*/*/*/0=ocfl_object_1.1"))


def test_kill_9_while_a_group_is_renamed_into_the_store(tmp_path, archive_root):
    digests = make_files(tmp_path / "drop", 40)        # one group (GROUP_SIZE is 64)
    # Each object is staged in its own tree from the start (no rename while staging), so the N-th rename is
    # the N-th object's move into the store: the 20th is halfway through the group.
    r = dangan(archive_root, "ingest", str(tmp_path / "drop"), env={"DANGAN_TEST_CRASH_AFTER": "rename:20"})
    assert r.returncode == -9, r.stdout + r.stderr
    published = objects(archive_root)
    assert 0 < published < 40, "the kill did not land inside the group's publishing"
    assert rows(archive_root, "SELECT count(*) FROM records") == [(0,)]        # the group's transaction never committed
    assert rows(archive_root, "SELECT count(*) FROM ingest_intents") == [(40,)]  # but every intent did
    assert_store_valid(archive_root / "store")

    r = dangan(archive_root, "ingest", str(tmp_path / "drop"), "--json")       # recovery first, then the rest
    assert r.returncode == 0, r.stdout + r.stderr
    outcomes = [json.loads(line) for line in r.stdout.splitlines()]
    statuses = [o["status"] for o in outcomes]
    assert statuses.count("duplicate") == published                           # adopted: archived once already
    assert statuses.count("archived") == 40 - published
    found = rows(archive_root, "SELECT main_sha512, count(*) FROM records GROUP BY main_sha512")
    assert {d for d, _ in found} == digests and all(n == 1 for _, n in found)
    assert objects(archive_root) == 40
    assert rows(archive_root, "SELECT count(*) FROM ingest_intents") == [(0,)]
    assert not any((archive_root / ".work" / "staging").iterdir())
    recovered = rows(archive_root, "SELECT count(*) FROM audit WHERE action = 'record.recover'")
    assert recovered == [(published,)]
    assert dangan(archive_root, "check").returncode == 0
    hits = dangan(archive_root, "search", "函件", "--json", "--limit", "100").stdout.splitlines()
    assert len({json.loads(line)["record_id"] for line in hits}) == 40       # each searchable once


def test_exit_after_the_group_is_published_adopts_every_file(tmp_path, archive_root):
    digests = make_files(tmp_path / "drop", 12)
    r = dangan(archive_root, "ingest", str(tmp_path / "drop"), env={"DANGAN_TEST_EXIT_AFTER_PUBLISH": "1"})
    assert r.returncode == 137
    assert objects(archive_root) == 12 and rows(archive_root, "SELECT count(*) FROM records") == [(0,)]
    assert dangan(archive_root, "check").returncode == 0          # check settles the intents: all adopted
    found = rows(archive_root, "SELECT main_sha512 FROM records")
    assert {d for (d,) in found} == digests
    assert_store_valid(archive_root / "store")


def test_a_duplicate_inside_one_group_is_refused_and_the_others_are_archived(tmp_path, archive_root):
    folder = tmp_path / "drop"
    make_files(folder, 5)
    (folder / "函件-002-copy.txt").write_bytes((folder / "函件-002.txt").read_bytes())
    r = dangan(archive_root, "ingest", str(folder), "--json")
    outcomes = {Path(o["source"]).name: o for o in map(json.loads, r.stdout.splitlines())}
    first, second = outcomes["函件-002-copy.txt"], outcomes["函件-002.txt"]      # in this (sorted) order
    assert (first["status"], second["status"]) == ("archived", "duplicate")
    assert second["record_id"] == first["record_id"]
    assert sorted(o["status"] for o in outcomes.values()) == ["archived"] * 5 + ["duplicate"]
    assert rows(archive_root, "SELECT count(*) FROM records") == [(5,)]
    assert rows(archive_root, "SELECT count(*) FROM audit WHERE action = 'record.ingest'") == [(5,)]
    assert dangan(archive_root, "check").returncode == 0
    assert not any((archive_root / ".work" / "staging").iterdir())


def test_outcomes_and_archival_codes_follow_the_input_order(tmp_path, archive_root):
    folder = tmp_path / "drop"
    make_files(folder, 70)                              # more than one group
    r = dangan(archive_root, "ingest", str(folder), "--json", "--category", "WS", "--dept", "BGS",
               "--retention", "Y", "--date", "2021-03-01")
    assert r.returncode == 0, r.stderr
    outcomes = [json.loads(line) for line in r.stdout.splitlines()]
    assert [Path(o["source"]).name for o in outcomes] == sorted(p.name for p in folder.iterdir())
    codes = [o["archival_code"] for o in outcomes]
    assert all(codes) and codes == sorted(codes, key=lambda c: int(c.rsplit("-", 1)[1]))
