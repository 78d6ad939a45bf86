"""PostgreSQL restarted while a `dangan ingest` is inside its write transaction (issue 17's faults).

The writer is held inside its catalogue transaction (``DANGAN_TEST_PAUSE_IN_WRITE``, core/store/new_version.py),
either as the transaction begins (before anything is published) or after it published its version to the store
(before the commit); the server itself shows that it is there: the writer's session idle in a transaction,
holding the catalogue's write lock.  The server is restarted
(fast: open transactions rolled back), the writer let go.

* As it begins: nothing of the file is anywhere; the writer says the catalogue was unavailable and to try
  again (exit 9), and a rerun files it.
* After publishing: the writer settles its own intent at once on a new session, adopting the published version,
  and says it is archived (as a batch's group commit does); a rerun finds it a duplicate.

Either way the file is filed exactly once: piece numbers gap-free, no intent left, `dangan check` and
`dangan audit verify` pass, ocfl-py validates the store.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from catalogue_helpers import raw_catalogue
from lease_helpers import wait_for

pytestmark = pytest.mark.postgresql_only

CODE = ["--category", "WS", "--dept", "BGS", "--retention", "Y", "--date", "2021-03-01", "--json"]
PREFIX = "Z109-WS·2021-Y-BGS-"


def dangan(root: Path, *args: object) -> list[str]:
    return [sys.executable, "-m", "dangan", "--archive", str(root), "--as", "tester", *map(str, args)]


@pytest.fixture
def own_server():
    """A PostgreSQL of this test alone (it is restarted: the session's server stays up for the others)."""
    import pg_service
    server = pg_service.start()                  # in /tmp: the postgres account cannot enter tmp_path
    yield server
    server.stop()


def writers_in_transaction(url: str) -> list[tuple]:
    """Sessions of other processes idle inside a transaction that holds the catalogue's write lock."""
    from dangan.core.catalogue.db import WRITE_LOCK_KEY, PgConnection
    conn = PgConnection(url)
    try:
        return [tuple(r) for r in conn.execute_raw(
            "SELECT a.pid, a.state FROM pg_stat_activity a JOIN pg_locks l ON l.pid = a.pid"
            " WHERE l.locktype = 'advisory' AND l.granted AND l.classid = %s AND l.objid = %s AND l.objsubid = 1"
            " AND a.state = 'idle in transaction' AND a.pid <> pg_backend_pid()",
            ((WRITE_LOCK_KEY >> 32) & 0xFFFFFFFF, WRITE_LOCK_KEY & 0xFFFFFFFF)).fetchall()]
    finally:
        conn.close()


@pytest.mark.parametrize("point", ["after-begin", "after-publish"])
def test_a_postgresql_restart_inside_an_ingest_s_transaction_files_the_file_exactly_once(own_server, tmp_path, point):
    from dangan.core.archive import Archive
    from dangan.core.kernel.actor import Actor
    from ocfl_helpers import assert_store_valid
    root, url = tmp_path / "archive", own_server.new_database()
    Archive.init(root, fonds="Z109", actor=Actor("tester", "tester"), catalogue_url=url).close()
    first, letter = tmp_path / "first.txt", tmp_path / "letter.txt"
    first.write_text("重启之前归档的一件", encoding="utf-8")
    letter.write_text("服务器重启时正在归档的一件", encoding="utf-8")
    done = subprocess.run(dangan(root, "ingest", first, *CODE), capture_output=True, text=True)
    assert done.returncode == 0, done.stderr

    hold = tmp_path / "held"
    writer = subprocess.Popen(dangan(root, "ingest", letter, *CODE), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, env={**os.environ, "DANGAN_TEST_PAUSE_IN_WRITE": f"{point}:{hold}"})
    try:
        assert wait_for(lambda: hold.exists() or writer.poll() is not None, timeout=30)
        assert hold.exists(), writer.communicate()
        held = writers_in_transaction(url)
        assert len(held) == 1, held                  # the writer, in its transaction, holding the write lock
        own_server.restart()
        hold.unlink()                                # let it go on, on a session the server has ended
        out, err = writer.communicate(timeout=60)
    finally:
        if writer.poll() is None:
            writer.kill()
            writer.wait()
    told = json.loads(out.splitlines()[-1])
    again = subprocess.run(dangan(root, "ingest", letter, *CODE), capture_output=True, text=True)
    rerun = json.loads(again.stdout.splitlines()[-1])
    if point == "after-begin":
        assert writer.returncode == 9 and told["exit_code"] == 9, (out, err)
        assert "unavailable" in told["message"] and "try again" in told["message"], told
        assert again.returncode == 0 and rerun["status"] == "archived", (again.stdout, again.stderr)
        assert rerun["archival_code"] == PREFIX + "0002"
    else:
        assert writer.returncode == 0 and told["status"] == "archived", (out, err)
        assert told["archival_code"] == PREFIX + "0002"
        assert again.returncode == 5 and rerun["status"] in ("duplicate", "refused"), (again.stdout, again.stderr)
        assert told["record_id"] in rerun["message"], rerun
    conn = raw_catalogue(root)
    try:
        codes = sorted(r[0] for r in conn.execute("SELECT archival_code FROM records").fetchall())
        intents = conn.execute("SELECT count(*) FROM ingest_intents").fetchone()[0]
    finally:
        conn.close()
    assert codes == [PREFIX + "0001", PREFIX + "0002"]      # the letter once, the next piece number, no gap
    assert intents == 0
    check = subprocess.run(dangan(root, "check"), capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    verify = subprocess.run(dangan(root, "audit", "verify"), capture_output=True, text=True)
    assert verify.returncode == 0 and "intact" in verify.stdout, verify.stdout + verify.stderr
    assert_store_valid(root / "store")
