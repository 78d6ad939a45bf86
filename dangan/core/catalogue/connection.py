"""The catalogue: SQLite in WAL mode (or PostgreSQL, :mod:`.db`), schema versioned by migrations.

Every write runs in ``BEGIN IMMEDIATE`` (the write lock is taken up front, so
two writers never deadlock on an upgrade), with a busy timeout, and with
``synchronous=FULL`` because a lost commit could lose an acknowledged ingest.
On PostgreSQL the same write lock is a transaction-level advisory lock (:mod:`.db`); the migrations are
the same list, their DDL rewritten by :func:`.db.translate_ddl`, the schema version kept in ``dangan_schema``.
A migration is SQL text, or a Python function of the connection for data only Python can compute (the
folded columns: no Python function is ever called from SQL).
"""
from __future__ import annotations

import sqlite3
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator, Union

from dangan.errors import LockTimeout
from dangan.core.catalogue import db

BUSY_TIMEOUT_MS = 60_000

# Each migration moves the schema from version i to i+1; never edit a shipped one.
Migration = Union[str, Callable[[Any], None]]

MIGRATIONS: list[Migration] = [
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
    # 4: the drop-folder watcher (issue 7): hand-offs of drop files, records awaiting background extraction
    """
    CREATE TABLE watch_handoffs (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        folder TEXT NOT NULL,
        path TEXT NOT NULL,
        path_key TEXT NOT NULL,
        sha512 TEXT,
        size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL,
        pid INTEGER NOT NULL, host TEXT NOT NULL,
        audit_seq INTEGER NOT NULL,
        started TEXT NOT NULL,
        state TEXT NOT NULL,
        outcome TEXT, record_id TEXT, reason TEXT, finished TEXT
    );
    CREATE INDEX watch_handoffs_state ON watch_handoffs(state);
    CREATE INDEX watch_handoffs_path_key ON watch_handoffs(path_key);
    CREATE TABLE extraction_queue (
        record_id TEXT PRIMARY KEY,
        queued TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        last_error TEXT, last_attempt TEXT
    );
    """,
    # 5: records management (issue 8): users register, access grants, loans, holds, disposition, inspections.
    # No foreign keys to records: destruction and rebuild-catalogue delete and re-insert record rows.
    """
    CREATE TABLE users (
        name TEXT PRIMARY KEY,
        display_name TEXT NOT NULL DEFAULT '',
        department TEXT,
        roles TEXT NOT NULL DEFAULT '[]',
        clearance TEXT NOT NULL DEFAULT 'internal',
        active INTEGER NOT NULL DEFAULT 1,
        created TEXT NOT NULL, created_by TEXT NOT NULL, updated TEXT NOT NULL
    );
    CREATE TABLE grants (
        id INTEGER PRIMARY KEY,
        record_id TEXT NOT NULL, action TEXT NOT NULL, grantee TEXT NOT NULL,
        granted_by TEXT NOT NULL, granted_at TEXT NOT NULL, expires_at TEXT NOT NULL,
        reason TEXT NOT NULL DEFAULT '', revoked_at TEXT
    );
    CREATE INDEX grants_lookup ON grants(grantee, record_id, action);
    CREATE TABLE loans (
        id TEXT PRIMARY KEY,
        borrower TEXT NOT NULL, department TEXT, purpose TEXT NOT NULL, days INTEGER NOT NULL,
        external_unit TEXT, letter_ref TEXT, id_number TEXT,
        status TEXT NOT NULL,
        requested_by TEXT NOT NULL, requested_at TEXT NOT NULL,
        decided_by TEXT, decided_at TEXT, decision_note TEXT,
        due TEXT, closed_at TEXT
    );
    CREATE INDEX loans_status ON loans(status, due);
    CREATE TABLE loan_items (
        loan_id TEXT NOT NULL REFERENCES loans(id),
        record_id TEXT NOT NULL,
        returned_at TEXT, received_by TEXT, condition TEXT,
        PRIMARY KEY (loan_id, record_id)
    );
    CREATE INDEX loan_items_record ON loan_items(record_id);
    CREATE TABLE holds (
        id TEXT PRIMARY KEY,
        scope_kind TEXT NOT NULL, scope TEXT NOT NULL,
        reason TEXT NOT NULL, authority TEXT NOT NULL,
        created TEXT NOT NULL, created_by TEXT NOT NULL,
        released_at TEXT, released_by TEXT, release_reason TEXT
    );
    CREATE TABLE hold_records (
        hold_id TEXT NOT NULL REFERENCES holds(id),
        record_id TEXT NOT NULL,
        PRIMARY KEY (hold_id, record_id)
    );
    CREATE INDEX hold_records_record ON hold_records(record_id);
    CREATE TABLE retention_extensions (
        id INTEGER PRIMARY KEY,
        record_id TEXT NOT NULL, until TEXT NOT NULL, reason TEXT NOT NULL,
        created TEXT NOT NULL, created_by TEXT NOT NULL
    );
    CREATE INDEX retention_extensions_record ON retention_extensions(record_id);
    CREATE TABLE disposal_lists (
        id TEXT PRIMARY KEY,
        status TEXT NOT NULL,
        as_of TEXT NOT NULL, reason TEXT NOT NULL DEFAULT '',
        proposed_by TEXT NOT NULL, proposed_at TEXT NOT NULL,
        decided_by TEXT, decided_at TEXT, decision_note TEXT,
        executed_by TEXT, executed_at TEXT,
        certificate TEXT
    );
    CREATE TABLE disposal_items (
        list_id TEXT NOT NULL REFERENCES disposal_lists(id),
        record_id TEXT NOT NULL,
        archival_code TEXT, title TEXT NOT NULL DEFAULT '', secrecy TEXT, retention TEXT,
        due TEXT, action TEXT NOT NULL,
        outcome TEXT, certificate_sha256 TEXT,
        PRIMARY KEY (list_id, record_id)
    );
    CREATE INDEX disposal_items_record ON disposal_items(record_id);
    CREATE TABLE inspections (
        id INTEGER PRIMARY KEY,
        record_id TEXT, volume TEXT,
        inspected_at TEXT NOT NULL, inspector TEXT NOT NULL,
        condition TEXT NOT NULL, fading TEXT NOT NULL DEFAULT 'none', damage TEXT NOT NULL DEFAULT '',
        environment TEXT NOT NULL DEFAULT '', notes TEXT NOT NULL DEFAULT '',
        CHECK ((record_id IS NULL) != (volume IS NULL))
    );
    CREATE INDEX inspections_record ON inspections(record_id, inspected_at);
    CREATE INDEX inspections_volume ON inspections(volume, inspected_at);
    """,
    # 6: backups (issue 6): repositories this archive backs up to, purges owed to them after a destruction,
    #    and the runs (local state, left out of the catalogue copy in each snapshot)
    """
    CREATE TABLE backup_repos (
        repo_id TEXT PRIMARY KEY, location TEXT NOT NULL, added TEXT NOT NULL
    );
    CREATE TABLE backup_purges (
        repo_id TEXT NOT NULL, record_id TEXT NOT NULL, queued TEXT NOT NULL,
        certificate_sha256 TEXT NOT NULL DEFAULT '',
        PRIMARY KEY (repo_id, record_id)
    );
    CREATE TABLE backup_runs (
        seq INTEGER PRIMARY KEY, repo_id TEXT NOT NULL, location TEXT NOT NULL, op TEXT NOT NULL,
        started TEXT NOT NULL, finished TEXT NOT NULL, outcome TEXT NOT NULL, snapshot TEXT,
        message TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX backup_runs_outcome ON backup_runs(op, outcome, finished);
    """,
    # 7: records management, second part (issue 8): users bound to OS accounts (NULL = the user name) and who
    #    may act as them; loans are issued (requested → approved → issued → returned), each item in place or as
    #    a recorded, watermarked copy.  Loans approved before this migration were already out: they are issued.
    """
    ALTER TABLE users ADD COLUMN os_account TEXT;
    ALTER TABLE users ADD COLUMN may_act_as TEXT NOT NULL DEFAULT '[]';
    ALTER TABLE loan_items ADD COLUMN issued_at TEXT;
    ALTER TABLE loan_items ADD COLUMN issued_by TEXT;
    ALTER TABLE loan_items ADD COLUMN issue_mode TEXT;
    ALTER TABLE loan_items ADD COLUMN copy_to TEXT;
    ALTER TABLE loan_items ADD COLUMN copy_files TEXT;
    UPDATE loan_items SET issued_at = (SELECT decided_at FROM loans WHERE loans.id = loan_items.loan_id),
        issue_mode = 'in-place' WHERE loan_id IN (SELECT id FROM loans WHERE status IN ('on-loan', 'returned'));
    UPDATE loans SET status = 'issued' WHERE status = 'on-loan';
    """,
    # 8: listings sort by creation, date or archival code without sorting the whole table
    """
    CREATE INDEX records_created ON records(created, id);
    CREATE INDEX records_date ON records(date, id);
    """,
    # 9: four eyes by real identities (issue 11): each step of an approval chain stores the identity that took it
    #    (``uid:N`` or ``session:S``, NULL before this migration); declassification requests and their approvals.
    """
    ALTER TABLE disposal_lists ADD COLUMN proposed_identity TEXT;
    ALTER TABLE disposal_lists ADD COLUMN decided_identity TEXT;
    ALTER TABLE disposal_lists ADD COLUMN executed_identity TEXT;
    ALTER TABLE loans ADD COLUMN requested_identity TEXT;
    ALTER TABLE loans ADD COLUMN decided_identity TEXT;
    ALTER TABLE loan_items ADD COLUMN issued_identity TEXT;
    ALTER TABLE grants ADD COLUMN granted_identity TEXT;
    CREATE TABLE declassifications (
        id TEXT PRIMARY KEY,
        record_id TEXT NOT NULL, from_level TEXT NOT NULL, to_level TEXT NOT NULL, reason TEXT NOT NULL,
        status TEXT NOT NULL,
        requested_by TEXT NOT NULL, requested_identity TEXT NOT NULL, requested_at TEXT NOT NULL,
        decided_by TEXT, decided_identity TEXT, decided_at TEXT, decision_note TEXT,
        version INTEGER
    );
    CREATE INDEX declassifications_record ON declassifications(record_id, status);
    """,
    # 10: destruction survives a crash (issue 12): the intent of a destruction (the tombstone's metadata.json,
    #    the certificate and the audit details, fixed before anything is removed) is committed first; recovery
    #    rolls a started destruction forward from it (core/management/destruction_intent.py).
    """
    CREATE TABLE destruction_intents (
        record_id TEXT PRIMARY KEY,
        status TEXT NOT NULL,
        list_id TEXT,
        tombstone BLOB NOT NULL,
        certificate TEXT NOT NULL,
        event TEXT NOT NULL,
        sealed INTEGER NOT NULL DEFAULT 0,
        actor TEXT NOT NULL, created TEXT NOT NULL, pid INTEGER NOT NULL, host TEXT NOT NULL
    );
    """,
    # 11: the audit trail anchored outside the catalogue (issue 12): the head carries the checkpoint number of
    #    its transaction and the audit key's HMAC over it; pieces are allocated above the highest one in use
    """
    ALTER TABLE audit_head ADD COLUMN checkpoint INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE audit_head ADD COLUMN mac TEXT NOT NULL DEFAULT '';
    CREATE INDEX records_piece ON records(piece_class, piece);
    """,
    # 12: PRONOM format identification (issue 18): each file's PUID, format name and how it was found
    #    (signature, container, extension, none); NULL where identification did not run (sealed, older rows)
    """
    ALTER TABLE files ADD COLUMN puid TEXT;
    ALTER TABLE files ADD COLUMN format_name TEXT;
    ALTER TABLE files ADD COLUMN format_basis TEXT;
    CREATE INDEX files_puid ON files(puid);
    """,
    # 13: dangan serve (issue 16): web passwords (argon2id hashes), server-side sessions (stored as sha256 of the
    #    cookie), failed sign-ins (throttling), API tokens (stored as sha256, with scopes and expiry), and the
    #    Idempotency-Key of each API ingest (core/policy/credentials.py)
    """
    CREATE TABLE web_passwords (
        user TEXT PRIMARY KEY, hash TEXT NOT NULL, set_at TEXT NOT NULL, set_by TEXT NOT NULL
    );
    CREATE TABLE web_sessions (
        id_hash TEXT PRIMARY KEY, user TEXT NOT NULL, csrf TEXT NOT NULL,
        created TEXT NOT NULL, expires TEXT NOT NULL, ended_at TEXT
    );
    CREATE INDEX web_sessions_user ON web_sessions(user);
    CREATE TABLE signin_failures (user TEXT NOT NULL, at TEXT NOT NULL);
    CREATE INDEX signin_failures_user ON signin_failures(user, at);
    CREATE TABLE api_tokens (
        id TEXT PRIMARY KEY, user TEXT NOT NULL, hash TEXT NOT NULL UNIQUE, scopes TEXT NOT NULL,
        created TEXT NOT NULL, created_by TEXT NOT NULL, expires TEXT NOT NULL, revoked_at TEXT, last_used TEXT
    );
    CREATE TABLE idempotency_keys (
        user TEXT NOT NULL, key TEXT NOT NULL, request_digest TEXT NOT NULL, record_id TEXT,
        created TEXT NOT NULL, PRIMARY KEY (user, key)
    );
    """,
    # 14: a volume's life (issue 19.2): its filer (立卷人) and checker (检查人), notes for the reference
    #     sheet, and closing (封卷: no more records filed in)
    """
    ALTER TABLE volumes ADD COLUMN filer TEXT;
    ALTER TABLE volumes ADD COLUMN checker TEXT;
    ALTER TABLE volumes ADD COLUMN notes TEXT NOT NULL DEFAULT '';
    ALTER TABLE volumes ADD COLUMN closed_at TEXT;
    ALTER TABLE volumes ADD COLUMN closed_by TEXT;
    """,
    # 15: physical locations (issue 19.3): the tree 库房 → 架 → 层 → 盒 and the box each paper original is in
    """
    CREATE TABLE locations (
        id TEXT PRIMARY KEY, kind TEXT NOT NULL, name TEXT NOT NULL, parent TEXT REFERENCES locations(id),
        barcode TEXT UNIQUE, created TEXT NOT NULL, created_by TEXT NOT NULL
    );
    CREATE TABLE record_locations (
        record_id TEXT PRIMARY KEY, box TEXT NOT NULL REFERENCES locations(id),
        placed TEXT NOT NULL, placed_by TEXT NOT NULL
    );
    CREATE INDEX record_locations_box ON record_locations(box);
    """,
    # 16: a batch scan's split survives a crash (issue 18.1): the split under way, until its last part is
    #     archived; recovery makes the parts a dead process did not (core/store/scan_resume.py)
    """
    CREATE TABLE scan_splits (
        token TEXT PRIMARY KEY, batch_id TEXT, source_name TEXT NOT NULL, fields TEXT NOT NULL,
        pid INTEGER NOT NULL, host TEXT NOT NULL, started TEXT NOT NULL
    );
    """,
    # 17: moving a sealed record out of its confidential volume (issue 19.1) waits for a security officer's
    #     approval: the request, the decision (four eyes: identities kept) and when it was applied
    """
    CREATE TABLE volume_moves (
        id TEXT PRIMARY KEY, record_id TEXT NOT NULL, from_volume TEXT NOT NULL, to_volume TEXT NOT NULL,
        to_secrecy TEXT NOT NULL, reason TEXT NOT NULL, status TEXT NOT NULL,
        requested_by TEXT NOT NULL, requested_identity TEXT, requested_at TEXT NOT NULL,
        decided_by TEXT, decided_identity TEXT, decided_at TEXT, decision_note TEXT, applied_at TEXT
    );
    CREATE INDEX volume_moves_record ON volume_moves(record_id, status);
    """,
    # 18: lending a paper original out of the room (issue 19.3): an item issued in place whose record has a
    #     paper original in a box takes the paper out (借出) until it is returned
    """
    ALTER TABLE loan_items ADD COLUMN paper_out INTEGER NOT NULL DEFAULT 0;
    """,
    # 19: folded columns (issue 17): each record row carries the fields the search filters compare, folded as the
    #     index folds them (NFKC, case, Traditional -> Simplified), so no Python function is called from SQL
    """
    ALTER TABLE records ADD COLUMN title_fold TEXT;
    ALTER TABLE records ADD COLUMN department_fold TEXT;
    ALTER TABLE records ADD COLUMN category_fold TEXT;
    ALTER TABLE records ADD COLUMN year_fold TEXT;
    ALTER TABLE records ADD COLUMN date_fold TEXT;
    ALTER TABLE records ADD COLUMN retention_fold TEXT;
    ALTER TABLE records ADD COLUMN secrecy_fold TEXT;
    ALTER TABLE records ADD COLUMN volume_fold TEXT;
    ALTER TABLE records ADD COLUMN archival_code_fold TEXT;
    ALTER TABLE records ADD COLUMN status_fold TEXT;
    ALTER TABLE records ADD COLUMN tags_fold TEXT;
    ALTER TABLE records ADD COLUMN metadata_fold TEXT;
    """,
    # 20: fill them for the records filed before 19 (Python computes the fold: core/catalogue/folded.py)
    lambda conn: _fill_folded(conn),
    # 21: leases on the extraction queue (issue 17.5): a `dangan worker` on any machine claims a job
    #     (claimed_by = host:pid:uuid) until lease_until (Unix seconds); a dead worker's job is taken again after it
    """
    ALTER TABLE extraction_queue ADD COLUMN claimed_by TEXT;
    ALTER TABLE extraction_queue ADD COLUMN lease_until INTEGER;
    """,
    # 22: leases of intents on a shared catalogue (issue 17.2): ingest intents, batch-scan splits, destructions and
    #     watcher hand-offs are settled by another machine once their writer stops renewing (core/catalogue/leases.py)
    """
    CREATE TABLE intent_leases (
        kind TEXT NOT NULL, key TEXT NOT NULL, holder TEXT NOT NULL, until INTEGER NOT NULL,
        PRIMARY KEY (kind, key)
    );
    CREATE INDEX intent_leases_holder ON intent_leases(holder);
    """,
    # 23: search nodes (issue 17.4): the index outbox is the change log every node's index follows.  A node (an
    #     archive folder with its own index; index/node.json names it) records the last change it applied; the
    #     log is pruned only below every known node's cursor, and change_log_pruned keeps the highest change
    #     removed, so a node left behind by a prune knows it must rebuild its index
    """
    CREATE TABLE search_nodes (
        node_id TEXT PRIMARY KEY, applied INTEGER NOT NULL, host TEXT NOT NULL, folder TEXT NOT NULL,
        registered TEXT NOT NULL, seen TEXT NOT NULL
    );
    CREATE TABLE change_log_pruned (id INTEGER PRIMARY KEY CHECK (id = 1), pruned_through INTEGER NOT NULL);
    INSERT INTO change_log_pruned (id, pruned_through) SELECT 1, coalesce(min(seq) - 1, 0) FROM index_outbox;
    """,
]


