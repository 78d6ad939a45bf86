"""A large batch keeps the index up while it goes on (``store/batch_indexing``), and a kill -9 loses nothing.

Real batches of ``BACKGROUND_DRAIN_FILES`` files and more (``ingest_batch`` in-process, ``dangan ingest`` as a
process), the real tantivy index and outbox; the stores are validated with ocfl-py.
"""
from __future__ import annotations

import hashlib
import json
import signal
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

from dangan.core.store.batch import BACKGROUND_DRAIN_FILES
from ocfl_helpers import assert_store_valid


def make_folder(folder: Path, n: int) -> set[str]:
    folder.mkdir()
    digests = set()
    for i in range(n):
        p = folder / f"登记-{i:05d}.txt"
        p.write_text(f"第{i}号登记 kept up {i} " + "借阅" * (i % 5), encoding="utf-8")
        digests.add(hashlib.sha512(p.read_bytes()).hexdigest())
    return digests


def index_ids(archive) -> list[str]:
    from dangan.core.search.indexing import engine_dir
    from dangan.index import open_index
    out: list[str] = []
    with open_index(engine_dir(archive), create=False) as ix:
        for page in range(1, 100):
            hits = ix.search("登记", limit=1000, page=page, snippets=False).hits
            if not hits:
                return out
            out += [h.record_id for h in hits]
    return out


def test_the_index_is_applied_during_the_batch(tmp_path, archive, monkeypatch):
    from dangan.core.catalogue.fields import RecordFields
    from dangan.core.search import indexing
    from dangan.core.store.batch import ingest_batch

    n = BACKGROUND_DRAIN_FILES + 100
    make_folder(tmp_path / "drop", n)
    during = []
    drain = indexing.drain

    def spy(a, **kw):
        applied = drain(a, **kw)
        if threading.current_thread().name == "dangan-index":
            during.append(applied)
        return applied

    monkeypatch.setattr(indexing, "drain", spy)
    out = ingest_batch(archive, [tmp_path / "drop"], RecordFields())
    assert [o.status for o in out] == ["archived"] * n
    assert sum(during) >= indexing.BATCH, "nothing was indexed while the batch went on"
    assert archive.conn.execute("SELECT count(*) FROM index_outbox").fetchone()[0] == 0
    ids = index_ids(archive)
    assert len(ids) == n and set(ids) == {o.record_id for o in out}      # each once, every one


def test_kill_9_after_the_index_was_kept_up_loses_and_doubles_nothing(tmp_path, archive_root):
    n = BACKGROUND_DRAIN_FILES + 100
    digests = make_folder(tmp_path / "drop", n)
    cmd = [sys.executable, "-m", "dangan", "--archive", str(archive_root), "--as", "tester", "ingest",
           str(tmp_path / "drop"), "--json"]
    # killed right after the first batch of index updates is applied: by the batch's own dangan-index thread,
    # while files are still being archived (500 records wait for it well before the 1,100th file)
    import os
    r = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "DANGAN_TEST_CRASH_AFTER": "index:1"})
    assert r.returncode == -signal.SIGKILL, r.stdout + r.stderr
    conn = sqlite3.connect(archive_root / "catalogue.sqlite")
    archived = conn.execute("SELECT count(*) FROM records").fetchone()[0]
    waiting = conn.execute("SELECT count(*) FROM index_outbox").fetchone()[0]
    conn.close()
    assert 0 < archived <= n and waiting <= archived - 500, "the kill did not follow an applied index batch"
    assert_store_valid(archive_root / "store")

    r = subprocess.run(cmd, capture_output=True, text=True)
    statuses = [json.loads(line)["status"] for line in r.stdout.splitlines()]
    assert set(statuses) <= {"archived", "duplicate"} and len(statuses) == n, r.stdout + r.stderr
    # exit 5 when every file was archived before the kill (all duplicates: a quick machine), else 0
    assert r.returncode == (5 if set(statuses) == {"duplicate"} else 0), r.stdout + r.stderr
    conn = sqlite3.connect(archive_root / "catalogue.sqlite")
    rows = conn.execute("SELECT main_sha512, count(*) FROM records GROUP BY main_sha512").fetchall()
    assert conn.execute("SELECT count(*) FROM index_outbox").fetchone()[0] == 0
    conn.close()
    assert {d for d, _ in rows} == digests and all(k == 1 for _, k in rows)
    from dangan.core.kernel.actor import Actor
    from dangan.core.archive import Archive
    with Archive(archive_root, Actor("tester", "tester")) as a:
        ids = index_ids(a)
    assert len(ids) == n and len(set(ids)) == n                          # searchable, each once


def test_a_rerun_of_only_duplicates_applies_the_index_updates_a_killed_run_left(tmp_path, archive):
    # what a kill -9 between the commit and the drain leaves: records archived, their index updates queued
    from dangan.core.catalogue.fields import RecordFields
    from dangan.core.store.batch import ingest_batch
    make_folder(tmp_path / "drop", 40)
    first = ingest_batch(archive, [tmp_path / "drop"], RecordFields(), index=False)
    assert [o.status for o in first] == ["archived"] * 40
    assert archive.conn.execute("SELECT count(*) FROM index_outbox").fetchone()[0] == 40

    again = ingest_batch(archive, [tmp_path / "drop"], RecordFields())
    assert [o.status for o in again] == ["duplicate"] * 40
    assert archive.conn.execute("SELECT count(*) FROM index_outbox").fetchone()[0] == 0
    assert sorted(index_ids(archive)) == sorted(o.record_id for o in first)
    assert_store_valid(archive.root / "store")
