"""The audit checkpoint log of an archive whose store is a bucket (issue 17): one object per checkpoint beside the
store's prefix, written by every machine of the archive with a conditional PUT.

Two node folders over one PostgreSQL catalogue and one SeaweedFS bucket file records at once, each a real
`dangan ingest` process: afterwards the bucket holds one checkpoint per committed transaction, numbered 0..n
with no gap and none twice, each carrying the audit key's seal and naming the trail's event; neither folder
holds a log of its own.  A checkpoint object deleted from the bucket, or the catalogue rolled back behind the
bucket's log, is caught by `dangan audit verify` (exit 6).  (The embedded default's file is
tests/catalogue/test_audit_anchor.py.)
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import uuid
from pathlib import Path

import pytest

from s3_fixtures import bucket, s3_env, s3_server  # noqa: F401 - fixtures used by name
from s3_helpers import assert_bucket_store_valid, keys
from search_nodes_helpers import second_node

PREFIX = "fonds-z109"
LOG_PREFIX = PREFIX + ".audit/checkpoints/"
ROUNDS = 3
FILES = 3


@pytest.fixture
def catalogue_backend() -> str:
    return "postgresql"


def dangan(root: Path, *args, env=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "dangan", "--archive", str(root), "--as", "tester",
                           *map(str, args)], capture_output=True, text=True, env=env or dict(os.environ), timeout=600)


def ingest_proc(root: Path, paths: list[Path]) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "dangan", "--archive", str(root), "--as", "tester", "ingest",
                             *map(str, paths), "--json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def bucket_checkpoints(svc, bucket: str) -> list[dict]:   # noqa: F811
    c = svc.client()
    out = []
    for k in keys(svc, bucket, LOG_PREFIX):
        line = json.loads(c.get_object(Bucket=bucket, Key=k)["Body"].read())
        assert k == f"{LOG_PREFIX}{line['n']:012d}.json", k
        out.append(line)
    return out


def catalogue_rows(pg_url: str, sql: str) -> list[tuple]:
    import psycopg
    with psycopg.connect(pg_url) as conn:
        return conn.execute(sql).fetchall()


@pytest.fixture
def two_nodes(tmp_path, pg_url, s3_env, bucket):  # noqa: F811
    from dangan.core.archive import Archive
    from dangan.core.kernel.actor import Actor
    a_root = tmp_path / "node-a"
    Archive.init(a_root, fonds="Z109", actor=Actor("tester", "tester"), catalogue_url=pg_url,
                 store_url=f"s3://{bucket}/{PREFIX}", store_endpoint=s3_env.endpoint).close()
    return a_root, second_node(a_root, tmp_path / "node-b")


def file_at_once(tmp_path: Path, roots: tuple[Path, Path], rounds: int = ROUNDS) -> int:
    """Each round both nodes ingest files of their own at the same time; returns how many were filed."""
    filed = 0
    for k in range(rounds):
        procs = []
        for root in roots:
            d = tmp_path / f"drop-{root.name}-{uuid.uuid4().hex[:8]}"
            d.mkdir()
            paths = []
            for i in range(FILES):
                p = d / f"纪要-{root.name}-{k}-{i}.txt"
                p.write_text(f"第{k}轮 {root.name} 会议纪要 {i} {uuid.uuid4().hex}", encoding="utf-8")
                paths.append(p)
            procs.append(ingest_proc(root, paths))
        for p in procs:
            out, err = p.communicate(timeout=600)
            assert p.returncode == 0, out + err
            filed += sum(1 for line in out.splitlines() if json.loads(line).get("status") == "archived")
    return filed


def test_a_conditional_put_creates_a_key_once_under_concurrent_writers(s3_env, bucket):  # noqa: F811
    """What the bucket log rests on: of writers racing to create one key, the service lets exactly one."""
    from dangan.repository.s3client import S3
    s3 = S3(f"s3://{bucket}/{PREFIX}.audit", s3_env.endpoint)
    for round_ in range(5):
        won: list[bytes] = []
        barrier = threading.Barrier(6)

        def write(i: int) -> None:
            data = f"writer {i}\n".encode()
            barrier.wait()
            if s3.put_new(f"race/{round_}.json", data):
                won.append(data)
        threads = [threading.Thread(target=write, args=(i,)) for i in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(won) == 1, f"round {round_}: {len(won)} writers created one key"
        assert s3.get(f"race/{round_}.json") == won[0]
        assert not s3.put_new(f"race/{round_}.json", b"late\n")          # an existing key is never replaced
        assert s3.get(f"race/{round_}.json") == won[0]


def test_two_node_folders_write_one_log_in_the_bucket_without_gap_or_duplicate(two_nodes, pg_url, s3_env, bucket,
                                                                               tmp_path):  # noqa: F811
    from dangan.core.archive import Archive
    from dangan.core.catalogue.audit_anchor import key_id, line_ok, load_key
    from dangan.core.kernel.actor import Actor
    a_root, b_root = two_nodes
    filed = file_at_once(tmp_path, (a_root, b_root))
    assert filed == 2 * ROUNDS * FILES
    for root in (a_root, b_root):
        assert dangan(root, "audit", "verify").returncode == 0
        r = dangan(root, "check", "--json")
        assert r.returncode == 0 and r.stdout.strip() == "", r.stdout + r.stderr
        assert not (root / "audit-checkpoints.log").exists()              # no local log on either machine
    lines = bucket_checkpoints(s3_env, bucket)
    ((head_n, head_seq, head_hash),) = catalogue_rows(pg_url, "SELECT checkpoint, seq, hash FROM audit_head")
    assert [line["n"] for line in lines] == list(range(head_n + 1))      # 0 (the start) .. n: no gap, none twice
    assert lines[0]["kind"] == "start" and (lines[-1]["seq"], lines[-1]["hash"]) == (head_seq, head_hash)
    events = dict(catalogue_rows(pg_url, "SELECT seq, hash FROM audit"))
    a = Archive(a_root, Actor("tester", "tester"))
    try:
        key = load_key(a)
        assert key is not None
        for line in lines:
            assert line_ok(key, line) and line["key"] == key_id(key), line
            assert line["seq"] == 0 or events[line["seq"]] == line["hash"], line
    finally:
        a.close()
    seqs = [line["seq"] for line in lines[1:]]
    assert seqs == sorted(set(seqs)), "two checkpoints name one event, or they go backwards"
    # ocfl-py validates the storage root; the log beside it is not part of it
    assert assert_bucket_store_valid(s3_env, bucket, PREFIX) == filed
    assert not [k for k in keys(s3_env, bucket, PREFIX + "/") if ".audit" in k]


def test_a_deleted_checkpoint_object_is_caught_by_audit_verify(two_nodes, s3_env, bucket, tmp_path):  # noqa: F811
    a_root, b_root = two_nodes
    file_at_once(tmp_path, (a_root, b_root), rounds=2)
    names = keys(s3_env, bucket, LOG_PREFIX)
    assert len(names) >= 5
    s3_env.client().delete_object(Bucket=bucket, Key=names[len(names) // 2])
    for root in (a_root, b_root):
        r = dangan(root, "audit", "verify")
        assert r.returncode == 6, r.stdout + r.stderr
        n = int(Path(names[len(names) // 2]).stem)
        assert f"checkpoint {n + 1} follows checkpoint {n - 1}" in r.stdout + r.stderr, r.stdout + r.stderr


def test_a_checkpoint_object_edited_after_a_verify_is_caught_by_the_next(two_nodes, s3_env, bucket, tmp_path):  # noqa: F811
    """A node keeps what it has read of the log (``.work/``) by ETag: an object written again is read again."""
    a_root, b_root = two_nodes
    file_at_once(tmp_path, (a_root, b_root), rounds=1)
    for root in (a_root, b_root):
        assert dangan(root, "audit", "verify").returncode == 0
    assert (a_root / ".work" / "audit-checkpoints.cache").is_file()
    c = s3_env.client()
    name = keys(s3_env, bucket, LOG_PREFIX)[2]
    line = json.loads(c.get_object(Bucket=bucket, Key=name)["Body"].read())
    line["time"] = "2020-01-01T00:00:00Z"                                 # edited without the key: its seal breaks
    c.put_object(Bucket=bucket, Key=name, Body=(json.dumps(line) + "\n").encode())
    for root in (a_root, b_root):
        r = dangan(root, "audit", "verify")
        assert r.returncode == 6, r.stdout + r.stderr
        assert f"checkpoint {line['n']} in" in r.stdout and "does not carry the audit key's seal" in r.stdout, r.stdout


def test_a_catalogue_rolled_back_behind_the_bucket_log_is_caught(two_nodes, pg_url, s3_env, bucket,
                                                                  tmp_path):  # noqa: F811
    """The catalogue is put back to an earlier state (its later events and the head they sealed gone, as a
    restore of an old dump would): the bucket's log still holds the later checkpoints."""
    import psycopg
    a_root, b_root = two_nodes
    file_at_once(tmp_path, (a_root, b_root), rounds=1)
    with psycopg.connect(pg_url) as conn:
        saved = conn.execute("SELECT seq, hash, checkpoint, mac FROM audit_head").fetchone()
    file_at_once(tmp_path, (a_root, b_root), rounds=1)
    with psycopg.connect(pg_url) as conn:
        conn.execute("DELETE FROM audit WHERE seq > %s", (saved[0],))
        conn.execute("UPDATE audit_head SET seq = %s, hash = %s, checkpoint = %s, mac = %s", saved)
    for root in (a_root, b_root):
        r = dangan(root, "audit", "verify")
        assert r.returncode == 6, r.stdout + r.stderr
        assert "the catalogue is behind its checkpoints" in r.stdout + r.stderr, r.stdout + r.stderr
    late = tmp_path / "late.txt"
    late.write_text("after the rollback", encoding="utf-8")
    r = dangan(b_root, "ingest", late)
    assert r.returncode == 6 and "the audit trail is broken, nothing was changed" in r.stderr, r.stdout + r.stderr