def _fill_folded(conn: Any) -> None:
    from dangan.core.catalogue import folded
    folded.fill(conn)

SCHEMA_VERSION = len(MIGRATIONS)
#: the oldest PostgreSQL major version a catalogue may run on (issue 17: "any PostgreSQL ≥ 15")
PG_MIN_VERSION = 15


def connect(path: Path | str, *, create: bool = False) -> Any:
    """Open the catalogue, migrating it to the current schema.

    ``path`` is the SQLite file, or a ``postgresql://`` URL (:mod:`.db`).  Only ``create=True`` may make a new
    SQLite file, and only where no file is: an existing file that is empty, schemaless or damaged is refused
    (see :mod:`.catalogue_health`), never taken for new.
    """
    if db.is_postgres(str(path)):
        return connect_postgres(str(path), create=create)
    path = Path(path)
    from dangan.core.catalogue import health
    problem = health.problem_before_open(path)
    if problem and not (create and problem == "is missing"):
        raise health.refusal(path, problem)
    conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False)
    try:
        conn.row_factory = sqlite3.Row
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        if not problem:
            problem = health.problem_after_open(conn)
            if problem:
                raise health.refusal(path, problem)
        mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
        if mode != "wal":
            conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute("PRAGMA foreign_keys = ON")
        migrate(conn)
    except sqlite3.DatabaseError as exc:
        conn.close()
        if health.is_damage(exc):
            raise health.refusal(path, f"is damaged ({exc})") from None
        raise
    except BaseException:
        conn.close()
        raise
    return conn


