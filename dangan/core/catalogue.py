"""The catalogue: SQLite in WAL mode, schema versioned by migrations.

Every write runs in ``BEGIN IMMEDIATE`` (the write lock is taken up front, so
two writers never deadlock on an upgrade), with a busy timeout, and with
``synchronous=FULL`` because a lost commit could lose an acknowledged ingest.
"""
from __future__ import annotations

import sqlite3
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from ..errors import LockTimeout

BUSY_TIMEOUT_MS = 60_000

# Each migration moves the schema from version i to i+1; never edit a shipped one.
MIGRATIONS: list[str] = [
    # 1: records, versions, files, volumes, piece counters, audit, outbox, intents
    """
    CREATE TABLE records (
        id TEXT PRIMARY KEY,
        fonds TEXT NOT NULL,
        archival_code TEXT UNIQUE,
        piece_class TEXT,
        piece INTEGER,
        title TEXT NOT NULL DEFAULT '',
        department TEXT, category TEXT, year INTEGER, date TEXT,
        retention TEXT, secrecy TEXT NOT NULL DEFAULT 'public', volume TEXT,
        tags TEXT NOT NULL DEFAULT '[]',
        metadata TEXT NOT NULL DEFAULT '{}',
        status TEXT NOT NULL DEFAULT 'active',
        version INTEGER NOT NULL,
        created TEXT NOT NULL, updated TEXT NOT NULL,
        main_sha512 TEXT, main_mime TEXT, main_name TEXT,
        extraction_status TEXT, extraction_message TEXT
    );
    CREATE INDEX records_main_sha512 ON records(main_sha512);
    CREATE INDEX records_filter ON records(department, category, year);
    CREATE INDEX records_volume ON records(volume);
    CREATE TABLE versions (
        record_id TEXT NOT NULL REFERENCES records(id),
        version INTEGER NOT NULL,
        created TEXT NOT NULL, actor TEXT NOT NULL, message TEXT NOT NULL DEFAULT '',
        PRIMARY KEY (record_id, version)
    );
    CREATE TABLE files (
        record_id TEXT NOT NULL REFERENCES records(id),
        version INTEGER NOT NULL,
        path TEXT NOT NULL, role TEXT NOT NULL, size INTEGER NOT NULL, sha512 TEXT NOT NULL,
        mime TEXT, mime_by_extension TEXT, mime_mismatch INTEGER NOT NULL DEFAULT 0,
        original_name TEXT,
        PRIMARY KEY (record_id, version, path)
    );
    CREATE INDEX files_sha512 ON files(sha512);
    CREATE TABLE volumes (
        name TEXT PRIMARY KEY,
        title TEXT NOT NULL DEFAULT '',
        department TEXT, category TEXT, year INTEGER, retention TEXT,
        secrecy TEXT NOT NULL DEFAULT 'public',
        created TEXT NOT NULL
    );
    CREATE TABLE piece_counters (class_key TEXT PRIMARY KEY, last INTEGER NOT NULL);
    CREATE TABLE audit (
        seq INTEGER PRIMARY KEY,
        time TEXT NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL,
        object TEXT NOT NULL DEFAULT '', outcome TEXT NOT NULL,
        details TEXT NOT NULL DEFAULT '{}',
        prev_hash TEXT NOT NULL, hash TEXT NOT NULL
    );
    CREATE INDEX audit_object ON audit(object);
    CREATE TABLE audit_head (id INTEGER PRIMARY KEY CHECK (id = 1), seq INTEGER NOT NULL, hash TEXT NOT NULL);
    CREATE TABLE index_outbox (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        record_id TEXT NOT NULL, op TEXT NOT NULL, queued TEXT NOT NULL
    );
    CREATE TABLE ingest_intents (
        object_id TEXT PRIMARY KEY, pid INTEGER NOT NULL, host TEXT NOT NULL,
        source TEXT NOT NULL, started TEXT NOT NULL
    );
    """,
    # 2: alerts raised by plugins after archiving (e.g. drug quality: 10 hours to reach the manager)
    """
    CREATE TABLE alerts (
        id TEXT PRIMARY KEY,
        record_id TEXT NOT NULL, kind TEXT NOT NULL, message TEXT NOT NULL,
        due_at TEXT NOT NULL, recipient TEXT NOT NULL, plugin TEXT NOT NULL DEFAULT '',
        raised_at TEXT NOT NULL,
        notified_at TEXT, notify_result TEXT,
        acknowledged_at TEXT, acknowledged_by TEXT
    );
    CREATE INDEX alerts_open ON alerts(acknowledged_at, due_at);
    """,
    # 3: confidential volumes (stable id, public key) and records' sealed (encrypted) catalogue fields
    """
    ALTER TABLE volumes ADD COLUMN id TEXT;
    ALTER TABLE volumes ADD COLUMN confidential INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE volumes ADD COLUMN public_key TEXT;
    ALTER TABLE volumes ADD COLUMN created_by TEXT;
    CREATE UNIQUE INDEX volumes_id ON volumes(id);
    ALTER TABLE records ADD COLUMN sealed TEXT;
    """,
    # 4: reserved for the drop-folder watcher (issue 7): until it lands, a no-op
    "SELECT 1;",
    # 5: reserved for records management (issue 8): until it lands, a no-op
    "SELECT 1;",
    # 6: reserved for backups (issue 6): until it lands, a no-op
    "SELECT 1;",
]

