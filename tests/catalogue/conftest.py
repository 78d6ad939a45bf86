"""tests/catalogue runs on both catalogue engines: every test that uses ``archive_root`` runs once on the
embedded catalogue.sqlite and once on PostgreSQL (the throw-away server of ``pg_server``), except the tests
marked ``sqlite_only`` (they damage the SQLite file or its WAL themselves).  Modules marked
``postgresql_only`` collect tests of other folders again (``catalogue_helpers.tests_of``) to run them on
PostgreSQL only (they run on SQLite where they live)."""
from __future__ import annotations

import pytest


def pytest_generate_tests(metafunc):
    if "archive_root" not in metafunc.fixturenames or metafunc.definition.get_closest_marker("sqlite_only"):
        return
    only_pg = metafunc.definition.get_closest_marker("postgresql_only") is not None
    metafunc.parametrize("catalogue_backend", ["postgresql"] if only_pg else ["sqlite", "postgresql"])


@pytest.fixture
def catalogue_backend() -> str:
    return "sqlite"


@pytest.fixture
def archive_root(tmp_path, request, catalogue_backend):
    """A new archive folder with its catalogue on the engine of this run; its store validated at teardown."""
    from ocfl_helpers import assert_store_valid
    from dangan.core.kernel.actor import Actor
    from dangan.core.archive import Archive

    url = request.getfixturevalue("pg_url") if catalogue_backend == "postgresql" else None
    root = tmp_path / "archive"
    Archive.init(root, fonds="Z109", name="测试公司", actor=Actor("tester", "tester"), catalogue_url=url).close()
    yield root
    if request.node.get_closest_marker("store_damaged") is None:
        assert_store_valid(root / "store")
