"""The catalogue's one SQL dialect on two engines: SQLite (embedded, the default) and PostgreSQL (psycopg 3).

The code of the catalogue speaks one dialect, SQLite's as written in this package (``?`` parameters,
``INSERT OR IGNORE``, ``BEGIN IMMEDIATE`` through :func:`connection.transaction`).  On SQLite it runs as
written, on the ``sqlite3.Connection`` itself (nothing in between).  On PostgreSQL it runs through
:class:`PgConnection`, which offers the subset of the ``sqlite3.Connection`` API the code uses and rewrites
each statement once (cached) for PostgreSQL:

* ``?`` → ``%s``, ``:name`` → ``%(name)s`` (a literal ``%`` is doubled); ints are sent untyped so the server infers their type from the
  column, as SQLite's type affinity does; ``bool`` is sent as 0/1 (the schema's flags are integers);
* ``INSERT OR IGNORE`` → ``ON CONFLICT DO NOTHING``; ``INSERT OR REPLACE`` → ``ON CONFLICT (key) DO UPDATE``;
* ``LIKE`` → ``ILIKE`` (SQLite's LIKE ignores ASCII case); ``rowid`` → ``ctid`` (insertion order);
  the column ``user`` (reserved in PostgreSQL) is quoted;
* an INSERT into a table whose key the server makes gets ``RETURNING`` its key (``cursor.lastrowid``);
* ``PRAGMA defer_foreign_keys = ON`` → ``SET CONSTRAINTS ALL DEFERRED`` (the foreign keys are deferrable);
  other PRAGMAs are refused;
* the migrations' DDL: ``INTEGER`` → ``BIGINT``, ``INTEGER PRIMARY KEY`` → an identity column, ``BLOB`` →
  ``BYTEA``.

A write transaction (``BEGIN IMMEDIATE`` on SQLite) is ``BEGIN`` plus a transaction-level advisory lock on
PostgreSQL: writers are serialised exactly as SQLite serialises them, whatever machine they run on, so piece
numbers (件号) stay gap-free and the audit chain stays one chain; the lock ends with the transaction, so a
writer that dies (or whose machine does) never leaves it held.  Each write inside a transaction runs under a
savepoint, so a failed statement undoes only itself, as on SQLite (callers catch an IntegrityError and go on); the
savepoint, the statement and its release are sent together in psycopg's pipeline mode, so a write costs one round
trip, as a read does (BEGIN and the write lock are sent together too).
Errors come out as the ``sqlite3`` module's DB-API classes (``sqlite3.IntegrityError``, ``OperationalError``),
so callers catch one family whichever engine is below.  No Python function runs inside SQL on either engine:
what the search filters compare is stored folded at write time (:mod:`.folded`); ``json_extract`` on
PostgreSQL is an SQL function over ``jsonb_path_query_first`` made by the first migration.
"""
from __future__ import annotations

import re
import sqlite3
from functools import lru_cache
from typing import Any, Iterable, Sequence

from .pg_rows import PgCursor, _params, _row_factory

POSTGRES_PREFIXES = ("postgresql://", "postgres://")

#: the advisory lock every write transaction takes (one catalogue per database)
WRITE_LOCK_KEY = 0x64616E67616E   # "dangan"

#: tables whose key the server assigns: the column an INSERT returns as ``lastrowid``
SERVER_KEYS = {"grants": "id", "retention_extensions": "id", "inspections": "id", "backup_runs": "seq",
               "index_outbox": "seq", "watch_handoffs": "id"}
#: the conflict target of ``INSERT OR REPLACE`` per table
REPLACE_KEYS = {"ingest_intents": ("object_id",)}


def is_postgres(url: str | None) -> bool:
    return bool(url) and str(url).startswith(POSTGRES_PREFIXES)


def dialect(conn: Any) -> str:
    """``"postgresql"`` or ``"sqlite"``: for the few statements that must differ."""
    return "postgresql" if isinstance(conn, PgConnection) else "sqlite"


def columns(conn: Any, table: str) -> list[str]:
    """A table's column names in order, on either engine."""
    if isinstance(conn, PgConnection):
        return [r[0] for r in conn.execute_raw(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema()"
            " AND table_name = %s ORDER BY ordinal_position", (table,))]
    return [r[1] for r in conn.execute(f"PRAGMA table_info({table})")]


def redact(url: str) -> str:
    """The URL without a password (for messages and logs)."""
    return re.sub(r"(://[^:/@]*):[^@]*@", r"\1:***@", url)


# --- statement rewriting -----------------------------------------------------------------------------------