def _log_moved_back_to_a_file(svc, bucket: str, roots: tuple[Path, ...], shared: Path, upto: int | None = None) -> None:  # noqa: F811
    """The state of an archive made before the log moved to the bucket: its lines in the one file every node
    folder names (``[audit] checkpoint_log``), none in the bucket."""
    lines = bucket_checkpoints(svc, bucket)
    shared.write_text("".join(json.dumps(line, sort_keys=True, ensure_ascii=False, separators=(",", ":")) + "\n"
                              for line in lines if upto is None or line["n"] <= upto), encoding="utf-8")
    for k in keys(svc, bucket, LOG_PREFIX):
        svc.client().delete_object(Bucket=bucket, Key=k)
    for root in roots:
        toml = root / "dangan.toml"
        text = toml.read_text(encoding="utf-8")
        toml.write_text(text.replace("[audit]\n", f"[audit]\ncheckpoint_log = {json.dumps(str(shared))}\n", 1),
                        encoding="utf-8")
        for cache in (root / ".work").glob("audit-checkpoints.cache"):
            cache.unlink()


def test_the_log_file_of_an_archive_made_before_is_moved_into_the_empty_bucket_once(two_nodes, pg_url, s3_env,
                                                                                    bucket, tmp_path):  # noqa: F811
    a_root, b_root = two_nodes
    file_at_once(tmp_path, (a_root, b_root), rounds=1)
    _log_moved_back_to_a_file(s3_env, bucket, (a_root, b_root), tmp_path / "shared.log")
    assert keys(s3_env, bucket, LOG_PREFIX) == []
    file_at_once(tmp_path, (a_root, b_root), rounds=1)                  # both nodes at once: each line put once
    lines = bucket_checkpoints(s3_env, bucket)
    ((head_n,),) = catalogue_rows(pg_url, "SELECT checkpoint FROM audit_head")
    assert [line["n"] for line in lines] == list(range(head_n + 1))
    for root in (a_root, b_root):
        r = dangan(root, "audit", "verify")
        assert r.returncode == 0, r.stdout + r.stderr


def test_an_old_copy_of_the_log_file_does_not_pass_for_the_bucket_log(two_nodes, s3_env, bucket, tmp_path):  # noqa: F811
    """The bucket's log deleted and an older file left to seed it: the log is behind the catalogue, refused."""
    a_root, b_root = two_nodes
    file_at_once(tmp_path, (a_root, b_root), rounds=2)
    _log_moved_back_to_a_file(s3_env, bucket, (a_root, b_root), tmp_path / "shared.log", upto=2)
    r = dangan(a_root, "audit", "verify")
    assert r.returncode == 6 and "the checkpoint log was rolled back" in r.stdout, r.stdout + r.stderr
    late = tmp_path / "late.txt"
    late.write_text("after the log was replaced", encoding="utf-8")
    r = dangan(b_root, "ingest", late)
    assert r.returncode == 6 and "the audit trail is broken, nothing was changed" in r.stderr, r.stdout + r.stderr
