"""`dangan serve` as a user starts it: a real process found by $DANGAN_ARCHIVE, healthz, sign-in page, SIGTERM;
`dangan token` and `dangan user passwd` as scripts use them."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from cli_helpers import audit


def test_serve_runs_as_a_process_and_stops_on_sigterm(office, archive_root):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    dangan = Path(sys.executable).with_name("dangan")
    env = {**os.environ, "DANGAN_ARCHIVE": str(archive_root)}
    proc = subprocess.Popen([str(dangan), "serve", "--port", str(port)], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        body = None
        for _ in range(600):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:
                    body = r.read().decode()
                    break
            except OSError:
                if proc.poll() is not None:
                    raise AssertionError(proc.stderr.read())
                time.sleep(0.1)
        assert body == "ok"
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/login", timeout=5) as r:
            page = r.read().decode()
            assert r.status == 200 and "登录" in page and "frame-ancestors 'none'" in r.headers["content-security-policy"]
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    assert proc.returncode in (0, -signal.SIGTERM) and "Traceback" not in err, err   # uvicorn re-raises SIGTERM
                                                                                     # after its graceful shutdown
    assert f"http://127.0.0.1:{port}/" in out


def test_token_and_passwd_commands(cli, office):
    r = cli("token", "create", "clerk", "--scope", "read,bogus", user="boss", ok=False)
    assert r.exit_code == 2 and "bogus" in r.output
    tok = cli("token", "create", "clerk", "--scope", "read", "--days", "3", user="boss").output.splitlines()[0]
    assert tok.startswith("dgn_")
    listed = cli("token", "list", user="clerk").output                  # a user sees their own tokens
    assert tok.split("_")[1] in listed and "dgn_" not in listed
    r = cli("user", "passwd", "clerk", input="short\n", user="clerk", ok=False)
    assert r.exit_code == 2 and "10 characters" in r.output
    cli("user", "passwd", "clerk", input="a new long password\n", user="clerk")       # one's own
    ev = audit(cli, "user.passwd")
    assert ev[-1]["object"] == "user:clerk" and "a new long password" not in str(ev)
    assert cli("serve", "-h").exit_code == 0
