"""``dangan catalogue migrate --to URL``: an embedded archive's catalogue moved to PostgreSQL, checked row by row.

The order makes a crash at any point harmless:

1. the target must be an empty database; the schema is made there (the same migrations);
2. the SQLite catalogue is held with ``BEGIN IMMEDIATE`` (no writer can change it) while every table is copied
   in one PostgreSQL transaction, the server-made keys' sequences set past the copied ones;
3. every table is read back from both and compared row by row (the same rows, the same values);
4. only then does ``dangan.toml`` name the new catalogue (written to a temporary file, fsynced, renamed);
   ``catalogue.sqlite`` is kept beside it as ``catalogue.sqlite.migrated-<UTC time>``, never deleted.

Until step 4 the archive is on SQLite as before (a failed or interrupted move leaves the target to be dropped
and nothing else changed); after it, on PostgreSQL with every row and the audit chain as they were.  The move
is an audit event in the new catalogue.  Stop watchers and servers of the archive first: a process that has
the old catalogue open would go on writing to the set-aside file.
"""
from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dangan.errors import IntegrityError, UsageError
from dangan.core.catalogue import db

if TYPE_CHECKING:
    from dangan.core.archive import Archive

#: tables of the SQLite file that are SQLite's own, not the catalogue's
_SKIP = ("sqlite_sequence", "sqlite_stat1", "sqlite_stat4")


@dataclass
class MoveReport:
    url: str
    tables: dict[str, int] = field(default_factory=dict)     # table → rows copied and checked
    set_aside: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"catalogue": db.redact(self.url), "tables": self.tables, "rows": sum(self.tables.values()),
                "set_aside": self.set_aside}


def _tables(conn: sqlite3.Connection) -> list[str]:
    return [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
            if r[0] not in _SKIP]


def _columns(conn: sqlite3.Connection, table: str) -> list[str]:
    return [r[1] for r in conn.execute(f"PRAGMA table_info({table})")]


def _norm(value: Any) -> Any:
    return bytes(value) if isinstance(value, memoryview) else value


def _quoted(col: str) -> str:
    return f'"{col}"'


def move_to_postgres(archive: Archive, url: str) -> MoveReport:
    from dangan.core.catalogue import connection
    if archive.catalogue_url:
        raise UsageError(f"the catalogue is on {db.redact(archive.catalogue_url)} already")
    from dangan.core.catalogue.location import check_new_url
    check_new_url(url, "--to")
    src = archive.conn
    target = connection.connect(url, create=True)
    report = MoveReport(url)
    try:
        with connection.transaction(src):            # no writer changes the SQLite catalogue from here on
            with connection.transaction(target):
                _copy(src, target, report)
            _check(src, target, report)
            _name_in_config(archive, url)             # from here on, a new process opens PostgreSQL
    finally:
        target.close()
    archive.close()                                    # the SQLite catalogue is closed: set it aside
    report.set_aside = _set_aside(archive)
    from dangan.core.kernel.config import Config
    archive.config = Config.load(archive.root)
    archive.record_event("catalogue.migrate", details=report.to_dict())
    return report


