"""Faults against the real S3 server: a stopped server mid-upload, a writer killed mid-publish.

Afterwards nothing half-published is trusted, every file is archived exactly once or not at all, a rerun
files it exactly once, ``dangan check`` passes and ocfl-py validates every object in the bucket."""
from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

import s3_service
from s3_helpers import assert_bucket_store_valid, keys
from s3_fixtures import archive_root, bucket, s3_env, s3_server  # noqa: F401  (fixtures: S3, archive on S3)

PREFIX = "fonds-z109"


def dangan(root: Path, *args) -> list[str]:
    return [sys.executable, "-m", "dangan", "--archive", str(root), "--as", "tester", *map(str, args)]


def records_by_digest(root: Path) -> dict[str, int]:
    conn = sqlite3.connect(root / "catalogue.sqlite")
    try:
        return dict(conn.execute("SELECT main_sha512, count(*) FROM records GROUP BY main_sha512").fetchall())
    finally:
        conn.close()


def assert_nothing_untrusted(svc, bucket: str) -> None:
    """Every object prefix in the bucket is a published object (has its root sidecar); no upload is left open."""
    objects: dict[str, set[str]] = {}
    for k in keys(svc, bucket, PREFIX + "/"):
        parts = k.split("/")
        if len(parts) >= 6:
            objects.setdefault("/".join(parts[:5]), set()).add("/".join(parts[5:]))
    for obj, names in objects.items():
        assert "inventory.json.sha512" in names, f"{obj} holds keys of an unpublished write: {sorted(names)}"
    assert not svc.client().list_multipart_uploads(Bucket=bucket).get("Uploads"), "an unfinished upload is left"


@pytest.fixture
def own_server(monkeypatch, tmp_path):
    """A SeaweedFS of this test's own (it is stopped on purpose), the test credentials in the AWS variables."""
    svc = s3_service.start(tmp_path / "weed")
    for k, v in svc.env.items():
        if k.startswith("AWS_"):
            monkeypatch.setenv(k, v)
    try:
        yield svc
    finally:
        svc.stop()


