"""Round trips to PostgreSQL per catalogue statement (issue 17 part A: a write inside a transaction was three).

What the client sends and receives is read from libpq's own protocol trace (``PQtrace``, through psycopg's
``pgconn.trace``) of the archive's connection.  A round trip is the client waiting for the server: a ``Sync``
(the end of an extended-protocol exchange; the server answers ReadyForQuery), a simple ``Query``, or a ``Flush``
sent on its own (a result wanted before the Sync).  In pipeline mode the savepoint, the write and its release
are sent before one Sync: one round trip where there were three.  And a failed write still fails at itself and
leaves the transaction usable, as on SQLite: the same steps give the same rows on both engines.
"""
from __future__ import annotations

import re
import sqlite3
from contextlib import contextmanager
from pathlib import Path

import pytest

from dangan.core.catalogue.connection import transaction
from dangan.core.catalogue.db import PgConnection

pytestmark = pytest.mark.postgresql_only

GUARDS = ("SAVEPOINT dangan_stmt", "RELEASE SAVEPOINT dangan_stmt")
WRITES = ("INSERT", "UPDATE", "DELETE")


@contextmanager
def traced(conn: PgConnection, path: Path):
    """libpq's protocol trace of ``conn`` while the block runs, into ``path``; yields a list that is filled with
    the trace's messages [(direction, type, rest)] when the block ends."""
    from psycopg import pq
    messages: list[tuple[str, str, str]] = []
    with open(path, "w") as out:
        pgconn = conn._conn.pgconn
        pgconn.trace(out.fileno())
        pgconn.set_trace_flags(pq.Trace.SUPPRESS_TIMESTAMPS | pq.Trace.REGRESS_MODE)
        try:
            yield messages
        finally:
            pgconn.untrace()
    lines: list[str] = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        if line[:2] in ("F\t", "B\t") or not lines:
            lines.append(line)
        else:
            lines[-1] += "\n" + line                     # a statement of several lines
    for line in lines:
        direction, _length, kind, *rest = line.split("\t", 3)
        messages.append((direction, kind, rest[0] if rest else ""))


def exchanges(messages) -> list[list[str]]:
    """The SQL of the statements executed, grouped by round trip (see the module's docstring): each group was
    sent before the client waited (named prepared statements resolved)."""
    prepared: dict[str, str] = {}
    bound = ""
    groups: list[list[str]] = []
    group: list[str] = []
    previous = ""
    for direction, kind, rest in messages:
        if direction != "F":
            continue
        if kind == "Parse":
            m = re.fullmatch(r' "([^"]*)" "(.*)" \d+( NNNN)*', rest, re.S)
            assert m, rest
            prepared[m.group(1)] = m.group(2)
        elif kind == "Bind":
            m = re.match(r' "[^"]*" "([^"]*)"', rest)
            assert m, rest
            bound = prepared[m.group(1)]
        elif kind == "Execute":
            group.append(bound)
        elif kind == "Query":
            group.append(rest.strip()[1:-1])
        if kind in ("Sync", "Query") or (kind == "Flush" and previous != "Sync"):
            groups.append(group)
            group = []
        previous = kind
    assert not group, group                                # nothing sent that was not waited for
    return groups


def round_trips(messages) -> int:
    return len(exchanges(messages))


def statements(messages) -> list[str]:
    return [s for group in exchanges(messages) for s in group]


def test_a_write_inside_a_transaction_costs_one_round_trip(archive, tmp_path):
    conn = archive.conn
    with traced(conn, tmp_path / "trace") as messages:
        with archive.transaction() as tx:
            for i in range(5):
                tx.execute("INSERT INTO piece_counters (class_key, last) VALUES (?, ?)", (f"RT-{i}", i))
            tx.execute("UPDATE piece_counters SET last = last + 1 WHERE class_key LIKE 'RT-%'")
            assert tx.execute("SELECT count(*) FROM piece_counters WHERE class_key LIKE 'RT-%'").fetchone()[0] == 5
            tx.execute("DELETE FROM piece_counters WHERE class_key = 'RT-0'")
    run = statements(messages)
    writes = [s for s in run if s.lstrip().upper().startswith(WRITES)]
    assert len(writes) == 7
    assert sum(s in GUARDS for s in run) == 2 * len(writes)           # each write is still under its savepoint
    # BEGIN and the write lock together, 7 writes, 1 read, COMMIT: 10 (it was 2 + 3 × 7 + 1 + 1 = 25)
    assert round_trips(messages) == 1 + len(writes) + 1 + 1
    rows = conn.execute("SELECT class_key, last FROM piece_counters WHERE class_key LIKE 'RT-%' ORDER BY class_key")
    assert [tuple(r) for r in rows.fetchall()] == [(f"RT-{i}", i + 1) for i in range(1, 5)]