#: PostgreSQL only: the schema version (SQLite keeps it in ``PRAGMA user_version``) and ``json_extract`` as
#: SQLite's, an SQL function (``$.key`` and ``$."dotted.key"`` are SQL/JSON paths too)
PG_BOOTSTRAP = (
    "CREATE TABLE IF NOT EXISTS dangan_schema (id INTEGER PRIMARY KEY CHECK (id = 1), version INTEGER NOT NULL)",
    "CREATE OR REPLACE FUNCTION json_extract(doc text, path text) RETURNS text LANGUAGE sql IMMUTABLE AS "
    "$$ SELECT jsonb_path_query_first(doc::jsonb, path::jsonpath) #>> '{}' $$",
)


def connect_postgres(url: str, *, create: bool = False) -> db.PgConnection:
    """The catalogue in a PostgreSQL database; ``create`` makes its schema in an empty database."""
    from dangan.errors import IntegrityError, UsageError
    try:
        conn = db.PgConnection(url)
    except sqlite3.OperationalError as exc:
        raise UsageError(str(exc)) from None
    try:
        check_server_version(conn, url)
        if _schema_current(conn):            # the common case, every open of a made catalogue: one round trip
            return conn
        tables = {r[0] for r in conn.execute_raw(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()")}
        if "dangan_schema" not in tables:
            if tables - {"dangan_schema"} and "records" in tables:
                raise IntegrityError(f"the catalogue at {db.redact(url)} has tables but no dangan_schema: not"
                                     " a dangan catalogue (or damaged); refused")
            if not create:
                raise IntegrityError(f"the catalogue at {db.redact(url)} is empty (no dangan schema): refused;"
                                     " a new archive is made with `dangan init --catalogue URL`")
        migrate(conn)
    except BaseException:
        conn.close()
        raise
    return conn


def pg_version_text(version: int) -> str:
    """libpq's number as people write it: 150004 → "15.4", 90624 → "9.6.24"."""
    if version >= 100000:
        return f"{version // 10000}.{version % 10000}"
    return f"{version // 10000}.{version // 100 % 100}.{version % 100}"


def check_server_version(conn: db.PgConnection, url: str) -> None:
    """Refuse a server older than :data:`PG_MIN_VERSION`, the one docs/deployment.md promises and the suite runs
    on (an older server is untested: refused with its version, not left to fail somewhere later).  Said at
    connect, from what libpq learnt in the start-up: no round trip."""
    from dangan.errors import UsageError
    found = conn.server_version
    if found < PG_MIN_VERSION * 10000:
        raise UsageError(f"the catalogue at {db.redact(url)} is on PostgreSQL {pg_version_text(found)}; dangan needs "
                         f"PostgreSQL {PG_MIN_VERSION} or later: upgrade the server (or use another one)")


def _schema_current(conn: db.PgConnection) -> bool:
    """True if the database holds this dangan's schema (no migration due), asked in one statement; False
    for anything else (no ``dangan_schema`` table yet, an older or newer schema): the full check decides."""
    try:
        row = conn.execute_raw("SELECT version FROM dangan_schema WHERE id = 1").fetchone()
    except sqlite3.OperationalError:         # no such table (an empty database): not an error here
        return False
    return bool(row) and row[0] == SCHEMA_VERSION


def schema_version(conn: Any) -> int:
    if isinstance(conn, db.PgConnection):
        row = conn.execute_raw("SELECT version FROM dangan_schema WHERE id = 1").fetchone()
        return row[0] if row else 0
    return conn.execute("PRAGMA user_version").fetchone()[0]


def migrate(conn: Any) -> None:
    pg = isinstance(conn, db.PgConnection)
    if pg and conn.execute_raw("SELECT to_regclass('dangan_schema')").fetchone()[0] is None:
        conn.begin_immediate()                  # bootstrap under the write lock: two first openers, one schema
        try:
            for stmt in PG_BOOTSTRAP:
                conn.execute_raw(stmt)
            conn.commit()
        except BaseException:
            conn.rollback()
            raise
    current = schema_version(conn)
    if current == SCHEMA_VERSION:
        return
    if current > SCHEMA_VERSION:
        from dangan.errors import UsageError
        raise UsageError(f"the catalogue has schema {current}, newer than this dangan ({SCHEMA_VERSION}): upgrade dangan")
    with transaction(conn):
        current = schema_version(conn)
        for i in range(current, SCHEMA_VERSION):
            step = MIGRATIONS[i]
            if callable(step):
                step(conn)
            else:
                for stmt in _statements(step):
                    if pg:
                        conn.execute_raw(db.translate_ddl(stmt))
                    else:
                        conn.execute(stmt)
            if pg:
                conn.execute_raw("INSERT INTO dangan_schema (id, version) VALUES (1, %s) ON CONFLICT (id) DO UPDATE"
                                 " SET version = excluded.version", (i + 1,))
            else:
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
def transaction(conn: Any) -> Iterator[Any]:
    """A write transaction taken with BEGIN IMMEDIATE (PostgreSQL: BEGIN + the write lock); commits or rolls back."""
    try:
        if isinstance(conn, db.PgConnection):
            conn.begin_immediate()
        else:
            conn.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError as exc:
        if "locked" in str(exc) or "busy" in str(exc):
            raise LockTimeout("the catalogue is busy (another dangan is writing); try again") from None
        if isinstance(exc, db.ConnectionLost):
            raise _translate(exc) from exc
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
    if isinstance(exc, db.ConnectionLost):
        return LockTimeout(f"the catalogue is unavailable: {exc}")
    text = str(exc)
    if "full" in text:
        from dangan.errors import StorageFull
        return StorageFull("disk full while writing the catalogue: the change was rolled back; free space and retry")
    if "locked" in text or "busy" in text:
        return LockTimeout("the catalogue is busy (another dangan is writing); try again")
    return exc