def _copy(src: sqlite3.Connection, target: db.PgConnection, report: MoveReport) -> None:
    target.execute_raw("SET CONSTRAINTS ALL DEFERRED")          # tables in any order; keys checked at COMMIT
    known = {r[0] for r in target.execute_raw(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()")}
    for table in _tables(src):
        if table not in known:
            raise IntegrityError(f"table {table} of catalogue.sqlite has no counterpart in the new schema")
        cols = _columns(src, table)
        target.execute_raw(f"DELETE FROM {table}")     # the new schema's own first rows (change_log_pruned's)
        insert = f"INSERT INTO {table} ({', '.join(map(_quoted, cols))}) VALUES ({', '.join(['%s'] * len(cols))})"
        n = 0
        for row in src.execute(f"SELECT * FROM {table}"):
            target.execute_raw(insert, tuple(row))
            n += 1
        report.tables[table] = n
    # an identity goes on from SQLite's AUTOINCREMENT counter, not only from the largest row left: the change log
    # (index_outbox) is pruned, and a number handed out again would sit below the search nodes' cursors
    handed_out = {r[0]: r[1] for r in src.execute("SELECT name, seq FROM sqlite_sequence")} \
        if src.execute("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_sequence'").fetchone() else {}
    for table, col in target.execute_raw(
            "SELECT table_name, column_name FROM information_schema.columns"
            " WHERE table_schema = current_schema() AND is_identity = 'YES'").fetchall():
        target.execute_raw(f"SELECT setval(pg_get_serial_sequence('{table}', '{col}'),"
                           f" GREATEST((SELECT max({_quoted(col)}) FROM {table}), %s, 1))",
                           (int(handed_out.get(table, 0)),))


def _check(src: sqlite3.Connection, target: db.PgConnection, report: MoveReport) -> None:
    """Every table: the same rows with the same values on both sides."""
    for table in report.tables:
        cols = ", ".join(map(_quoted, _columns(src, table)))
        a = sorted((tuple(_norm(v) for v in r) for r in src.execute(f"SELECT {cols} FROM {table}")), key=_sort_key)
        b = sorted((tuple(_norm(v) for v in r) for r in target.execute_raw(f"SELECT {cols} FROM {table}")),
                   key=_sort_key)
        if len(a) != len(b):
            raise IntegrityError(f"table {table}: {len(a)} rows in catalogue.sqlite, {len(b)} copied; nothing was"
                                 " switched")
        for i, (x, y) in enumerate(zip(a, b)):
            if x != y:
                raise IntegrityError(f"table {table}: row {i + 1} differs after the copy; nothing was switched")


def _sort_key(row: tuple) -> tuple:
    return tuple((v is None, type(v).__name__, v if v is not None else 0) for v in row)


def _name_in_config(archive: Archive, url: str) -> None:
    """dangan.toml names the new catalogue, atomically (a temporary file, fsynced, renamed)."""
    from dangan.core.catalogue.location import config_section
    from dangan.core.kernel.config import CONFIG_NAME
    path = archive.root / CONFIG_NAME
    text = path.read_text(encoding="utf-8")
    tmp = path.with_name(path.name + ".new")
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text.rstrip("\n") + "\n" + config_section(url))
        fh.flush()
        os.fsync(fh.fileno())
    os.chmod(tmp, path.stat().st_mode & 0o777)
    os.replace(tmp, path)
    _fsync_dir(archive.root)


def _set_aside(archive: Archive) -> str:
    """catalogue.sqlite (and its WAL) renamed to catalogue.sqlite.migrated-<UTC time>: kept, never deleted."""
    from dangan.core.kernel.clock import utc_now
    stamp = utc_now().strftime("%Y%m%dT%H%M%SZ")
    old = archive.catalogue_path
    aside = old.with_name(f"{old.name}.migrated-{stamp}")
    for suffix in ("", "-wal", "-shm"):
        p = Path(str(old) + suffix)
        if p.exists():
            os.replace(p, Path(str(aside) + suffix))
    _fsync_dir(archive.root)
    return aside.name


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def snapshot_to_sqlite(conn: db.PgConnection) -> sqlite3.Connection:
    """An in-memory SQLite copy of a catalogue on PostgreSQL, read in one consistent snapshot (REPEATABLE READ):
    what a backup keeps of the catalogue, in the same format whichever engine the archive runs on."""
    from dangan.core.catalogue import connection
    mem = sqlite3.connect(":memory:", isolation_level=None)
    mem.row_factory = sqlite3.Row
    connection.migrate(mem)
    conn.execute_raw("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
    try:
        mem.execute("BEGIN")
        for table in _tables(mem):
            cols = _columns(mem, table)
            names = ", ".join(map(_quoted, cols))
            rows = conn.execute_raw(f"SELECT {names} FROM {table}").fetchall()
            mem.execute(f"DELETE FROM {table}")                  # rows the migrations made (none today)
            mem.executemany(f"INSERT INTO {table} ({names}) VALUES ({', '.join('?' * len(cols))})",
                            [tuple(_norm(v) for v in r) for r in rows])
        # the change log's AUTOINCREMENT counter goes on past what was pruned (a restored archive's next change
        # must be numbered above the horizon, or its node would take it as applied)
        top = mem.execute("SELECT max(coalesce((SELECT max(seq) FROM index_outbox), 0),"
                          " coalesce((SELECT pruned_through FROM change_log_pruned), 0))").fetchone()[0]
        mem.execute("DELETE FROM sqlite_sequence WHERE name = 'index_outbox'")
        mem.execute("INSERT INTO sqlite_sequence (name, seq) VALUES ('index_outbox', ?)", (top,))
        mem.execute("COMMIT")
    finally:
        conn.execute_raw("COMMIT")
    return mem
