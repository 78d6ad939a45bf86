"""A catalogue on a PostgreSQL older than 15 is refused at connect, naming the version found and the one needed
(issue 17: "any PostgreSQL ≥ 15").

The image has PostgreSQL 15 only, so the older server is played by what psycopg reports: libpq's
``server_version`` of the real connection, patched (it is what ``connect_postgres`` reads — no query is asked).
"""
from __future__ import annotations

import psycopg
import pytest

from conftest import Cli


@pytest.fixture
def older_server(monkeypatch):
    """Every new connection reports PostgreSQL 14.11 (the real server answers the queries)."""
    monkeypatch.setattr(psycopg.ConnectionInfo, "server_version", property(lambda self: 140011))


def _tables(pg_url: str) -> set[str]:
    with psycopg.connect(pg_url) as conn:
        return {r[0] for r in conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()")}


def test_the_real_server_is_15_or_later_and_accepted(pg_url):
    from dangan.core.catalogue.connection import connect_postgres
    conn = connect_postgres(pg_url, create=True)
    try:
        assert conn.server_version >= 150000
        assert conn.server_version == int(conn.execute_raw("SHOW server_version_num").fetchone()[0])
    finally:
        conn.close()
    assert "dangan_schema" in _tables(pg_url)


def test_an_older_server_is_refused_at_connect_naming_both_versions(pg_url, older_server):
    from dangan.core.catalogue.connection import connect_postgres
    from dangan.errors import UsageError
    with pytest.raises(UsageError) as info:
        connect_postgres(pg_url, create=True)
    assert "PostgreSQL 14.11" in info.value.message and "PostgreSQL 15 or later" in info.value.message
    assert "dangan_schema" not in _tables(pg_url)                 # nothing was made in the database


def test_an_existing_catalogue_on_an_older_server_is_refused_too(pg_url, monkeypatch):
    from dangan.core.catalogue.connection import connect_postgres
    from dangan.errors import UsageError
    connect_postgres(pg_url, create=True).close()
    monkeypatch.setattr(psycopg.ConnectionInfo, "server_version", property(lambda self: 90624))
    with pytest.raises(UsageError, match=r"PostgreSQL 9\.6\.24; dangan needs PostgreSQL 15 or later"):
        connect_postgres(pg_url)


def test_dangan_init_on_an_older_server_says_so_and_makes_nothing(pg_url, older_server, tmp_path):
    root = tmp_path / "archive"
    r = Cli(None)("init", str(root), "--fonds", "Z109", "--catalogue", pg_url, ok=False)
    assert r.exit_code == 2, r.output
    assert "PostgreSQL 14.11" in r.output and "PostgreSQL 15 or later" in r.output, r.output
    assert "Traceback" not in r.output
    assert not root.exists() or not any(root.iterdir())
    assert _tables(pg_url) == set()
