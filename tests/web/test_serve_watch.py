"""`dangan watch` and `dangan serve` side by side on one archive, as two real processes: a file dropped in the
watched folder is found through the API while the server runs, and both stop cleanly."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

from serve_helpers import token
from watch_helpers import wait_for, write
from web_fixtures import archive_root, office, office_template  # noqa: F401  (fixtures)


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str, bearer: str) -> dict | None:
    req = urllib.request.Request(url, headers={"Authorization": "Bearer " + bearer})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.loads(r.read().decode())
    except OSError:
        return None


def test_a_file_dropped_for_the_watcher_is_found_through_the_running_server(cli, office, archive_root, tmp_path):
    port, drop = _port(), tmp_path / "drop"
    drop.mkdir()
    bearer = token(cli, "clerk", "read")
    env = {**os.environ, "DANGAN_ARCHIVE": str(archive_root)}
    dangan = [sys.executable, "-m", "dangan"]
    server = subprocess.Popen([*dangan, "serve", "--port", str(port)], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    watcher = subprocess.Popen([*dangan, "--as", "arch", "watch", str(drop), "--settle", "0.2", "--dept", "BGS",
                                "--category", "WS"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        def up() -> bool:
            if server.poll() is not None or watcher.poll() is not None:
                raise AssertionError((server.stderr.read() if server.poll() is not None else "")
                                     + (watcher.stderr.read() if watcher.poll() is not None else ""))
            return _get(f"{base}/api/v1/search?q=%E6%A1%A3%E6%A1%88", bearer) is not None
        wait_for(up, what="the server answering", timeout=120)
        write(drop / "巡检记录.txt", "设备巡检记录 WATCHSERVEMARK 第三季度")
        q = urllib.parse.quote("WATCHSERVEMARK")

        def found() -> bool:
            time.sleep(0.2)
            body = _get(f"{base}/api/v1/search?q={q}", bearer)
            return bool(body and body["total"] == 1)
        wait_for(found, what="the dropped file found through the API", timeout=180)
        hit = _get(f"{base}/api/v1/search?q={q}", bearer)["hits"][0]
        rec = _get(f"{base}/api/v1/records/{hit['id']}", bearer)
        assert rec["department"] == "BGS" and rec["category"] == "WS"
        assert not (drop / "巡检记录.txt").exists()                           # handed off to done/
    finally:
        watcher.send_signal(signal.SIGTERM)
        server.send_signal(signal.SIGTERM)
        _, werr = watcher.communicate(timeout=120)
        _, serr = server.communicate(timeout=60)
    assert watcher.returncode == 0 and "Traceback" not in werr, werr
    assert server.returncode in (0, -signal.SIGTERM) and "Traceback" not in serr, serr
    assert Path(archive_root / "store").is_dir()
