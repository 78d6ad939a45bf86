"""Run dangan as another OS account (``setpriv``) on an archive built by root in a reachable folder.

The interpreter of the test venv lives under /root (0700), so the child runs the system python3.11 (the
same minor version) with the venv's site-packages added by ``site.addsitedir`` (which reads the editable
install's .pth).  The child's environment is built from scratch: only what a test passes in.
"""
from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path

import pytest

import dangan

REPO = Path(dangan.__file__).resolve().parents[1]
SITE = sysconfig.get_paths()["purelib"]
PYTHON = "/usr/bin/python3.11" if os.path.exists("/usr/bin/python3.11") else sys.executable
STAFF_UID = 2003
OTHER_UID = 2004

needs_root = pytest.mark.skipif(os.getuid() != 0 or shutil.which("setpriv") is None,
                                reason="runs commands as other uids with setpriv (needs root)")


def run_as(uid: int, archive: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    """``dangan ARGS`` as ``uid`` (its own group, no supplementary groups) with ``DANGAN_ARCHIVE`` set."""
    boot = (f"import site, sys, runpy; site.addsitedir({SITE!r}); sys.path.insert(0, {str(REPO)!r}); "
            "sys.argv = ['dangan', *sys.argv[1:]]; runpy.run_module('dangan', run_name='__main__')")
    base = {"PATH": "/usr/bin:/bin", "HOME": str(archive.parent / f"home-{uid}"), "LANG": "C.UTF-8",
            "DANGAN_ARCHIVE": str(archive)}
    return subprocess.run(["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", PYTHON, "-c", boot,
                           *map(str, args)], env={**base, **(env or {})}, capture_output=True, text=True,
                          timeout=120)


def hand_to(archive: Path, uid: int) -> None:
    """Give the archive's files to ``uid`` (the account that will run dangan on it), and its audit key
    too: the key lives outside the archive (under root's test home, which other uids cannot reach), so it
    moves beside the archive, where ``[audit] key_path`` then points."""
    for dirpath, dirnames, filenames in os.walk(archive):
        os.chown(dirpath, uid, uid)
        for n in filenames:
            os.chown(os.path.join(dirpath, n), uid, uid, follow_symlinks=False)
    import tomllib
    cfg = archive / "dangan.toml"
    key = Path(tomllib.loads(cfg.read_text(encoding="utf-8")).get("audit", {}).get("key_path", ""))
    keys = archive.parent / "audit-keys"
    if key.name and key.parent != keys and key.exists():
        keys.mkdir(exist_ok=True)
        keys.chmod(0o755)                   # (the process umask is the archive's: 077)
        moved = keys / key.name
        shutil.copy2(key, moved)
        cfg.write_text(cfg.read_text(encoding="utf-8").replace(json.dumps(str(key)), json.dumps(str(moved))),
                       encoding="utf-8")
        key = moved
    if key.name and key.exists():
        os.chown(key, uid, uid)
        key.chmod(0o600)


def audit_rows(archive: Path, action: str) -> list[dict]:
    con = sqlite3.connect(f"file:{archive / 'catalogue.sqlite'}?mode=ro", uri=True)
    con.row_factory = sqlite3.Row
    try:
        return [{**dict(r), "details": json.loads(r["details"])}
                for r in con.execute("SELECT * FROM audit WHERE action = ? ORDER BY seq", (action,))]
    finally:
        con.close()


def query(archive: Path, sql: str, *params) -> list[tuple]:
    con = sqlite3.connect(f"file:{archive / 'catalogue.sqlite'}?mode=ro", uri=True)
    try:
        return con.execute(sql, params).fetchall()
    finally:
        con.close()


@pytest.fixture
def shared_folder():
    """A folder every uid can reach (tmp_path is 0700 root); removed afterwards."""
    d = Path(tempfile.mkdtemp(prefix="dangan-sec-", dir="/tmp"))
    d.chmod(0o755)
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def shared_archive(shared_folder):
    """An archive built by root (first user ``boss``, admin, bound to root) and a Cli on it."""
    from dangan.core.kernel.actor import Actor
    from dangan.core.archive import Archive
    from conftest import Cli
    from ocfl_helpers import assert_store_valid
    root = shared_folder / "archive"
    Archive.init(root, fonds="Z109", name="测试公司", actor=Actor("tester", "tester")).close()
    for uid in (STAFF_UID, OTHER_UID):
        home = shared_folder / f"home-{uid}"
        home.mkdir()
        os.chown(home, uid, uid)
    yield root, Cli(root)
    assert_store_valid(root / "store")
