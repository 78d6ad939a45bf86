"""Readers trust the sidecar (issue 17.3): what another machine reads between a writer's kill and its recovery.

A `dangan ingest` or `dangan revise` on S3 is killed (-9) right after its k-th PUT, for every k of a version's
publish (content, version inventory and its sidecar, root inventory, root sidecar).  Before anything recovers
it, a second process — another machine, as far as the shared PostgreSQL catalogue can tell — runs `dangan
show`, `get`, `ls` and `check` on the records and on the half-published object: the object is invisible (a new
one) or its previous version (a revised one), never a part of the new one, and nothing crashes.  The killed
writer's lease is made to last an hour, so none of these readers may settle its write; afterwards the lease is
ended (what an hour's wait would do) and `dangan check` recovers: every file is archived once or not at all,
every revision is whole or absent, and ocfl-py validates the bucket.
"""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from s3_fixtures import bucket, s3_env, s3_server  # noqa: F401 - fixtures used by name
from s3_helpers import assert_bucket_store_valid

PREFIX = "fonds-z109"
MAX_PUTS = 14


def dangan(root: Path, *args, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "dangan", "--archive", str(root), "--as", "tester",
                           *map(str, args)], capture_output=True, text=True, env=env or dict(os.environ), timeout=600)


def killed_at_put(root: Path, k: int, *args) -> bool:
    """``dangan ARGS`` killed after its k-th S3 PUT, its lease lasting an hour; True if the kill landed."""
    env = {**os.environ, "DANGAN_TEST_CRASH_AFTER": f"s3put:{k}", "DANGAN_LEASE_SECONDS": "3600"}
    r = dangan(root, *args, env=env)
    if r.returncode != -9:
        assert r.returncode == 0, r.stdout + r.stderr
    return r.returncode == -9


def sql(pg_url: str, stmt: str, params: tuple = ()) -> list[tuple]:
    with psycopg.connect(pg_url, autocommit=True) as conn:
        cur = conn.execute(stmt, params)
        return cur.fetchall() if cur.description else []


def no_traceback(r: subprocess.CompletedProcess) -> str:
    out = r.stdout + r.stderr
    assert "Traceback" not in out, out
    return out


def store_head(root: Path, oid: str) -> int:
    """The version the bucket's trusted inventory (the one the root sidecar names) says is the head; 0: none."""
    from dangan.core.archive import Archive
    from dangan.core.kernel.actor import Actor
    a = Archive(root, Actor("tester", "tester"))
    try:
        if not a.store.exists(oid):
            return 0
        return int(a.store.inventory(oid)["head"][1:])
    finally:
        a.close()


def check_passes(root: Path) -> None:
    r = dangan(root, "check", "--json")
    assert r.returncode == 0 and r.stdout.strip() == "", no_traceback(r)


def end_leases_and_recover(root: Path, pg_url: str) -> None:
    """The killed writer's lease ends (as after its hour), then `dangan check` settles what it left."""
    sql(pg_url, "UPDATE intent_leases SET until = 0")
    check_passes(root)
    assert sql(pg_url, "SELECT count(*) FROM ingest_intents") == [(0,)]


@pytest.fixture
def pg_archive(tmp_path, pg_url, s3_env, bucket):  # noqa: F811
    from dangan.core.archive import Archive
    from dangan.core.kernel.actor import Actor
    root = tmp_path / "archive"
    Archive.init(root, fonds="Z109", actor=Actor("tester", "tester"), catalogue_url=pg_url,
                 store_url=f"s3://{bucket}/{PREFIX}", store_endpoint=s3_env.endpoint).close()
    return root


