"""A whole dangan cluster on one machine, for the fault suite (tests/cluster/) and `make cluster-demo`.

One throw-away PostgreSQL (:mod:`pg_service`) for the catalogue, one SeaweedFS (:mod:`s3_service`) whose bucket
holds the OCFL store, and *node folders* — each with a ``dangan.toml`` naming that catalogue and that store, and
its own local index and ``.work/`` — which are one archive: two ``dangan serve`` (ports of their own), two
``dangan worker`` and a ``dangan watch``, each a real process, each started, killed (kill -9) and restarted here.

Users: ``boss`` (admin, the OS account running this), ``arch`` (archivist; the CLI acts as arch with ``--as``)
and ``watch`` (archivist: the watcher's); ``token`` is arch's API token (scopes read, ingest).  The keystore's
passphrase and the S3 credentials are in the processes' environment only, never on a command line.
"""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pg_service
import s3_service

FONDS = "Z109"
PASSPHRASE = "cluster demo passphrase (tests only)"
CODE = {"category": "WS", "department": "BGS", "retention": "Y", "date": "2025-06-01"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Proc:
    """One dangan process of the cluster, restartable with the same command."""

    name: str
    argv: list[str]
    env: dict[str, str]
    log: Path
    popen: subprocess.Popen | None = None
    starts: int = 0

    def start(self) -> "Proc":
        self.log.parent.mkdir(parents=True, exist_ok=True)
        out = open(self.log, "ab")
        out.write(f"\n--- start {self.starts + 1}: {time.strftime('%H:%M:%S')}\n".encode())
        out.flush()
        self.popen = subprocess.Popen(self.argv, env=self.env, stdout=out, stderr=subprocess.STDOUT,
                                      stdin=subprocess.DEVNULL, start_new_session=True)
        out.close()
        self.starts += 1
        return self

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def kill9(self) -> None:
        """kill -9 the process and everything it started (its session)."""
        if self.popen is None:
            return
        try:
            os.killpg(self.popen.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.popen.wait()

    def stop(self, timeout: float = 60) -> int | None:
        """SIGTERM (a clean stop), then kill -9 if it does not end."""
        if self.popen is None or self.popen.poll() is not None:
            return self.popen.returncode if self.popen else None
        try:
            os.killpg(self.popen.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            return self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill9()
            return None

    def tail(self, n: int = 4000) -> str:
        try:
            return self.log.read_text(errors="replace")[-n:]
        except OSError:
            return ""


@dataclass
class Node:
    """A node folder: its ``dangan.toml`` names the cluster's catalogue and store; its index is its own."""

    name: str
    root: Path
    port: int = 0
    serve: Proc | None = None
    worker: Proc | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@dataclass
class Cluster:
    base: Path
    pg: pg_service.PgServer | None = None
    s3: s3_service.S3Service | None = None
    bucket: str = ""
    catalogue: str = ""
    nodes: list[Node] = field(default_factory=list)
    watcher: Proc | None = None
    drop: Path | None = None
    token: str = ""
    lease_seconds: int = 3
    owns_pg: bool = True
    owns_s3: bool = True

    # -- environment and commands ------------------------------------------------------------------------
    @property
    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DANGAN_", "AWS_"))}
        env.update(HOME=str(self.base / "home"), XDG_RUNTIME_DIR=str(self.base / "run"),
                   DANGAN_PASSPHRASE=PASSPHRASE, DANGAN_LEASE_SECONDS=str(self.lease_seconds),
                   DANGAN_S3_ATTEMPTS="2", PYTHONUNBUFFERED="1")
        if self.s3 is not None:
            env.update({k: v for k, v in self.s3.env.items() if k.startswith("AWS_")})
        return env

    def dangan(self, node: Node, *args: object, user: str | None = "arch") -> list[str]:
        return [sys.executable, "-m", "dangan", "--archive", str(node.root),
                *(("--as", user) if user else ()), *map(str, args)]

    def run(self, node: Node, *args: object, user: str | None = "arch", check: bool = True, timeout: float = 600,
            input: str | None = None) -> subprocess.CompletedProcess:
        r = subprocess.run(self.dangan(node, *args, user=user), env=self.env, capture_output=True, text=True,
                           timeout=timeout, input=input)
        if check and r.returncode != 0:
            raise RuntimeError(f"dangan {' '.join(map(str, args))} on {node.name} failed ({r.returncode}):\n"
                               f"{r.stdout[-2000:]}\n{r.stderr[-4000:]}")
        return r

    # -- life ---------------------------------------------------------------------------------------------
    def start_services(self) -> None:
        self.base.mkdir(parents=True, exist_ok=True)
        for d in ("home", "run"):
            (self.base / d).mkdir(exist_ok=True, mode=0o700)
        if self.pg is None:
            self.pg = pg_service.start()
        if self.s3 is None:
            self.s3 = s3_service.start(self.base / "s3")
        self.bucket = self.s3.make_bucket(f"cluster-{uuid.uuid4().hex[:12]}")
        self.catalogue = self.pg.new_database()

    def make_nodes(self, n: int = 2) -> None:
        """``dangan init`` the first node folder on the catalogue and the bucket; the others copy its
        ``dangan.toml`` (docs/deployment.md: a second machine of the same archive does just that)."""
        assert self.s3 is not None
        first = Node("A", self.base / "node-a", _free_port())
        r = subprocess.run([sys.executable, "-m", "dangan", "init", str(first.root), "--fonds", FONDS,
                            "--name", "集群演示公司", "--catalogue", self.catalogue,
                            "--store", f"s3://{self.bucket}/fonds-z109", "--store-endpoint", self.s3.endpoint],
                           env=self.env, capture_output=True, text=True, timeout=300)
        if r.returncode:
            raise RuntimeError(f"dangan init failed: {r.stdout}\n{r.stderr}")
        self.nodes = [first]
        for i in range(1, n):
            node = Node("ABCDEFGH"[i], self.base / f"node-{'abcdefgh'[i]}", _free_port())
            node.root.mkdir(mode=0o700)
            text = (first.root / "dangan.toml").read_text(encoding="utf-8")   # the audit log is in the bucket
            (node.root / "dangan.toml").write_text(text, encoding="utf-8")
            os.chmod(node.root / "dangan.toml", 0o600)
            self.nodes.append(node)
        self.run(first, "user", "add", "boss", "--clearance", "top-secret", user=None)
        for name in ("arch", "watch"):
            self.run(first, "user", "add", name, "--role", "archivist", "--dept", "BGS", "--clearance", "secret",
                     "--may-act-as", _os_user(), user="boss")
        self.token = self.run(first, "token", "create", "arch", "--scope", "read,ingest", "--days", "2",
                              user="boss").stdout.splitlines()[0].strip()

    def start_processes(self, *, watch: bool = True) -> None:
        for node in self.nodes:
            node.serve = Proc(f"serve-{node.name}", self.dangan(node, "serve", "--port", node.port, user=None),
                              self.env, self.base / "logs" / f"serve-{node.name}.log").start()
            node.worker = Proc(f"worker-{node.name}", self.dangan(node, "worker", "--idle", "0.5", "--lease",
                                                                   max(self.lease_seconds, 2), "-v", user="boss"),
                               self.env, self.base / "logs" / f"worker-{node.name}.log").start()
        if watch:
            self.drop = self.base / "drop"
            self.drop.mkdir(exist_ok=True)
            self.watcher = Proc("watch", self.dangan(self.nodes[0], "watch", self.drop, "--category", "WS",
                                                     "--dept", "BGS", "--retention", "Y", "--year", "2025",
                                                     "--settle", "0.5", "--rescan", "5", user="watch"),
                                self.env, self.base / "logs" / "watch.log").start()
        for node in self.nodes:
            self.wait_serving(node)

    def wait_serving(self, node: Node, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert node.serve is not None
            if not node.serve.alive():
                raise RuntimeError(f"dangan serve of node {node.name} exited:\n{node.serve.tail()}")
            try:
                with urllib.request.urlopen(node.url + "/healthz", timeout=5) as r:
                    if r.status == 200:
                        return
            except (OSError, urllib.error.URLError):
                pass
            time.sleep(0.3)
        raise RuntimeError(f"dangan serve of node {node.name} did not answer in {timeout:.0f}s")

    def processes(self) -> list[Proc]:
        out = [p for n in self.nodes for p in (n.serve, n.worker) if p is not None]
        return out + ([self.watcher] if self.watcher is not None else [])

    def stop(self, *, keep_services: bool = False) -> None:
        for p in self.processes():
            p.stop(30)
        from dangan.core.kernel.memory_tmp import sweep_dead
        sweep_dead()                                    # the upload spools of the servers killed mid-upload
        if keep_services:
            return
        if self.s3 is not None and self.owns_s3:
            self.s3.stop()
        if self.pg is not None and self.owns_pg:
            self.pg.stop()

    # -- filing -------------------------------------------------------------------------------------------
    def upload(self, node: Node, path: Path, *, key: str | None = None, fields: dict | None = None,
               timeout: float = 120) -> tuple[int, dict]:
        """POST /api/v1/records with arch's token (an Idempotency-Key makes a retry the same record)."""
        boundary = uuid.uuid4().hex
        parts = []
        for k, v in {**CODE, **(fields or {})}.items():
            parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode())
        parts.append((f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{path.name}"\r\n'
                      "Content-Type: application/octet-stream\r\n\r\n").encode("utf-8") + path.read_bytes() + b"\r\n")
        body = b"".join(parts) + f"--{boundary}--\r\n".encode()
        headers = {"Authorization": f"Bearer {self.token}", "Content-Type": f"multipart/form-data; boundary={boundary}"}
        if key:
            headers["Idempotency-Key"] = key
        req = urllib.request.Request(node.url + "/api/v1/records", data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                return r.status, json.loads(r.read() or b"{}")
        except urllib.error.HTTPError as exc:
            try:
                return exc.code, json.loads(exc.read() or b"{}")
            except ValueError:
                return exc.code, {}

    def api_search(self, node: Node, q: str, limit: int = 20) -> list[dict]:
        from urllib.parse import quote
        req = urllib.request.Request(f"{node.url}/api/v1/search?q={quote(q)}&limit={limit}",
                                     headers={"Authorization": f"Bearer {self.token}"})
        with urllib.request.urlopen(req, timeout=60) as r:
            doc = json.loads(r.read())
        return doc.get("results", doc.get("hits", [])) if isinstance(doc, dict) else doc


def _os_user() -> str:
    import pwd
    return pwd.getpwuid(os.getuid()).pw_name
