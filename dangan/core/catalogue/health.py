"""Is ``catalogue.sqlite`` a catalogue?  A missing, empty, schemaless or damaged file is never a new archive.

SQLite happily opens a zero-byte file as an empty database, so without these checks a truncated
catalogue looked like a fresh archive: `ls` showed nothing, ingest reused piece numbers already in
the store and `audit verify` called a three-event chain intact.  Every open of an existing archive's
catalogue therefore checks (cheaply: the file's size, ``user_version`` and the table list) and refuses with :class:`~dangan.errors.IntegrityError` (exit 6) and one line.
Damage deeper in the file shows when a page is read; :func:`damage_message` words the SQLite error
the same way wherever it surfaces (the CLI edge turns it into exit 6).

``rebuild-catalogue`` is the repair: :func:`set_aside` renames the bad file (with its -wal and -shm)
to ``catalogue.sqlite.damaged-<UTC time>`` so nothing is deleted, and the catalogue is rebuilt from
the store.
"""
from __future__ import annotations

import sqlite3
from pathlib import Path

from dangan.errors import IntegrityError
from dangan.core.kernel.clock import utc_now

SQLITE_CORRUPT, SQLITE_NOTADB = 11, 26
REPAIR = "run `dangan rebuild-catalogue` (it sets the damaged file aside and rebuilds from the store)"


def problem_before_open(path: Path) -> str | None:
    """What is wrong with the file itself (missing, empty), or None.

    Only ``stat``: opening and closing the file from Python would drop every POSIX lock this
    process's other SQLite connections hold on it (fcntl locks belong to the process, and any close
    releases them), which lets two writers overlap and lose commits.  A file that is not SQLite
    shows on the first read (``SQLITE_NOTADB``) and is reported by :func:`problem_after_open`.
    """
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return "is missing"
    except OSError as exc:
        return f"cannot be read ({exc.strerror})"
    return "is empty (0 bytes)" if size == 0 else None


def problem_after_open(conn: sqlite3.Connection) -> str | None:
    """What is wrong with an opened catalogue's schema (none, or unreadable), or None."""
    try:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    except sqlite3.DatabaseError as exc:
        return f"is damaged ({'not a SQLite database' if is_damage(exc) and 'not a database' in str(exc) else exc})"
    if version == 0 or "records" not in tables or "audit" not in tables:
        return "has no catalogue schema (an empty database)"
    return None


def refusal(path: Path, problem: str) -> IntegrityError:
    problem = " ".join(problem.split())                  # quick_check answers on several lines
    new = "" if problem.startswith("is damaged") else ", so this is not a new archive"
    return IntegrityError(f"the catalogue {path} {problem}{new}: {REPAIR}")


def is_damage(exc: BaseException) -> bool:
    """Whether an exception is SQLite reporting a damaged or foreign database file."""
    code = getattr(exc, "sqlite_errorcode", None)
    return isinstance(exc, sqlite3.DatabaseError) and code is not None and code & 0xFF in (SQLITE_CORRUPT,
                                                                                             SQLITE_NOTADB)


def damage_message(exc: BaseException) -> str:
    return f"the catalogue is damaged ({exc}): {REPAIR}"


def needs_setting_aside(path: Path) -> str | None:
    """The problem that makes ``path`` unusable as it is (None: healthy or simply missing)."""
    problem = problem_before_open(path)
    if problem == "is missing":
        return None
    if problem:
        return problem
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    except sqlite3.DatabaseError as exc:
        return f"is damaged ({exc})"
    try:
        problem = problem_after_open(conn)
        if problem is None:
            row = conn.execute("PRAGMA quick_check(1)").fetchone()
            if row is None or row[0] != "ok":
                problem = f"is damaged ({row[0] if row else 'quick_check gave no answer'})"
        return problem
    except sqlite3.DatabaseError as exc:
        return f"is damaged ({exc})"
    finally:
        conn.close()


def check_pages(conn: sqlite3.Connection, path: Path) -> None:
    """``PRAGMA quick_check`` (every page, as ``dangan check`` reads every object); raise if damaged.

    A catalogue on PostgreSQL is the server's to check (data checksums, ``pg_amcheck``): nothing here."""
    from dangan.core.catalogue import db
    if db.dialect(conn) == "postgresql":
        return
    try:
        row = conn.execute("PRAGMA quick_check(1)").fetchone()
    except sqlite3.DatabaseError as exc:
        raise refusal(path, f"is damaged ({exc})") from None
    if row is None or row[0] != "ok":
        raise refusal(path, f"is damaged ({row[0] if row else 'quick_check gave no answer'})")


def set_aside(path: Path) -> Path:
    """Rename ``path`` and its -wal/-shm to ``<name>.damaged-<UTC time>[-wal|-shm]``; returns the new path."""
    stamp = utc_now().strftime("%Y%m%dT%H%M%S%fZ")
    target = path.with_name(f"{path.name}.damaged-{stamp}")
    for suffix in ("-wal", "-shm", ""):
        src = path.with_name(path.name + suffix)
        if src.exists():
            src.rename(target.with_name(target.name + suffix))
    from dangan.repository.fsutil import fsync_dir
    fsync_dir(path.parent)
    return target