def test_a_new_object_killed_at_each_put_is_invisible_to_readers_until_recovered(pg_archive, pg_url, s3_env,
                                                                                 bucket, tmp_path):  # noqa: F811
    root = pg_archive
    drop = tmp_path / "drop"
    drop.mkdir()
    digests: dict[str, bytes] = {}
    crashed = 0
    for k in range(1, MAX_PUTS + 1):
        f = drop / f"纪要-{k:02d}.txt"
        f.write_text(f"第{k}次会议纪要 meeting {k} " * 40, encoding="utf-8")
        digests[hashlib.sha512(f.read_bytes()).hexdigest()] = f.read_bytes()
        before = {r["id"] for r in map(json.loads, dangan(root, "ls", "--json").stdout.splitlines())}
        if not killed_at_put(root, k, "ingest", f, "--json"):
            break
        crashed += 1
        (oid,) = [r[0] for r in sql(pg_url, "SELECT object_id FROM ingest_intents")]   # the dead writer's
        assert oid not in before
        # a second machine reads before anything recovers the write
        listed = dangan(root, "ls", "--json")
        assert listed.returncode == 0, no_traceback(listed)
        assert {r["id"] for r in map(json.loads, listed.stdout.splitlines())} == before
        for args in (("show", oid, "--json"), ("get", oid, "-o", tmp_path / f"out-{k}")):
            r = dangan(root, *args)
            assert r.returncode == 4, no_traceback(r)                     # not found: a clear message
            assert oid in r.stdout + r.stderr
        assert not (tmp_path / f"out-{k}").exists() or not any((tmp_path / f"out-{k}").iterdir())
        check_passes(root)                        # the half-published object is no damage, and no record
        assert sql(pg_url, "SELECT object_id FROM ingest_intents") == [(oid,)]     # nobody settled it yet
        end_leases_and_recover(root, pg_url)
        # recovered: the file is archived exactly once (its object adopted) or not at all (what was put removed)
        held = dict(sql(pg_url, "SELECT main_sha512, count(*) FROM records GROUP BY main_sha512"))
        assert all(n == 1 for n in held.values()), held
        assert (store_head(root, oid) == 1) == (oid in {r[0] for r in sql(pg_url, "SELECT id FROM records")})
    assert crashed >= 5, "the kills did not land inside the publish"
    rerun = dangan(root, "ingest", drop, "--json")                        # what was not archived is now, once
    assert rerun.returncode in (0, 5), no_traceback(rerun)
    held = dict(sql(pg_url, "SELECT main_sha512, count(*) FROM records GROUP BY main_sha512"))
    assert set(held) == set(digests) and all(n == 1 for n in held.values()), held
    check_passes(root)
    assert assert_bucket_store_valid(s3_env, bucket, PREFIX) == len(digests)


def test_a_revision_killed_at_each_put_reads_as_the_previous_version_until_recovered(pg_archive, pg_url, s3_env,
                                                                                     bucket, tmp_path):  # noqa: F811
    root = pg_archive
    first = tmp_path / "合同.txt"
    first.write_text("第一版 合同 " * 50, encoding="utf-8")
    r = dangan(root, "ingest", first, "--json")
    assert r.returncode == 0, r.stderr
    rid = json.loads(r.stdout.splitlines()[0])["record_id"]
    versions = {1: first.read_bytes()}           # the bytes of each version the catalogue holds
    crashed = 0
    for k in range(1, MAX_PUTS + 1):
        prev = max(versions)
        new = tmp_path / f"rev-{k}" / "合同.txt"
        new.parent.mkdir()
        new.write_bytes(f"第{prev + 1}版 合同 revision {k} ".encode() * (30 + k))
        if not killed_at_put(root, k, "revise", rid, new, "-m", f"第{k}次修订"):
            versions[prev + 1] = new.read_bytes()
            break
        crashed += 1
        published = store_head(root, rid)          # prev, or prev + 1 once the root sidecar was put
        assert published in (prev, prev + 1)
        # a second machine reads before anything recovers the revision: the previous version, whole
        shown = dangan(root, "show", rid, "--json")
        assert shown.returncode == 0, no_traceback(shown)
        assert json.loads(shown.stdout)["version"] == prev
        out = tmp_path / f"get-{k}"
        got = dangan(root, "get", rid, "-o", out)
        assert got.returncode == 0, no_traceback(got)
        assert [p.read_bytes() for p in out.iterdir()] == [versions[prev]]
        old = tmp_path / f"get-{k}-v1"
        got = dangan(root, "get", rid, "--version", 1, "-o", old)
        assert got.returncode == 0 and [p.read_bytes() for p in old.iterdir()] == [versions[1]], no_traceback(got)
        check_passes(root)
        assert sql(pg_url, "SELECT object_id FROM ingest_intents") == [(rid,)]     # nobody settled it yet
        end_leases_and_recover(root, pg_url)
        # recovered: the revision is whole (adopted: published, or its version inventory complete and rolled
        # forward) or absent (what was put removed); catalogue and store agree
        shown = json.loads(dangan(root, "show", rid, "--json").stdout)
        assert shown["version"] == store_head(root, rid) in (published, prev + 1)
        if shown["version"] == prev + 1:
            versions[prev + 1] = new.read_bytes()
        out = tmp_path / f"after-{k}"
        got = dangan(root, "get", rid, "-o", out)
        assert got.returncode == 0 and [p.read_bytes() for p in out.iterdir()] == [versions[max(versions)]], \
            no_traceback(got)
    assert crashed >= 5, "the kills did not land inside the publish"
    check_passes(root)
    assert assert_bucket_store_valid(s3_env, bucket, PREFIX) == 1
