"""The one new-version protocol (``store/new_version.py``) holds for every writer that uses it.

Ingest's crash window is tested in ``tests/catalogue/test_piece_counters.py``; here a revision and a
derivative-text version (deferred extraction) die as kill -9 would right after publishing, before
their catalogue transaction commits: the next run adopts the published version exactly once.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from ocfl_helpers import assert_store_valid

from dangan.core.archive import Archive
from dangan.core.kernel.actor import Actor
from dangan.core.store.layout import text_path
from dangan.core.store.new_version import EXIT_AFTER_PUBLISH
from dangan.core.store.recovery import recover_interrupted

DERIVATIVE = """
import sys
from dangan.core.archive import Archive
from dangan.core.kernel.actor import Actor
from dangan.core.store.deferred import add_derivative_text
a = Archive(sys.argv[1], Actor("tester", "tester"))
add_derivative_text(a, sys.argv[2], "合同全文", {"status": "ok", "ocr": False})
"""


def _crashing(args: list[str]) -> subprocess.CompletedProcess:
    env = {**os.environ, EXIT_AFTER_PUBLISH: "1"}
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, env=env, timeout=120)


def _open(root: Path) -> Archive:
    return Archive(root, Actor("tester", "tester"))


def _state(a: Archive, rid: str) -> tuple:
    version = a.conn.execute("SELECT version FROM records WHERE id = ?", (rid,)).fetchone()[0]
    intents = a.conn.execute("SELECT source FROM ingest_intents WHERE object_id = ?", (rid,)).fetchall()
    return version, [r[0] for r in intents], len(a.store.inventory(rid)["versions"])


def test_a_revision_killed_after_publishing_is_adopted_once(archive_root, samples, tmp_path):
    a = _open(archive_root)
    rid = a.ingest(samples / "contract.txt", index=False).id
    a.close()
    new = tmp_path / "contract-v2.txt"
    new.write_text("Contract between A and B, amended 2021-04-01.", encoding="utf-8")
    proc = _crashing(["-m", "dangan", "--archive", str(archive_root), "--as", "tester", "revise", rid, str(new),
                      "-m", "amended"])
    assert proc.returncode == 137, proc.stderr
    a = _open(archive_root)
    try:
        assert _state(a, rid) == (1, ["(revision)"], 2)          # published, not committed, intent kept
        assert recover_interrupted(a)["adopted"] == 1
        assert _state(a, rid) == (2, [], 2)
        assert recover_interrupted(a) == {"adopted": 0, "forgotten": 0, "current": 0}
        assert [f.path for f in a.record(rid).files] == ["contract-v2.txt"]
        events = a.conn.execute("SELECT action FROM audit WHERE object = ? ORDER BY seq", (rid,)).fetchall()
        assert [e[0] for e in events] == ["record.ingest", "record.recover"]
        queued = a.conn.execute("SELECT op FROM index_outbox WHERE record_id = ?", (rid,)).fetchall()
        assert [q[0] for q in queued] == ["upsert", "upsert"]     # the ingest's, and the adoption's
    finally:
        a.close()
    assert_store_valid(archive_root / "store")


def test_a_derivative_text_version_killed_after_publishing_is_adopted_once(archive_root, samples):
    a = _open(archive_root)
    rid = a.ingest(samples / "contract.txt", index=False).id
    a.close()
    proc = _crashing(["-c", DERIVATIVE, str(archive_root), rid])
    assert proc.returncode == 137, proc.stderr
    a = _open(archive_root)
    try:
        assert _state(a, rid) == (1, ["(deferred extraction)"], 2)
        assert recover_interrupted(a)["adopted"] == 1
        assert _state(a, rid) == (2, [], 2)
        assert a.record(rid).extraction["status"] == "ok"
        assert a.store.read_bytes(rid, text_path("contract.txt"), 2).decode("utf-8") == "合同全文"
    finally:
        a.close()
    assert_store_valid(archive_root / "store")
