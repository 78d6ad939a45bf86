"""Leases of every kind of intent on a shared catalogue (issue 17.2): settled by a live process once the dead
writer's lease ends, never while its writer lives, on whichever machine it wrote.

The writer is another process (tests/lease_helpers.py), killed with kill -9; its lease lasts 2 s unless renewed.
For each kind — an ingest intent, a batch scan's split, a destruction, a watcher's hand-off — recovery leaves
the intent alone while the writer lives (it renews its lease well past the lease's length, and across a
PostgreSQL restart that cut its session), and settles it exactly once after the writer is killed and its lease
has ended.  The destruction is a real one (`disposition execute` killed after its intent, in the middle of
setting the object aside), and rolled forward by recovery once.  The rows say another machine wrote them: no
pid or host is consulted.
"""
from __future__ import annotations

import json
import time

import pytest

from catalogue_helpers import raw_catalogue
from lease_helpers import Writer, wait_for

pytestmark = pytest.mark.postgresql_only

LEASE = 2


def count(root, sql: str, *args) -> int:
    conn = raw_catalogue(root)
    try:
        return conn.execute(sql, args).fetchone()[0]
    finally:
        conn.close()


def elsewhere(root, table: str, column: str, key: str) -> None:
    """The intent says another machine (and a pid that may be alive here) wrote it."""
    conn = raw_catalogue(root)
    try:
        conn.execute(f"UPDATE {table} SET host = 'another-machine', pid = 1 WHERE {column} = ?", (key,))
    finally:
        conn.close()


def test_an_ingest_intent_is_left_while_its_writer_renews_and_settled_once_after_kill(archive, archive_root):
    from dangan.core.store.recovery import recover_interrupted
    w = Writer(archive_root, "ingest", lease=LEASE)
    try:
        elsewhere(archive_root, "ingest_intents", "object_id", w.key)
        time.sleep(3 * LEASE)                            # three lease lengths: only renewals keep it
        assert recover_interrupted(archive)["forgotten"] == 0
        assert count(archive_root, "SELECT count(*) FROM ingest_intents") == 1
        w.kill()
    finally:
        w.close()
    assert wait_for(lambda: recover_interrupted(archive)["forgotten"] == 1, timeout=30)    # once its lease ended
    assert count(archive_root, "SELECT count(*) FROM ingest_intents") == 0
    assert count(archive_root, "SELECT count(*) FROM intent_leases") == 0
    assert recover_interrupted(archive)["forgotten"] == 0


@pytest.fixture
def own_server():
    """A PostgreSQL of this test alone (it is restarted: the session's server stays up for the others)."""
    import pg_service
    server = pg_service.start()
    yield server
    server.stop()


def test_a_writer_whose_session_a_postgresql_restart_cut_keeps_its_lease(own_server, tmp_path):
    """The advisory lock went with the session; the renewed lease is what keeps recovery away."""
    from dangan.core.archive import Archive
    from dangan.core.kernel.actor import Actor
    from dangan.core.store.recovery import recover_interrupted
    root = tmp_path / "archive"
    Archive.init(root, fonds="Z109", actor=Actor("tester", "tester"), catalogue_url=own_server.new_database()).close()
    w = Writer(root, "ingest", lease=LEASE)
    try:
        own_server.restart()                             # the writer's session is gone; the writer is not
        time.sleep(3 * LEASE)
        with Archive(root, Actor("tester", "tester")) as a:
            assert recover_interrupted(a)["forgotten"] == 0
            assert a.conn.execute("SELECT count(*) FROM ingest_intents").fetchone()[0] == 1
            w.kill()
            assert wait_for(lambda: recover_interrupted(a)["forgotten"] == 1, timeout=30)
            assert a.conn.execute("SELECT count(*) FROM ingest_intents").fetchone()[0] == 0
    finally:
        w.close()


def test_a_scan_split_is_resumed_only_after_its_splitters_lease_ends(archive, archive_root):
    from dangan.core.store.scan_resume import resume_splits
    w = Writer(archive_root, "scan", lease=LEASE)
    try:
        elsewhere(archive_root, "scan_splits", "token", w.key)
        time.sleep(3 * LEASE)
        resume_splits(archive)
        assert count(archive_root, "SELECT count(*) FROM scan_splits") == 1       # alive: left alone
        w.kill()
    finally:
        w.close()
    assert wait_for(lambda: (resume_splits(archive), count(archive_root, "SELECT count(*) FROM scan_splits"))[1] == 0,
                    timeout=30)          # its batch was never archived: the split is forgotten, once
    assert count(archive_root, "SELECT count(*) FROM intent_leases") == 0


