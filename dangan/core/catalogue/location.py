"""Where an archive's catalogue is: ``catalogue.sqlite`` in the folder, or the database ``[catalogue] url`` names.

A URL given on the command line (``dangan init --catalogue``, ``dangan catalogue migrate --to``) carries no
password (it would sit in ``dangan.toml`` and in the process list): libpq reads it from ``~/.pgpass`` or
``PGPASSFILE``.  A new archive, or a move, takes an empty database: one that holds a catalogue already is
another archive's.
"""
from __future__ import annotations

from dangan.errors import UsageError
from dangan.core.catalogue import db


def check_new_url(url: str, option: str) -> None:
    """A PostgreSQL URL without a password, naming a database that holds no catalogue yet."""
    if not db.is_postgres(url):
        raise UsageError(f"{option} {url!r}: give a postgresql:// URL (the embedded catalogue is the default)")
    if db.redact(url) != url or "password=" in url:
        raise UsageError(f"{option}: no password in the URL (it would sit in dangan.toml and on the command line):"
                         " put it in ~/.pgpass (or PGPASSFILE) and give the URL without it")
    try:
        conn = db.PgConnection(url)
    except Exception as exc:
        raise UsageError(str(exc)) from None
    try:
        from dangan.core.catalogue.connection import check_server_version
        check_server_version(conn, url)          # before `dangan init` makes anything
        if conn.execute_raw("SELECT 1 FROM information_schema.tables WHERE table_schema = current_schema()"
                            " AND table_name IN ('dangan_schema', 'records')").fetchone():
            raise UsageError(f"{db.redact(url)} already holds a catalogue: another machine of that archive copies"
                             " its dangan.toml instead; a new archive (or a move) needs an empty database")
    finally:
        conn.close()


def config_section(url: str | None) -> str:
    """The ``[catalogue]`` section of ``dangan.toml`` (empty for the embedded catalogue)."""
    if not url:
        return ""
    q = '"' + url.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return f"""
[catalogue]
url = {q}   # the catalogue and audit trail on PostgreSQL (password: ~/.pgpass or PGPASSFILE)
"""
