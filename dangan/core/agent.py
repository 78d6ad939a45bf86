"""The unlock agent: holds unlocked volume keys in memory for a limited time.

``dangan volume unlock`` unwraps a volume's private key with the passphrase and
hands it to this small background process over a Unix socket; later commands
of the same OS user ask it for the key.  Keys never touch disk, expire after
the configured lifetime, and go when locked; the agent exits when it holds no
key.  The socket lives in a 0700 folder (``$XDG_RUNTIME_DIR/dangan`` or
``/tmp/dangan-UID``) and the agent answers only peers of its own uid
(``SO_PEERCRED``).

Protocol: one JSON object per line each way: ``{"op": "put", "volume", "key"
(base64), "ttl"}``, ``{"op": "get", "volume"}``, ``{"op": "drop", "volume"
(or null for all)}``, ``{"op": "status"}``, ``{"op": "quit"}``.
"""
from __future__ import annotations

import base64
import json
import os
import select
import socket
import struct
import subprocess
import sys
import time
from pathlib import Path

IDLE_EXIT_SECONDS = 5.0


def runtime_dir() -> Path:
    base = os.environ.get("XDG_RUNTIME_DIR")
    d = Path(base) / "dangan" if base else Path(f"/tmp/dangan-{os.getuid()}")
    d.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(d, 0o700)
    if d.stat().st_uid != os.getuid():
        from ..errors import AccessDenied
        raise AccessDenied(f"{d} belongs to another user; set $XDG_RUNTIME_DIR")
    return d


def socket_path(archive_id: str) -> Path:
    return runtime_dir() / f"agent-{archive_id.replace('-', '')[:16]}.sock"


class AgentClient:
    def __init__(self, archive_id: str) -> None:
        self.path = socket_path(archive_id)

    def _call(self, msg: dict, *, start: bool = False) -> dict | None:
        for attempt in range(2):
            try:
                with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                    s.settimeout(5)
                    s.connect(str(self.path))
                    s.sendall(json.dumps(msg).encode() + b"\n")
                    buf = b""
                    while not buf.endswith(b"\n"):
                        chunk = s.recv(65536)
                        if not chunk:
                            break
                        buf += chunk
                    return json.loads(buf or b"{}")
            except (FileNotFoundError, ConnectionRefusedError, socket.timeout):
                if not start or attempt:
                    return None
                self._start()
        return None

    def _start(self) -> None:
        self.path.unlink(missing_ok=True)
        subprocess.Popen([sys.executable, "-m", "dangan.core.agent", str(self.path)], start_new_session=True,
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        end = time.monotonic() + 10
        while time.monotonic() < end and not self.path.exists():
            time.sleep(0.02)

    def put(self, volume: str, key: bytes, ttl: float) -> None:
        r = self._call({"op": "put", "volume": volume, "key": base64.b64encode(key).decode(), "ttl": ttl}, start=True)
        if not r or not r.get("ok"):
            from ..errors import CryptoError
            raise CryptoError("could not reach the unlock agent")

    def get(self, volume: str) -> bytes | None:
        r = self._call({"op": "get", "volume": volume})
        return base64.b64decode(r["key"]) if r and r.get("key") else None

    def drop(self, volume: str | None) -> None:
        self._call({"op": "drop", "volume": volume})

    def status(self) -> dict[str, float]:
        r = self._call({"op": "status"})
        return r.get("volumes", {}) if r else {}


def _peer_uid(conn: socket.socket) -> int:
    creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    return struct.unpack("3i", creds)[1]


def serve(path: Path) -> None:
    keys: dict[str, tuple[bytes, float]] = {}
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old = os.umask(0o177)
    try:
        srv.bind(str(path))
    finally:
        os.umask(old)
    srv.listen(16)
    last_key = time.monotonic()
    try:
        while True:
            now = time.time()
            for v in [v for v, (_, exp) in keys.items() if exp <= now]:
                del keys[v]
            if keys:
                last_key = time.monotonic()
            elif time.monotonic() - last_key > IDLE_EXIT_SECONDS:
                return
            ready, _, _ = select.select([srv], [], [], 0.5)
            if not ready:
                continue
            conn, _ = srv.accept()
            with conn:
                conn.settimeout(5)
                if _peer_uid(conn) != os.getuid():
                    continue
                try:
                    buf = b""
                    while not buf.endswith(b"\n"):
                        chunk = conn.recv(65536)
                        if not chunk:
                            break
                        buf += chunk
                    msg = json.loads(buf)
                except (OSError, ValueError):
                    continue
                op = msg.get("op")
                reply: dict = {"ok": True}
                if op == "put":
                    keys[msg["volume"]] = (base64.b64decode(msg["key"]), time.time() + float(msg["ttl"]))
                elif op == "get":
                    entry = keys.get(msg.get("volume"))
                    reply["key"] = base64.b64encode(entry[0]).decode() if entry else None
                elif op == "drop":
                    if msg.get("volume") is None:
                        keys.clear()
                    else:
                        keys.pop(msg["volume"], None)
                elif op == "status":
                    reply["volumes"] = {v: exp for v, (_, exp) in keys.items()}
                elif op == "quit":
                    keys.clear()
                    conn.sendall(json.dumps(reply).encode() + b"\n")
                    return
                try:
                    conn.sendall(json.dumps(reply).encode() + b"\n")
                except OSError:
                    pass
    finally:
        srv.close()
        path.unlink(missing_ok=True)


if __name__ == "__main__":
    serve(Path(sys.argv[1]))
