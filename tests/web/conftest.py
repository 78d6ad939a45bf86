"""The web tests share one office archive, built once per session and copied for each test (with the home
folder that holds its keystore), so each test starts from the same users, passwords and records."""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from ocfl_helpers import assert_store_valid
from serve_helpers import PASS, build_office


@pytest.fixture(scope="session")
def office_template(tmp_path_factory):
    from serve_helpers import Cli
    from dangan.core.archive import Archive
    from dangan.core.kernel.actor import Actor
    base = tmp_path_factory.mktemp("office")
    with pytest.MonkeyPatch.context() as mp:
        for var in ("DANGAN_ARCHIVE", "DANGAN_USER", "DANGAN_KEYSTORE", "DANGAN_AUDIT_KEY"):
            mp.delenv(var, raising=False)
        mp.setenv("HOME", str(base / "home"))
        mp.setenv("DANGAN_PASSPHRASE", PASS)
        mp.setenv("XDG_RUNTIME_DIR", str(base / "run"))
        root = base / "archive"
        Archive.init(root, fonds="Z109", name="测试公司", actor=Actor("tester", "tester")).close()
        ids = build_office(Cli(root), root, base)
    (base / "ids.json").write_text(json.dumps(ids))
    return base


@pytest.fixture
def archive_root(office_template, tmp_path, monkeypatch, request):
    root = tmp_path / "archive"
    shutil.copytree(office_template / "archive", root, symlinks=True)
    if (office_template / "home").exists():
        shutil.copytree(office_template / "home", tmp_path / "home", symlinks=True, dirs_exist_ok=True)
    monkeypatch.setenv("DANGAN_PASSPHRASE", PASS)
    run_dir = Path(os.environ.get("TMPDIR", "/tmp")) / f"dgw{os.getpid()}{abs(hash(str(tmp_path))) % 10**6}"
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(run_dir))
    yield root
    if request.node.get_closest_marker("store_damaged") is None:
        assert_store_valid(root / "store")


@pytest.fixture
def office(archive_root, office_template):
    return json.loads((office_template / "ids.json").read_text())