def test_a_stopped_s3_server_mid_upload_fails_clearly_and_a_rerun_files_once(own_server, tmp_path):
    from dangan.core.archive import Archive
    from dangan.core.kernel.actor import Actor
    svc = own_server
    bucket = svc.make_bucket(f"f-{uuid.uuid4().hex[:16]}")
    root = tmp_path / "archive"
    Archive.init(root, fonds="Z109", actor=Actor("tester", "tester"), store_url=f"s3://{bucket}/{PREFIX}",
                 store_endpoint=svc.endpoint).close()
    drop = tmp_path / "drop"
    drop.mkdir()
    big = drop / "scan-0001.bin"
    big.write_bytes(os.urandom(40 * 1024 * 1024))            # multipart: five 8 MiB parts
    digest = hashlib.sha512(big.read_bytes()).hexdigest()
    hold = tmp_path / "hold"
    hold.mkdir()
    env = {**os.environ, "DANGAN_TEST_S3_HOLD": str(hold), "DANGAN_S3_ATTEMPTS": "2"}
    proc = subprocess.Popen(dangan(root, "ingest", big, "--json"), env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    while not (hold / "held").exists():                      # the first part is up: the upload is under way
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.05)
    svc.pause()                                              # the S3 server stops mid-upload
    (hold / "go").touch()
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 18, out + err                  # StoreUnavailable: a clear message, no traceback
    assert "S3" in out + err and "Traceback" not in out + err, out + err
    print(out, err)
    assert big.exists()                                      # the file is where it was
    svc.resume()
    assert records_by_digest(root).get(digest) is None       # nothing was filed
    r = subprocess.run(dangan(root, "ingest", big, "--json"), capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    assert json.loads(r.stdout.splitlines()[0])["status"] == "archived"
    r = subprocess.run(dangan(root, "check", "--json"), capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.strip() == "", r.stdout + r.stderr
    assert records_by_digest(root) == {digest: 1}            # exactly once
    assert_nothing_untrusted(svc, bucket)
    assert assert_bucket_store_valid(svc, bucket, PREFIX) == 1
    r = subprocess.run(dangan(root, "get", records_id(root), "-o", tmp_path / "out"), capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert hashlib.sha512((tmp_path / "out" / "scan-0001.bin").read_bytes()).hexdigest() == digest


def records_id(root: Path) -> str:
    conn = sqlite3.connect(root / "catalogue.sqlite")
    try:
        return conn.execute("SELECT id FROM records").fetchone()[0]
    finally:
        conn.close()


def ingest_killed_at_put(root: Path, paths: list[Path], n: int) -> bool:
    """``dangan ingest PATHS`` killed with -9 after its ``n``-th S3 PUT (or finishing first); then ``dangan check``
    must pass (recovery settled what the kill left).  True when the kill landed."""
    env = {**os.environ, "DANGAN_TEST_CRASH_AFTER": f"s3put:{n}"}
    r = subprocess.run(dangan(root, "ingest", *paths, "--json"), env=env, capture_output=True, text=True)
    if r.returncode != -9:
        assert r.returncode == 0, r.stderr
    c = subprocess.run(dangan(root, "check", "--json"), capture_output=True, text=True)
    assert c.returncode == 0 and c.stdout.strip() == "", f"after a kill at put {n}: {c.stdout}{c.stderr}"
    return r.returncode == -9


def test_kill_9_at_every_put_of_a_publish_then_recovery(archive_root, s3_env, bucket, tmp_path):
    """The writer is killed right after its N-th S3 request that writes (N = 1, 2, …): after recovery every
    file is archived once or not at all, and a rerun archives each exactly once."""
    drop = tmp_path / "drop"
    drop.mkdir()
    digests = {}
    crashed = 0
    for n in range(1, 12):
        f = drop / f"纪要-{n:02d}.txt"
        f.write_text(f"第{n}次会议纪要 meeting {n}", encoding="utf-8")
        digests[hashlib.sha512(f.read_bytes()).hexdigest()] = f
        crashed += ingest_killed_at_put(archive_root, [f], n)
        assert all(v == 1 for v in records_by_digest(archive_root).values())
        assert_nothing_untrusted(s3_env, bucket)
    assert crashed >= 6, "the kills did not land inside the publish"
    r = subprocess.run(dangan(archive_root, "ingest", drop, "--json"), capture_output=True, text=True)
    assert {json.loads(line)["status"] for line in r.stdout.splitlines()} <= {"archived", "duplicate"}, r.stdout
    assert records_by_digest(archive_root) == {d: 1 for d in digests}
    assert not any((archive_root / ".work" / "staging").iterdir()), "staging folders were left behind"


def test_kill_9_at_every_put_of_a_revision_keeps_the_old_version_trusted(archive_root, cli, s3_env, bucket, tmp_path):
    """A revision killed after its N-th S3 write: readers see v1 until the sidecar names v2 (between the root
    inventory and the sidecar the sidecar still names v1); recovery rolls a complete v2 forward or deletes a
    partial one; exactly one revision lands for each rerun."""
    src = tmp_path / "纪要.txt"
    src.write_text("第一版 first version", encoding="utf-8")
    rid = json.loads(cli("ingest", src, "--json").output.splitlines()[0])["record_id"]
    expected_version = 1
    crashed = 0
    for n in range(1, 8):
        new = tmp_path / f"v{n}.txt"
        new.write_text(f"修订 {n} revision {n}", encoding="utf-8")
        env = {**os.environ, "DANGAN_TEST_CRASH_AFTER": f"s3put:{n}"}
        r = subprocess.run(dangan(archive_root, "revise", rid, new, "-m", f"revision {n}"), env=env,
                           capture_output=True, text=True)
        crashed += r.returncode == -9
        assert r.returncode in (0, -9), r.stderr
        c = subprocess.run(dangan(archive_root, "check", "--json"), capture_output=True, text=True)
        assert c.returncode == 0 and c.stdout.strip() == "", f"after a kill at put {n}: {c.stdout}{c.stderr}"
        assert_nothing_untrusted(s3_env, bucket)
        shown = json.loads(subprocess.run(dangan(archive_root, "show", rid, "--json"), capture_output=True,
                                          text=True).stdout)
        assert shown["version"] in (expected_version, expected_version + 1)
        expected_version = shown["version"]
        out = tmp_path / f"out{n}"
        g = subprocess.run(dangan(archive_root, "get", rid, "-o", out), capture_output=True, text=True)
        assert g.returncode == 0, g.stderr
    assert crashed >= 4, "the kills did not land inside the publish"
    assert_bucket_store_valid(s3_env, bucket, PREFIX)


def test_init_on_s3_refuses_clearly(tmp_path, s3_env, bucket, monkeypatch):
    """A missing bucket, a prefix that holds something, wrong credentials: a clear message, no archive left."""
    def init(name, *extra, **env):
        e = {**os.environ, **env}
        return subprocess.run([sys.executable, "-m", "dangan", "init", str(tmp_path / name), "--fonds", "Z109",
                               *extra], capture_output=True, text=True, env=e)
    r = init("a1", "--store", "s3://no-such-bucket-here/x", "--store-endpoint", s3_env.endpoint)
    assert r.returncode != 0 and "no-such-bucket-here" in r.stderr and "Traceback" not in r.stderr, r.stderr
    assert not (tmp_path / "a1" / "dangan.toml").exists()
    s3_env.client().put_object(Bucket=bucket, Key="used/something", Body=b"x")
    r = init("a2", "--store", f"s3://{bucket}/used", "--store-endpoint", s3_env.endpoint)
    assert r.returncode == 2 and "not empty" in r.stderr, r.stderr
    r = init("a3", "--store", f"s3://{bucket}/fresh", "--store-endpoint", s3_env.endpoint,
             AWS_SECRET_ACCESS_KEY="wrong-secret")
    assert r.returncode == 7 and "credentials" in r.stderr and "wrong-secret" not in r.stderr, r.stderr
    r = init("a4", "--store", "/not/a/url")
    assert r.returncode == 2 and "s3://" in r.stderr
    r = init("a5", "--store-endpoint", s3_env.endpoint)
    assert r.returncode == 2 and "--store" in r.stderr


def test_a_batch_stops_at_an_unreachable_s3_and_leaves_every_file_in_place(own_server, tmp_path):
    """The service is down for the whole batch: the first group of files fails (exit 18), the batch stops
    instead of failing every group in turn, every file stays in its folder; with the service back a rerun files
    each once."""
    from dangan.core.archive import Archive
    from dangan.core.kernel.actor import Actor
    from dangan.core.store.group_commit import GROUP_SIZE, IN_FLIGHT
    # more groups than can be in flight (a batch commits GROUP_SIZE files at once, in a committing thread of its
    # own, with IN_FLIGHT groups staged and waiting behind the one it commits)
    n = (IN_FLIGHT + 3) * GROUP_SIZE + 8
    svc = own_server
    bucket = svc.make_bucket(f"b-{uuid.uuid4().hex[:16]}")
    root = tmp_path / "archive"
    Archive.init(root, fonds="Z109", actor=Actor("tester", "tester"), store_url=f"s3://{bucket}/{PREFIX}",
                 store_endpoint=svc.endpoint).close()
    drop = tmp_path / "drop"
    drop.mkdir()
    for i in range(n):
        (drop / f"函-{i}.txt").write_text(f"第{i}封函 letter {i}", encoding="utf-8")
    svc.pause()
    env = {**os.environ, "DANGAN_S3_ATTEMPTS": "1"}
    r = subprocess.run(dangan(root, "ingest", drop, "--json"), env=env, capture_output=True, text=True)
    outcomes = [json.loads(line) for line in r.stdout.splitlines()]
    assert r.returncode == 18, r.stdout + r.stderr
    # the audit checkpoint log is in the bucket: the batch reads its newest checkpoint before the first file, so
    # it refuses there, having tried nothing; were that read to pass, the files in flight fail, and no more
    assert len(outcomes) < n, len(outcomes)
    assert {o["status"] for o in outcomes} <= {"failed"} and all("S3" in o["message"] for o in outcomes)
    assert outcomes or ("S3" in r.stderr and "Traceback" not in r.stderr), r.stderr
    assert len(list(drop.iterdir())) == n                     # every file where it was
    svc.resume()
    r = subprocess.run(dangan(root, "ingest", drop, "--json"), capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    assert len(records_by_digest(root)) == n and set(records_by_digest(root).values()) == {1}
    c = subprocess.run(dangan(root, "check", "--json"), capture_output=True, text=True)
    assert c.returncode == 0 and c.stdout.strip() == "", c.stdout + c.stderr
    assert_nothing_untrusted(svc, bucket)
