"""Creating an archive and finding it like git finds a repository."""
from __future__ import annotations

import json
import os

from click.testing import CliRunner

from dangan.cli import get_cli


def run(args, cwd=None, env=None):
    old = os.getcwd()
    try:
        if cwd:
            os.chdir(cwd)
        return CliRunner().invoke(get_cli(), args, env=env, catch_exceptions=False)
    finally:
        os.chdir(old)


def test_init_creates_an_ocfl_store_catalogue_and_config(tmp_path):
    root = tmp_path / "arch"
    r = run(["init", str(root), "--fonds", "Z109", "--name", "测试公司"])
    assert r.exit_code == 0, r.output
    assert (root / "dangan.toml").read_text(encoding="utf-8").count('fonds = "Z109"') == 1
    assert (root / "store" / "0=ocfl_1.1").read_text() == "ocfl_1.1\n"
    layout = json.loads((root / "store" / "ocfl_layout.json").read_text())
    assert layout["extension"] == "0004-hashed-n-tuple-storage-layout"
    assert (root / "catalogue.sqlite").exists()
    log = run(["--archive", str(root), "audit", "log", "--json"])
    events = [json.loads(line) for line in log.output.splitlines()]
    assert [e["action"] for e in events] == ["archive.init"]


def test_init_refuses_an_existing_archive_and_a_bad_fonds(tmp_path):
    root = tmp_path / "arch"
    assert run(["init", str(root), "--fonds", "Z109"]).exit_code == 0
    again = run(["init", str(root), "--fonds", "Z109"])
    assert again.exit_code == 2 and "already an archive" in again.output
    bad = run(["init", str(tmp_path / "b"), "--fonds", "Z-109"])
    assert bad.exit_code == 2 and "invalid fonds code" in bad.output
    assert "Traceback" not in bad.output


def test_archive_is_found_by_flag_env_and_upward_search(tmp_path):
    root = tmp_path / "arch"
    run(["init", str(root), "--fonds", "Z109"])
    deep = root / "a" / "b"
    deep.mkdir(parents=True)
    assert run(["ls"], cwd=deep).exit_code == 0
    assert run(["ls"], cwd=tmp_path, env={"DANGAN_ARCHIVE": str(root)}).exit_code == 0
    assert run(["--archive", str(root), "ls"], cwd=tmp_path).exit_code == 0


def test_no_archive_here_is_one_clear_line(tmp_path):
    r = run(["ls"], cwd=tmp_path)
    assert r.exit_code == 3
    assert r.output.startswith("dangan: error: no archive here")
    assert len(r.output.strip().splitlines()) == 1
    r = run(["ls"], cwd=tmp_path, env={"DANGAN_ARCHIVE": str(tmp_path / "nowhere")})
    assert r.exit_code == 3 and "DANGAN_ARCHIVE" in r.output


def test_the_actor_and_its_override_are_recorded(tmp_path):
    root = tmp_path / "arch"
    run(["init", str(root), "--fonds", "Z109"], env={"DANGAN_USER": "王芳"})
    ev = json.loads(run(["--archive", str(root), "audit", "log", "--json"]).output.splitlines()[0])
    assert ev["actor"] == "王芳"
    assert ev["details"]["as"] == "王芳" and ev["details"]["os_user"]
