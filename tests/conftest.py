"""Shared fixtures: a throwaway archive, the CLI, and ocfl-py validation of every store a test writes."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

sys.path.insert(0, str(Path(__file__).parent))
from ocfl_helpers import assert_store_valid  # noqa: E402

# Test data lives inside the repository (tests/data/), so a clone on its own runs the suite.
REPO = Path(__file__).resolve().parent.parent
DATA = REPO / "tests" / "data"
CORPUS = DATA / "corpus"
FIXTURES = DATA / "ocfl-fixtures" / "1.1"
REGULATIONS = DATA / "seed" / "regulations.zh.txt"


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch, tmp_path):
    """No test reads the developer's environment or home."""
    for var in ("DANGAN_ARCHIVE", "DANGAN_USER", "DANGAN_KEYSTORE", "DANGAN_PASSPHRASE", "DANGAN_AUDIT_KEY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))


@pytest.fixture
def archive_root(tmp_path, request, catalogue_backend):
    """A new archive folder; at teardown its store is validated with ocfl-py.

    Tests that damage the store on purpose mark themselves ``store_damaged``.  Its catalogue is
    catalogue.sqlite, or on PostgreSQL where ``catalogue_backend`` says so (tests/catalogue: both).
    """
    from dangan.core.kernel.actor import Actor
    from dangan.core.archive import Archive

    url = request.getfixturevalue("pg_url") if catalogue_backend == "postgresql" else None
    root = tmp_path / "archive"
    Archive.init(root, fonds="Z109", name="测试公司", actor=Actor("tester", "tester"), catalogue_url=url).close()
    yield root
    if request.node.get_closest_marker("store_damaged") is None:
        assert_store_valid(root / "store")


@pytest.fixture
def archive(archive_root):
    from dangan.core.kernel.actor import Actor
    from dangan.core.archive import Archive

    a = Archive(archive_root, Actor("tester", "tester"))
    yield a
    a.close()


class Cli:
    def __init__(self, root: Path | None):
        from dangan.cli import get_cli
        self.root = root
        self.cli = get_cli()

    def __call__(self, *args: str, ok: bool = True, input: str | None = None, user: str = "tester",
                 one_person_per_user: bool = True):
        """``dangan --as USER ARGS`` in this process.

        The suite runs as one OS account and plays many people with ``--as``; the four-eyes rules compare real
        identities (``core.four_eyes``), so by default each user name gets its own session identity here
        (``test:NAME``) as if each person used their own login.  Tests of identity itself run real processes
        under other uids (tests/security_identity_helpers.py) or pass ``one_person_per_user=False``."""
        import dataclasses
        import dangan.core.kernel.actor as actor_mod
        argv = (["--archive", str(self.root)] if self.root else []) + ["--as", user] + [str(a) for a in args]
        real = actor_mod.current_actor
        if one_person_per_user:
            actor_mod.current_actor = lambda as_user=None: dataclasses.replace(real(as_user), session=f"test:{user}")
        try:
            result = CliRunner().invoke(self.cli, argv, input=input, catch_exceptions=False)
        finally:
            actor_mod.current_actor = real
        if ok:
            assert result.exit_code == 0, f"dangan {' '.join(argv)} → {result.exit_code}\n{result.output}"
        return result


@pytest.fixture
def cli(archive_root):
    return Cli(archive_root)


@pytest.fixture
def samples(tmp_path) -> Path:
    """A few small files with Chinese and English names and content."""
    d = tmp_path / "samples"
    d.mkdir()
    (d / "会议纪要.txt").write_text("2021年第一次办公会议纪要：讨论档案管理制度。", encoding="utf-8")
    (d / "contract.txt").write_text("Contract between A and B, signed 2021-03-01.", encoding="utf-8")
    (d / "notes.md").write_text("# Notes\n\n档案 archive notes", encoding="utf-8")
    return d


@pytest.fixture(params=["tantivy", "whoosh"])
def engine(request) -> str:
    """Each index test runs on both engines (tantivy is the default, Whoosh selectable)."""
    return request.param


def pytest_configure(config):
    config.addinivalue_line("markers", "store_damaged: the test damages the store on purpose (no ocfl-py teardown check)")
    config.addinivalue_line("markers", "sqlite_only: the test is about the SQLite file (not run on PostgreSQL)")
    config.addinivalue_line("markers", "postgresql_only: tests of another folder run again on PostgreSQL")
    config.addinivalue_line("markers", "folder_store: an S3 test (tests/s3) whose archive keeps its store in its folder")


# -- the catalogue on PostgreSQL (issue 17) ------------------------------------------------------------------

@pytest.fixture(scope="session")
def pg_server():
    """The throw-away PostgreSQL of this run: scripts/pg-test-server's (``make test``), else one started here."""
    import pg_service
    server = pg_service.from_env()
    if server is None:
        server = pg_service.start()
    yield server
    server.stop()


@pytest.fixture
def pg_url(pg_server) -> str:
    """A new, empty PostgreSQL database (dropped afterwards)."""
    url = pg_server.new_database()
    yield url
    pg_server.drop_database(url)


@pytest.fixture
def catalogue_backend() -> str:
    """The engine of ``archive_root``'s catalogue: "sqlite" (the default) or "postgresql"."""
    return "sqlite"


CATALOGUE_TESTS = Path(__file__).parent / "catalogue"


def pytest_generate_tests(metafunc):
    """tests/catalogue runs on both catalogue engines: each test that uses ``archive_root`` runs once on the
    embedded catalogue.sqlite and once on PostgreSQL, except those marked ``sqlite_only`` (they damage the
    SQLite file itself).  Its modules marked ``postgresql_only`` collect tests of other folders again
    (``catalogue_helpers.collected_again``) to run them on PostgreSQL only (they run on SQLite where they live)."""
    if "archive_root" not in metafunc.fixturenames or metafunc.definition.get_closest_marker("sqlite_only"):
        return
    if not Path(str(metafunc.definition.path)).is_relative_to(CATALOGUE_TESTS):
        return
    only_pg = metafunc.definition.get_closest_marker("postgresql_only") is not None
    metafunc.parametrize("catalogue_backend", ["postgresql"] if only_pg else ["sqlite", "postgresql"])
