"""`dangan serve`'s API and the lending pages with the catalogue on PostgreSQL: tests/web/test_serve_api.py run
again.  The office archive is built once on a template database; each test gets a copy of the folder and
a database made from the template (CREATE DATABASE … TEMPLATE), so each starts from the same state."""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from catalogue_helpers import catalogue_url, collected_again

pytestmark = pytest.mark.postgresql_only

globals().update(collected_again("web/test_serve_api.py",
                                 leave_out=("test_tokens_scopes_revocation_and_expiry",)))   # edits catalogue.sqlite


@pytest.fixture(scope="session")
def office_template(tmp_path_factory, pg_server):
    from serve_helpers import PASS, Cli, build_office
    from dangan.core.archive import Archive
    from dangan.core.kernel.actor import Actor
    base = tmp_path_factory.mktemp("pg-office")
    with pytest.MonkeyPatch.context() as mp:
        for var in ("DANGAN_ARCHIVE", "DANGAN_USER", "DANGAN_KEYSTORE", "DANGAN_AUDIT_KEY"):
            mp.delenv(var, raising=False)
        mp.setenv("HOME", str(base / "home"))
        mp.setenv("DANGAN_PASSPHRASE", PASS)
        mp.setenv("XDG_RUNTIME_DIR", str(base / "run"))
        root = base / "archive"
        Archive.init(root, fonds="Z109", name="测试公司", actor=Actor("tester", "tester"),
                     catalogue_url=pg_server.new_database()).close()
        ids = build_office(Cli(root), root, base)
    (base / "ids.json").write_text(json.dumps(ids))
    return base


@pytest.fixture
def archive_root(office_template, tmp_path, monkeypatch, request, pg_server, catalogue_backend):
    import psycopg
    from ocfl_helpers import assert_store_valid
    from serve_helpers import PASS
    root = tmp_path / "archive"
    shutil.copytree(office_template / "archive", root, symlinks=True)
    if (office_template / "home").exists():
        shutil.copytree(office_template / "home", tmp_path / "home", symlinks=True, dirs_exist_ok=True)
    template = catalogue_url(root)
    name = "c_" + os.urandom(6).hex()
    with psycopg.connect(pg_server.url(), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template.split("/")[3].split("?")[0]}"')
    copy = pg_server.url(name)
    toml = root / "dangan.toml"
    toml.write_text(toml.read_text(encoding="utf-8").replace(template, copy), encoding="utf-8")
    monkeypatch.setenv("DANGAN_PASSPHRASE", PASS)
    run_dir = Path(os.environ.get("TMPDIR", "/tmp")) / f"dgp{os.getpid()}{abs(hash(str(tmp_path))) % 10**6}"
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(run_dir))
    yield root
    pg_server.drop_database(copy)
    if request.node.get_closest_marker("store_damaged") is None:
        assert_store_valid(root / "store")
