"""Writers at once on a catalogue on PostgreSQL (issue 17): no file lock is there to serialise them, only the
catalogue's write lock (a transaction-level advisory lock, core/catalogue/db.py).

Two processes ingest at once: piece numbers (件号) come out gap-free and unique, the audit trail is one chain
that `audit verify` and `check` pass.  A writer killed while it holds the lock leaves nothing held: the next
writer goes on, and what the dead one had not committed is not there.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from catalogue_helpers import raw_catalogue

pytestmark = pytest.mark.postgresql_only

CODE = ["--category", "WS", "--dept", "BGS", "--retention", "Y", "--date", "2021-03-01", "--json"]
PREFIX = "Z109-WS·2021-Y-BGS-"


def dangan(root: Path, *args: object) -> list[str]:
    return [sys.executable, "-m", "dangan", "--archive", str(root), "--as", "tester", *map(str, args)]


def batch(tmp_path: Path, name: str, n: int) -> list[Path]:
    d = tmp_path / name
    d.mkdir()
    out = []
    for i in range(n):
        p = d / f"{name}-{i:02d}.txt"
        p.write_text(f"{name} 第{i}件 并发写入", encoding="utf-8")
        out.append(p)
    return out


def test_two_writer_processes_get_gap_free_pieces_and_one_audit_chain(cli, archive_root, tmp_path):
    n = 8
    writers = [subprocess.Popen(dangan(archive_root, "ingest", *batch(tmp_path, name, n), *CODE),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for name in ("a", "b")]
    results = [w.communicate() for w in writers]
    for w, (out, err) in zip(writers, results):
        assert w.returncode == 0, err
    archived = [json.loads(line) for out, _ in results for line in out.splitlines() if line.startswith("{")]
    assert len(archived) == 2 * n and all(a["status"] == "archived" for a in archived)
    assert sorted(a["archival_code"] for a in archived) == [PREFIX + f"{i:04d}" for i in range(1, 2 * n + 1)]

    conn = raw_catalogue(archive_root)
    try:
        pieces = [r[0] for r in conn.execute("SELECT piece FROM records ORDER BY piece").fetchall()]
        seqs = [r[0] for r in conn.execute("SELECT seq FROM audit ORDER BY seq").fetchall()]
        head = conn.execute("SELECT seq FROM audit_head WHERE id = 1").fetchone()[0]
        ingests = conn.execute("SELECT count(*) FROM audit WHERE action = 'record.ingest'").fetchone()[0]
    finally:
        conn.close()
    assert pieces == list(range(1, 2 * n + 1))
    assert seqs == list(range(1, len(seqs) + 1)) and head == seqs[-1]
    assert ingests == 2 * n
    assert "intact" in cli("audit", "verify").output
    cli("check")


HOLD = """
import sys
from dangan.core.catalogue.db import PgConnection
conn = PgConnection(sys.argv[1])
conn.begin_immediate()
conn.execute("INSERT INTO piece_counters (class_key, last) VALUES ('DEAD', 99)")
print("holding", flush=True)
sys.stdin.readline()
"""


def test_a_writer_killed_holding_the_lock_leaves_nothing_held_and_nothing_half_written(cli, archive_root, tmp_path):
    from catalogue_helpers import catalogue_url
    holder = subprocess.Popen([sys.executable, "-c", HOLD, catalogue_url(archive_root)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "holding"
        holder.kill()                                   # kill -9 with the write lock held, mid-transaction
        holder.wait()
    finally:
        if holder.poll() is None:
            holder.kill()
    p = tmp_path / "after.txt"
    p.write_text("filed after a writer died holding the lock", encoding="utf-8")
    out = json.loads(cli("ingest", p, *CODE).output.splitlines()[0])
    assert out["archival_code"] == PREFIX + "0001"
    conn = raw_catalogue(archive_root)
    try:
        assert conn.execute("SELECT count(*) FROM piece_counters WHERE class_key = 'DEAD'").fetchone()[0] == 0
    finally:
        conn.close()
    assert "intact" in cli("audit", "verify").output


@pytest.fixture
def own_server():
    """A PostgreSQL of this test alone (it is restarted: the session's server stays up for the others)."""
    import pg_service
    server = pg_service.start()                  # in /tmp: the postgres account cannot enter tmp_path
    yield server
    server.stop()


def test_a_postgresql_restart_mid_transaction_loses_nothing_committed_and_writes_nothing_half(own_server, tmp_path):
    from dangan.core.archive import Archive
    from dangan.core.kernel.actor import Actor
    from dangan.core.catalogue import audit
    from dangan.errors import LockTimeout
    root = tmp_path / "archive"
    Archive.init(root, fonds="Z109", actor=Actor("tester", "tester"), catalogue_url=own_server.new_database()).close()
    code = dict(category="WS", department="BGS", retention="Y", date="2021-03-01")
    with Archive(root, Actor("tester", "tester")) as a:
        first = tmp_path / "1.txt"
        first.write_text("重启之前", encoding="utf-8")
        assert a.ingest(first, **code).archival_code == PREFIX + "0001"
        with pytest.raises(LockTimeout, match="unavailable"):
            with a.transaction() as conn:
                conn.execute("INSERT INTO piece_counters (class_key, last) VALUES ('HALF', 7)")
                own_server.restart()                      # the server goes away mid-transaction, and comes back
                conn.execute("INSERT INTO piece_counters (class_key, last) VALUES ('HALF2', 8)")
        second = tmp_path / "2.txt"
        second.write_text("重启之后", encoding="utf-8")
        assert a.ingest(second, **code).archival_code == PREFIX + "0002"     # the same process goes on
        assert a.conn.execute("SELECT count(*) FROM piece_counters WHERE class_key LIKE 'HALF%'").fetchone()[0] == 0
        assert audit.verify(a.conn) == []
        from ocfl_helpers import assert_store_valid
        assert_store_valid(root / "store")


OTHER_MACHINE = """
import sys
from dangan.core.catalogue import leases
from dangan.core.catalogue.db import PgConnection
conn = PgConnection(sys.argv[1])
conn.begin_immediate()
leases.hold(conn, "dzzzzzzzzzzzz")
conn.execute("INSERT INTO ingest_intents (object_id, pid, host, source, started)"
             " VALUES ('dzzzzzzzzzzzz', 4242, 'another-machine', 'scan.pdf', '2026-12-03T00:00:00Z')")
conn.execute("COMMIT")
print("writing", flush=True)
sys.stdin.readline()
"""


def test_an_intent_from_another_machine_is_settled_only_when_its_writer_is_gone(archive, archive_root):
    """No pid of another machine means anything here: its lease (renewed while it lives, core/catalogue/leases.py)
    does.  The other kinds of intent: test_pg_intent_leases.py."""
    import os
    from catalogue_helpers import catalogue_url
    from lease_helpers import wait_for
    from dangan.core.store.recovery import recover_interrupted
    writer = subprocess.Popen([sys.executable, "-c", OTHER_MACHINE, catalogue_url(archive_root)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                              env={**os.environ, "DANGAN_LEASE_SECONDS": "2"})
    try:
        assert writer.stdout.readline().strip() == "writing"
        assert recover_interrupted(archive)["forgotten"] == 0                # alive: left alone
        left = archive.conn.execute("SELECT count(*) FROM ingest_intents").fetchone()[0]
        assert left == 1
        writer.kill()                                                      # the other machine dies
        writer.wait()
    finally:
        if writer.poll() is None:
            writer.kill()
    assert wait_for(lambda: recover_interrupted(archive)["forgotten"] == 1, timeout=30)   # once its lease ended
    assert archive.conn.execute("SELECT count(*) FROM ingest_intents").fetchone()[0] == 0
    assert recover_interrupted(archive)["forgotten"] == 0


def test_a_read_after_a_postgresql_restart_is_asked_again_and_a_write_is_refused(own_server):
    """A server thread's connection outlives a PostgreSQL restart: its next read (a token look-up, the search
    nodes' cursor check) is asked again on a new session, not answered with a 500; a write outside a transaction
    is not repeated (it might have been done) but refused, and the one after it works."""
    from dangan.core.catalogue.db import ConnectionLost, PgConnection
    conn = PgConnection(own_server.new_database())
    conn.execute("CREATE TABLE t (x INTEGER)")
    conn.execute("INSERT INTO t (x) VALUES (1)")
    own_server.restart()
    assert conn.execute("SELECT count(*) FROM t").fetchone()[0] == 1      # the read, on a new session
    own_server.restart()
    with pytest.raises(ConnectionLost):
        conn.execute("INSERT INTO t (x) VALUES (2)")
    conn.execute("INSERT INTO t (x) VALUES (3)")
    assert [r[0] for r in conn.execute("SELECT x FROM t ORDER BY x").fetchall()] == [1, 3]
    conn.close()