SCHEMA_VERSION = len(MIGRATIONS)


def connect(path: Path, *, create: bool = False) -> sqlite3.Connection:
    """Open the catalogue, migrating it to the current schema."""
    if not create and not path.exists():
        from ..errors import IntegrityError
        raise IntegrityError(f"the catalogue {path} is missing: run `dangan rebuild-catalogue`")
    conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False)
    conn.row_factory = sqlite3.Row
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
    if mode != "wal":
        conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = FULL")
    conn.execute("PRAGMA foreign_keys = ON")
    migrate(conn)
    return conn


def migrate(conn: sqlite3.Connection) -> None:
    current = conn.execute("PRAGMA user_version").fetchone()[0]
    if current == SCHEMA_VERSION:
        return
    if current > SCHEMA_VERSION:
        from ..errors import UsageError
        raise UsageError(f"the catalogue has schema {current}, newer than this dangan ({SCHEMA_VERSION}): upgrade dangan")
    with transaction(conn):
        current = conn.execute("PRAGMA user_version").fetchone()[0]
        for i in range(current, SCHEMA_VERSION):
            for stmt in _statements(MIGRATIONS[i]):
                conn.execute(stmt)
            conn.execute(f"PRAGMA user_version = {i + 1}")


def _statements(script: str) -> Iterator[str]:
    buf = ""
    for line in script.splitlines(keepends=True):
        buf += line
        if sqlite3.complete_statement(buf):
            if buf.strip():
                yield buf
            buf = ""


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """A write transaction taken with BEGIN IMMEDIATE; commits or rolls back."""
    try:
        conn.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError as exc:
        if "locked" in str(exc) or "busy" in str(exc):
            raise LockTimeout("the catalogue is busy (another dangan is writing); try again") from None
        raise
    try:
        yield conn
        conn.execute("COMMIT")
    except BaseException as exc:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        if isinstance(exc, sqlite3.OperationalError):
            raise _translate(exc) from exc
        raise


def _translate(exc: sqlite3.OperationalError) -> Exception:
    text = str(exc)
    if "full" in text:
        from ..errors import StorageFull
        return StorageFull("disk full while writing the catalogue: the change was rolled back; free space and retry")
    if "locked" in text or "busy" in text:
        return LockTimeout("the catalogue is busy (another dangan is writing); try again")
    return exc