def test_a_hand_off_of_a_killed_watcher_is_settled_after_its_lease_and_a_live_ones_kept(archive, archive_root, tmp_path):
    from dangan.core.store.source_files import shown_name
    from dangan.core.watch import handoff
    drop = tmp_path / "drop"
    drop.mkdir()
    f = drop / "合同.txt"
    f.write_text("一份合同", encoding="utf-8")
    keys = {handoff.path_key(archive, f): f}
    w = Writer(archive_root, "handoff", str(f), lease=LEASE)
    try:
        elsewhere(archive_root, "watch_handoffs", "id", w.key)
        busy: set[str] = set()
        started = time.monotonic()
        assert handoff.settle_previous(archive, keys, {shown_name(drop)}, busy) == []
        assert time.monotonic() - started >= LEASE      # it waited for the lease to end, which the writer renewed
        assert busy == set(keys)                          # its file is the live watcher's
        assert [h.id for h in handoff.open_handoffs(archive)] == [int(w.key)]
        assert handoff.settle_previous(archive, keys, {"another-folder"}, set()) == []   # not our folder
        w.kill()
    finally:
        w.close()
    busy = set()
    assert handoff.settle_previous(archive, keys, {shown_name(drop)}, busy) == []   # pending, never archived
    assert busy == set()
    assert handoff.open_handoffs(archive) == []
    row = archive.conn.execute("SELECT outcome FROM watch_handoffs WHERE id = ?", (int(w.key),)).fetchone()
    assert row["outcome"] == "interrupted"               # closed: the file is taken again as a new drop
    assert count(archive_root, "SELECT count(*) FROM intent_leases") == 0


def test_a_destruction_killed_after_its_intent_is_rolled_forward_once_after_its_lease(cli, archive_root, tmp_path,
                                                                                         monkeypatch):
    from destruction_helpers import run, set_up_office
    from dangan.core.archive import Archive
    from dangan.core.management.destruction_intent import recover
    set_up_office(cli, monkeypatch, tmp_path)
    p = tmp_path / "old.txt"
    p.write_text("到期销毁 LEASEMARK", encoding="utf-8")
    out = cli("ingest", p, "--category", "WS", "--dept", "BGS", "--retention", "D10", "--date", "2010-01-01",
              "--title", "到期文件", "--json", user="arch").output
    rid = json.loads(out.splitlines()[0])["record_id"]
    lid = json.loads(cli("disposition", "propose", rid, "--json", user="arch").output)["list"]
    cli("disposition", "approve", lid, user="mgr")
    monkeypatch.setenv("DANGAN_LEASE_SECONDS", "600")     # the killed destroyer's lease outlives this test's wait
    killed = run(archive_root, "disposition", "execute", lid, "--yes", crash=1)    # after the intent, mid set-aside
    assert killed.returncode == -9, killed.stderr
    monkeypatch.delenv("DANGAN_LEASE_SECONDS")
    assert count(archive_root, "SELECT count(*) FROM destruction_intents") == 1
    elsewhere(archive_root, "destruction_intents", "record_id", rid)
    a = Archive(archive_root)
    try:
        assert recover(a) == 0                            # its lease runs: the writer may be alive elsewhere
        assert count(archive_root, "SELECT count(*) FROM destruction_intents") == 1
        conn = raw_catalogue(archive_root)                # ... and now it has ended (as 600 s later)
        try:
            conn.execute("UPDATE intent_leases SET until = until - 700 WHERE kind = 'destroy' AND key = ?", (rid,))
        finally:
            conn.close()
        assert recover(a) >= 1
        assert recover(a) == 0
    finally:
        a.close()
    assert count(archive_root, "SELECT count(*) FROM destruction_intents") == 0
    assert count(archive_root, "SELECT count(*) FROM intent_leases") == 0
    rec = json.loads(cli("show", rid, "--json", user="arch").output)
    assert rec["status"] == "destroyed" and rec["files"] == []
    events = [json.loads(x) for x in cli("audit", "log", "--json", "--action", "record.destroy",
                                         user="boss").output.splitlines()]
    assert [e["object"] for e in events] == [rid]
    assert json.loads(cli("disposition", "show", lid, "--json", user="arch").output)["status"] == "executed"
    cli("check", user="arch")
    cli("audit", "verify", user="boss")