_TOKENS = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|[^'\"]+")


def _outside_quotes(sql: str, fn) -> str:
    return "".join(t if t[0] in "'\"" else fn(t) for t in _TOKENS.findall(sql))


def _rewrite_plain(text: str) -> str:
    text = text.replace("?", "%s")
    text = re.sub(r"(?<![:\w]):([A-Za-z_]\w*)", r"%(\1)s", text)          # named parameters (``:name``)
    text = re.sub(r"\buser\b", '"user"', text)
    text = re.sub(r"\browid\b", "ctid", text)
    text = re.sub(r"\bLIKE\b", "ILIKE", text)
    return text


@lru_cache(maxsize=2048)
def translate(sql: str) -> str:
    """One statement of the code's dialect, for PostgreSQL."""
    s = sql.strip().rstrip(";")
    upper = s.upper()
    if upper.startswith("PRAGMA"):
        if re.fullmatch(r"PRAGMA\s+DEFER_FOREIGN_KEYS\s*=\s*(ON|1|TRUE)", upper):
            return "SET CONSTRAINTS ALL DEFERRED"
        raise sqlite3.NotSupportedError(f"{s!r} is SQLite's; the catalogue on PostgreSQL has no PRAGMAs")
    s = s.replace("%", "%%")
    s = _outside_quotes(s, _rewrite_plain)
    m = re.match(r"INSERT\s+OR\s+(IGNORE|REPLACE)\s+INTO\s+(\w+)", s, re.I)
    tail = ""
    if m:
        kind, table = m.group(1).upper(), m.group(2)
        s = "INSERT INTO " + table + s[m.end():]
        if kind == "IGNORE":
            tail = " ON CONFLICT DO NOTHING"
        else:
            keys = REPLACE_KEYS.get(table)
            cols = re.search(r"\(([^)]*)\)", s[len("INSERT INTO " + table):])
            if not keys or not cols:
                raise sqlite3.NotSupportedError(f"INSERT OR REPLACE INTO {table}: no conflict key known")
            names = [c.strip() for c in cols.group(1).split(",")]
            sets = ", ".join(f"{c} = excluded.{c}" for c in names if c not in keys)
            tail = f" ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {sets}"
    m = re.match(r"INSERT\s+INTO\s+(\w+)", s, re.I)
    if m and m.group(1) in SERVER_KEYS and not re.search(r"\bRETURNING\b", s, re.I):
        tail += f" RETURNING {SERVER_KEYS[m.group(1)]}"
    return s + tail


def translate_ddl(stmt: str) -> str:
    """A migration's statement, for PostgreSQL."""
    s = stmt.strip().rstrip(";")
    s = re.sub(r"\bINTEGER\s+PRIMARY\s+KEY(\s+AUTOINCREMENT)?", "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY",
               s, flags=re.I)
    s = re.sub(r"\bINTEGER\b", "BIGINT", s)
    s = re.sub(r"\bBLOB\b", "BYTEA", s)
    s = re.sub(r"(REFERENCES\s+\w+\s*\(\w+\))", r"\1 DEFERRABLE INITIALLY IMMEDIATE", s)
    s = _outside_quotes(s.replace("%", "%%"), lambda t: re.sub(r"\buser\b", '"user"', t))
    return s


# --- errors --------------------------------------------------------------------------------------------------

def _translate_error(exc: Exception) -> Exception:
    import psycopg
    from psycopg import errors as e
    text = f"{type(exc).__name__}: {str(exc).strip()}"
    if isinstance(exc, e.IntegrityError):
        text = str(exc).strip()
        if isinstance(exc, e.UniqueViolation):
            text = "UNIQUE constraint failed: " + text
        return sqlite3.IntegrityError(text)
    if isinstance(exc, (e.LockNotAvailable, e.DeadlockDetected, e.QueryCanceled)):
        return sqlite3.OperationalError("database is locked: " + text)
    if isinstance(exc, e.DiskFull):
        return sqlite3.OperationalError("database or disk is full: " + text)
    if isinstance(exc, (psycopg.OperationalError, e.AdminShutdown)):
        return sqlite3.OperationalError(text)
    if isinstance(exc, psycopg.ProgrammingError):
        return sqlite3.OperationalError(text)
    return sqlite3.DatabaseError(text)


class ConnectionLost(sqlite3.OperationalError):
    """The server went away (restarted, fail-over, network): a transaction in progress was rolled back by it."""


class PgConnection:
    """A catalogue connection to PostgreSQL with the ``sqlite3.Connection`` API the catalogue code uses.

    A connection lost outside a transaction is opened again by the next statement (a long-running server or
    watcher outlives a PostgreSQL restart); lost inside one, the statement raises :class:`ConnectionLost` and
    the server has rolled the transaction back: nothing of it was written."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.row_factory = None               # accepted and ignored: rows are always :class:`Row`
        self._tx = False                      # inside BEGIN … COMMIT/ROLLBACK
        self._connect()

    def _connect(self) -> None:
        from .pg_driver import psycopg as driver
        psycopg = driver()
        from psycopg.adapt import Dumper

        class UntypedInt(Dumper):        # let the server infer an int's type from its column (SQLite affinity)
            oid = 0

            def dump(self, obj):
                return str(obj).encode()

        try:
            self._conn = psycopg.connect(self.url, autocommit=True, row_factory=_row_factory)
        except psycopg.Error as exc:
            raise ConnectionLost(f"cannot connect to the catalogue at {redact(self.url)}: "
                                 f"{str(exc).strip()}") from None
        self._conn.adapters.register_dumper(int, UntypedInt)
        self._tx = False

    def _lost(self) -> bool:
        return self._conn.closed or self._conn.broken

    @property
    def server_version(self) -> int:
        """The server's version as libpq reports it from the connection's start-up (150004 for 15.4): no
        round trip."""
        return int(self._conn.info.server_version)

    # the sqlite3.Connection surface ---------------------------------------------------------------------
    @property
    def in_transaction(self) -> bool:
        return self._tx and not self._lost()

    def execute(self, sql: str, params: Sequence[Any] | None = None) -> PgCursor:
        return self._run(translate(sql), _params(params))

    def executemany(self, sql: str, seq: Iterable[Sequence[Any]]) -> PgCursor:
        stmt = translate(sql)
        curs = self._run_batch(stmt, [_params(params) for params in seq])
        return PgCursor([], None, sum(max(cur.rowcount, 0) for cur in curs), None)

    def execute_raw(self, stmt: str, params: Sequence[Any] = ()) -> PgCursor:
        """A statement already in PostgreSQL's dialect (the layer's own: migrations, locks)."""
        return self._run(stmt, tuple(params))

    def commit(self) -> None:           # autocommit outside :func:`transaction`; nothing pending
        if self.in_transaction:
            self._run("COMMIT", ())

    def rollback(self) -> None:
        if self.in_transaction:
            self._run("ROLLBACK", ())

    def close(self) -> None:
        self._conn.close()

    def create_function(self, *args: Any, **kw: Any) -> None:
        raise sqlite3.NotSupportedError("no Python functions inside SQL on PostgreSQL: compare stored folded columns")

    # transactions ----------------------------------------------------------------------------------------
    def begin_immediate(self) -> None:
        """BEGIN and the catalogue's write lock (held to COMMIT/ROLLBACK; released if this session dies), sent
        together: one round trip."""
        import psycopg
        if self._lost():
            self._connect()
        try:
            self._pipelined([("BEGIN", ()), ("SELECT pg_advisory_xact_lock(%s)", (WRITE_LOCK_KEY,))])
        except psycopg.Error as exc:
            self._tx = False
            if self._lost():
                raise ConnectionLost(f"the connection to the catalogue server was lost ({str(exc).strip()}): the"
                                     " transaction was rolled back; try again") from exc
            if self._conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
                self._control("ROLLBACK")
            raise _translate_error(exc) from exc
        self._tx = True

    def _run(self, stmt: str, params: Any, retry: bool = False) -> PgCursor:
        return self._run_batch(stmt, [params], retry)[0]

    def _run_batch(self, stmt: str, batch: list[Any], retry: bool = False) -> list[PgCursor]:
        """One statement, once per parameter set in ``batch``; a batch of writes inside a transaction costs one
        round trip (:meth:`_guarded`), anything else one per parameter set."""
        import psycopg
        if self._lost():
            if self._tx:
                self._tx = False
                raise ConnectionLost("the connection to the catalogue server was lost: the transaction was rolled"
                                     " back; try again")
            self._connect()
        if stmt in ("BEGIN", "COMMIT", "ROLLBACK") or stmt.startswith("BEGIN "):
            return [self._control(stmt)]
        # a write that fails undoes only itself, as on SQLite (callers catch IntegrityError and go on)
        guarded = self._tx and stmt.lstrip()[:6].upper() in ("INSERT", "UPDATE", "DELETE")
        try:
            if guarded:
                curs = self._guarded([(stmt, params) for params in batch])
            else:
                curs = [self._conn.execute(stmt, params) if params or "%" in stmt else self._conn.execute(stmt)
                        for params in batch]
            return [self._result(stmt, cur) for cur in curs]
        except psycopg.Error as exc:
            if self._lost():
                was_tx, self._tx = self._tx, False
                if not was_tx and not retry and stmt.lstrip().upper().startswith("SELECT"):
                    # a read outside a transaction on a session the server ended (a restart, a failover): a read
                    # changes nothing, so it is asked again on a new session (a server thread's first question
                    # after a restart would otherwise fail, and every later one with it)
                    self._connect()
                    return self._run_batch(stmt, batch, retry=True)
                raise ConnectionLost(f"the connection to the catalogue server was lost ({str(exc).strip()}): the"
                                     " transaction was rolled back; try again") from exc
            raise _translate_error(exc) from exc

    @staticmethod
    def _result(stmt: str, cur: Any) -> PgCursor:
        rows = cur.fetchall() if cur.description is not None else []
        lastrowid = None
        if stmt.startswith("INSERT") and " RETURNING " in stmt and rows:
            lastrowid, rows = rows[-1][0], []
        return PgCursor(rows, cur.description, cur.rowcount, lastrowid)

    def _guarded(self, statements: list[tuple[str, Any]]) -> list[Any]:
        """Each write under a savepoint of its own, all sent in one round trip (psycopg's pipeline mode).

        ``SAVEPOINT``, the statement and ``RELEASE`` of every statement go to the server together and the client
        waits once, for the Sync that ends them.  A statement that fails aborts the rest up to that Sync (the
        server skips them); its savepoint is then rolled back (one more round trip), so the statements before it
        stand and the transaction goes on, as on SQLite.  The error raised is the failed statement's own (an
        IntegrityError for a UNIQUE violation), not the "pipeline aborted" of the ones skipped after it."""
        import psycopg
        sent: list[tuple[str, Any]] = []
        for stmt, params in statements:
            sent += [("SAVEPOINT dangan_stmt", ()), (stmt, params), ("RELEASE SAVEPOINT dangan_stmt", ())]
        try:
            return self._pipelined(sent)[1::3]
        except psycopg.Error:
            if not self._lost():
                try:
                    self._pipelined([("ROLLBACK TO SAVEPOINT dangan_stmt", ()), ("RELEASE SAVEPOINT dangan_stmt", ())])
                except psycopg.Error:
                    pass
            raise

    def _pipelined(self, statements: list[tuple[str, Any]]) -> list[Any]:
        """The statements sent together, the client waiting once (for the Sync at the end): their cursors.
        (Where libpq has no pipeline mode they are sent in turn, a round trip each, with the same results.)

        A statement that fails makes the server skip the rest up to the Sync; the error raised is that
        statement's own, not the "pipeline aborted" of those skipped."""
        import psycopg
        cursors: list[Any] = []
        if not psycopg.Pipeline.is_supported():      # a libpq older than 14 (psycopg without its binary): in turn
            for stmt, params in statements:
                cursors.append(self._conn.execute(stmt, params) if params or "%" in stmt else self._conn.execute(stmt))
            return cursors
        first: psycopg.Error | None = None
        try:
            with self._conn.pipeline():
                try:                          # caught inside: an error raised out of the block is logged by psycopg
                    for stmt, params in statements:
                        cursors.append(self._conn.execute(stmt, params) if params or "%" in stmt
                                       else self._conn.execute(stmt))
                except psycopg.Error as exc:
                    first = exc
        except psycopg.Error as exc:
            first = first or exc
        if first is None:
            return cursors
        while isinstance(first, psycopg.errors.PipelineAborted) and isinstance(first.__context__, psycopg.Error):
            first = first.__context__         # the statement that failed, not the ones the server skipped after it
        raise first

    def _control(self, stmt: str) -> PgCursor:
        import psycopg
        try:
            self._conn.execute(stmt)
        except psycopg.Error as exc:
            lost = self._lost()
            self._tx = False if lost or not stmt.startswith("BEGIN") else self._tx
            if lost and stmt == "COMMIT":        # the server may have committed before the line dropped
                raise ConnectionLost(f"the connection to the catalogue server was lost during COMMIT "
                                     f"({str(exc).strip()}): the change may or may not be there; the next writer "
                                     "settles it (the intent row)") from exc
            if lost:
                raise ConnectionLost(f"the connection to the catalogue server was lost ({str(exc).strip()}): the"
                                     " transaction was rolled back; try again") from exc
            raise _translate_error(exc) from exc
        self._tx = stmt.startswith("BEGIN")
        return PgCursor([], None, -1, None)
