"""The drop-folder watcher on PostgreSQL: `dangan watch --once` files what it finds, moves the originals to
done, each file once, with gap-free piece numbers (a real subprocess, as tests/watch runs it)."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

pytestmark = pytest.mark.postgresql_only


def test_watch_once_files_every_drop_on_postgresql(cli, archive_root, tmp_path):
    drop = tmp_path / "drop"
    drop.mkdir()
    for i in range(4):
        (drop / f"收文{i}.txt").write_text(f"收文 第{i}号", encoding="utf-8")
    r = subprocess.run([sys.executable, "-m", "dangan", "--archive", str(archive_root), "--as", "tester", "watch",
                        str(drop), "--once", "--category", "WS", "--dept", "BGS", "--retention", "Y",
                        "--year", "2021"], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    assert not [p for p in drop.iterdir() if p.is_file()]                 # every file taken
    rows = [json.loads(x) for x in cli("ls", "--json", "--sort", "code").output.splitlines()]
    assert len(rows) == 4 and len({x["id"] for x in rows}) == 4
    assert [x["archival_code"][-4:] for x in rows] == ["0001", "0002", "0003", "0004"]
    assert "intact" in cli("audit", "verify").output
    cli("check")
