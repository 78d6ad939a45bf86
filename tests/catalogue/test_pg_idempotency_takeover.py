"""An API upload whose server died mid-request (issue 17): its Idempotency-Key's claim has a lease, so the retry
through another server is told 409 "retry later" while the dead server's lease runs, then answers with the very
record the dead server had published (adopted from the store: one record, not two).

The first server is a real `dangan serve` process that dies (as kill -9 would) right after publishing the
version, before its commit (``DANGAN_TEST_EXIT_AFTER_PUBLISH``); the retry goes to a second `dangan serve` of
the same archive.
"""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid

import pytest

from catalogue_helpers import raw_catalogue

pytestmark = pytest.mark.postgresql_only


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(root, env) -> tuple[subprocess.Popen, str]:
    port = free_port()
    p = subprocess.Popen([sys.executable, "-m", "dangan", "--archive", str(root), "serve", "--port", str(port)],
                         env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert p.poll() is None, p.stderr.read().decode() if p.stderr else ""
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=5):
                return p, url
        except OSError:
            time.sleep(0.3)
    raise AssertionError("dangan serve did not start")


def upload(url: str, token: str, key: str, body: bytes) -> tuple[int, dict]:
    b = uuid.uuid4().hex
    fields = {"category": "WS", "department": "BGS", "date": "2025-06-01", "title": "断点重试"}
    data = b"".join(f'--{b}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode() for k, v in
                    fields.items())
    data += (f'--{b}\r\nContent-Disposition: form-data; name="file"; filename="retry.txt"\r\n\r\n'.encode() + body
             + f"\r\n--{b}--\r\n".encode())
    req = urllib.request.Request(url + "/api/v1/records", data=data, method="POST", headers={
        "Authorization": f"Bearer {token}", "Idempotency-Key": key,
        "Content-Type": f"multipart/form-data; boundary={b}"})
    try:
        with urllib.request.urlopen(req, timeout=120) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")
    except (ConnectionError, urllib.error.URLError) as exc:      # the server died under the request
        return 0, {"error": str(exc)}


def test_a_retry_after_its_server_died_mid_request_gets_the_record_the_dead_one_published(cli, archive_root):
    from dangan.core.store.new_version import EXIT_AFTER_PUBLISH
    cli("user", "add", "boss", "--clearance", "top-secret", user="x")
    cli("user", "add", "arch", "--role", "archivist", "--dept", "BGS", user="boss")
    token = cli("token", "create", "arch", "--scope", "read,ingest", user="boss").output.splitlines()[0].strip()
    env = {**os.environ, "DANGAN_LEASE_SECONDS": "10"}     # longer than a second server takes to start under load
    body = "服务器在提交前被杀 TAKEOVERWORD".encode()
    dying, url = serve(archive_root, {**env, EXIT_AFTER_PUBLISH: "1"})
    other = None
    try:
        status, _doc = upload(url, token, "order-7", body)
        assert status == 0 and dying.wait(30) == 137                 # died after publishing, before its commit
        other, url2 = serve(archive_root, env)
        first, doc = upload(url2, token, "order-7", body)
        assert first == 409 and "retry later" in doc["error"]        # the dead server's lease still runs
        deadline = time.monotonic() + 60
        while first == 409 and time.monotonic() < deadline:
            time.sleep(1)
            first, doc = upload(url2, token, "order-7", body)
        assert first == 200, doc                                     # the dead server's record, adopted
        from pathlib import Path
        assert not list(Path("/dev/shm").glob(f"dangan-upload-{dying.pid}-*"))   # its spool (plaintext) swept
        again, doc2 = upload(url2, token, "order-7", body)
        assert (again, doc2["id"]) == (200, doc["id"])               # and from now on a plain replay
    finally:
        for p in (dying, other):
            if p is not None and p.poll() is None:
                p.terminate()
                p.wait(30)
    conn = raw_catalogue(archive_root)
    try:
        assert conn.execute("SELECT count(*) FROM records").fetchone()[0] == 1
        assert [r[0] for r in conn.execute("SELECT action FROM audit WHERE object = ? AND action IN"
                                           " ('record.ingest', 'record.recover')", (doc["id"],))] == ["record.recover"]
        assert conn.execute("SELECT record_id FROM idempotency_keys WHERE key = 'order-7'").fetchone()[0] == doc["id"]
        assert conn.execute("SELECT count(*) FROM intent_leases").fetchone()[0] == 0
        assert conn.execute("SELECT count(*) FROM ingest_intents").fetchone()[0] == 0
    finally:
        conn.close()
    cli("check", user="boss")
    assert "intact" in cli("audit", "verify", user="boss").output