def test_an_ingest_waits_once_per_statement_never_for_a_savepoint(archive, tmp_path):
    """A real ingest's catalogue work: every write of its transactions guarded, and the client waits once per
    statement sent, savepoints aside (BEGIN rides with the write lock)."""
    from ocfl_helpers import assert_store_valid
    source = tmp_path / "letter.txt"
    source.write_text("关于档案数字化的通知", encoding="utf-8")
    with traced(archive.conn, tmp_path / "trace") as messages:
        record = archive.ingest(source, category="WS", department="BGS", retention="Y", date="2021-03-01")
    assert record.archival_code.endswith("-0001")
    groups = exchanges(messages)
    guarded = [g for g in groups if g[0] == GUARDS[0]]
    in_tx = False
    for g in groups:
        if g[0] == "BEGIN":
            assert len(g) == 2 and g[1].startswith("SELECT pg_advisory_xact_lock("), g
            in_tx = True
        elif g[0] == GUARDS[0]:                           # (SAVEPOINT, a write, RELEASE) × the rows of a batch
            assert in_tx and len(g) % 3 == 0 and all(g[i] == GUARDS[0] and g[i + 2] == GUARDS[1]
                                                     and g[i + 1].lstrip().upper().startswith(WRITES)
                                                     for i in range(0, len(g), 3)), g
        else:                                             # a read, COMMIT, or a write outside a transaction
            assert len(g) == 1 and g[0] not in GUARDS, g
            assert not (in_tx and g[0].lstrip().upper().startswith(WRITES)), g      # no write unguarded
            in_tx = in_tx and g[0] not in ("COMMIT", "ROLLBACK")
    writes = sum(len(g) // 3 for g in guarded)
    sent = sum(len(g) for g in groups)
    assert any(g[0] == "BEGIN" for g in groups) and writes >= 5, groups  # the record row, its audit event, …
    print(f"ingest of one file: {sent} statements sent ({writes} writes in transactions, under their savepoints):"
          f" {len(groups)} round trips, where one per statement sent was {sent}")
    assert_store_valid(archive.root / "store")


def _steps(conn, begin, commit) -> list[str]:
    """A transaction whose writes fail in the ways callers catch: the errors seen, in order."""
    seen = []
    begin()
    conn.execute("INSERT INTO t (k, v) VALUES ('a', 1)")
    try:
        conn.execute("INSERT INTO t (k, v) VALUES ('a', 2)")
    except sqlite3.IntegrityError as exc:
        seen.append("IntegrityError: " + str(exc).split(":")[0])
    cur = conn.execute("INSERT OR IGNORE INTO t (k, v) VALUES ('a', 3)")
    seen.append(f"ignored: {cur.rowcount}")
    try:
        conn.execute("UPDATE t SET v = NULL WHERE k = 'a'")
    except sqlite3.IntegrityError:
        seen.append("IntegrityError (NOT NULL)")
    try:
        conn.executemany("INSERT INTO t (k, v) VALUES (?, ?)", [("b", 4), ("c", 5), ("a", 6), ("d", 7)])
    except sqlite3.IntegrityError as exc:
        seen.append("IntegrityError: " + str(exc).split(":")[0])
    conn.execute("UPDATE t SET v = v + 10 WHERE k = 'b'")
    commit()
    seen.append(repr([tuple(r) for r in conn.execute("SELECT k, v FROM t ORDER BY k").fetchall()]))
    return seen


@pytest.mark.parametrize("pipeline", ["pipeline", "no pipeline (libpq < 14)"])
def test_a_failed_write_fails_at_itself_and_the_transaction_goes_on_as_on_sqlite(archive, pipeline, monkeypatch):
    import psycopg
    if pipeline != "pipeline":
        monkeypatch.setattr(psycopg.Pipeline, "is_supported", classmethod(lambda cls: False))
    schema = "CREATE TABLE t (k TEXT PRIMARY KEY, v INTEGER NOT NULL)"
    lite = sqlite3.connect(":memory:", isolation_level=None)
    lite.execute(schema)
    on_sqlite = _steps(lite, lambda: lite.execute("BEGIN IMMEDIATE"), lambda: lite.execute("COMMIT"))
    pg = archive.conn
    pg.execute(schema)
    with transaction(pg) as tx:
        on_pg = _steps(tx, lambda: None, lambda: None)[:-1]
    on_pg.append(repr([tuple(r) for r in pg.execute("SELECT k, v FROM t ORDER BY k").fetchall()]))
    assert on_sqlite == ["IntegrityError: UNIQUE constraint failed", "ignored: 0", "IntegrityError (NOT NULL)",
                         "IntegrityError: UNIQUE constraint failed", repr([("a", 1), ("b", 14), ("c", 5)])]
    assert on_pg == on_sqlite
    assert not pg.in_transaction
