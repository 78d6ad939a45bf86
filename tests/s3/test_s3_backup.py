"""A backup repository in an S3 bucket (SeaweedFS): create, verify, restore, the lock, ciphertext only."""
from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

import pytest

from ocfl_helpers import assert_store_valid
from s3_helpers import keys
from s3_fixtures import archive_root, bucket, s3_env, s3_server  # noqa: F401  (fixtures: S3, archive on S3)

PASS = "backup passphrase for the S3 test"


def tree(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): hashlib.sha512(p.read_bytes()).hexdigest()
            for p in root.rglob("*") if p.is_file()}


@pytest.fixture
def configured(archive_root, s3_env, bucket, monkeypatch):
    """The archive's backups go to s3://BUCKET/backup/z109 ([backup] repo and endpoint_url in dangan.toml)."""
    monkeypatch.setenv("DANGAN_BACKUP_PASSPHRASE", PASS)
    with open(archive_root / "dangan.toml", "a", encoding="utf-8") as fh:
        fh.write(f'\n[backup]\nrepo = "s3://{bucket}/backup/z109"\nendpoint_url = "{s3_env.endpoint}"\n')
    return archive_root


@pytest.mark.folder_store
def test_backup_create_verify_restore_on_s3(configured, cli, s3_env, bucket, tmp_path, samples):
    archive_root = configured
    marker = tmp_path / "marker.txt"
    marker.write_text("备份标记 BACKUPMARKER-5512", encoding="utf-8")
    out = cli("ingest", marker, *sorted(samples.iterdir()), "--json").output
    rids = [json.loads(line)["record_id"] for line in out.splitlines()]
    cli("backup", "init")
    assert cli("backup", "init", ok=False).exit_code != 0          # a repository already: refused
    cli("backup", "create")
    stored = keys(s3_env, bucket, "backup/z109/")
    assert any(k.startswith("backup/z109/snapshots/") for k in stored) and any("/data/" in k for k in stored)
    c = s3_env.client()
    for k in stored:                                            # the repository encrypts: ciphertext only
        assert b"BACKUPMARKER" not in c.get_object(Bucket=bucket, Key=k)["Body"].read(), k
    cli("backup", "verify")
    more = tmp_path / "later.txt"
    more.write_text("later", encoding="utf-8")
    cli("ingest", more)
    cli("backup", "create")                                     # incremental: a second snapshot
    assert len(cli("backup", "list", "--json").output.splitlines()) == 2
    dest = tmp_path / "restored"
    cli("backup", "restore", "latest", "--to", dest)
    assert tree(dest / "store") == tree(archive_root / "store"), "the store comes back byte for byte"
    assert assert_store_valid(dest / "store") == len(rids) + 1
    restored = type(cli)(dest)                                  # the CLI on the restored archive
    restored("check")
    restored("audit", "verify")


class _Failing:
    def __init__(self, n: int) -> None:
        self.left = n

    def read(self, n: int = -1) -> bytes:
        if self.left <= 0:
            raise OSError("the source broke")
        self.left -= 1
        return b"x" * (8 * 1024 * 1024)


def test_the_s3_target_primitives(s3_env, bucket):
    """The lock's conditional put takes a name once; a stream whose source fails stores nothing."""
    from dangan.repository.backup.target import open_target
    t = open_target(f"s3://{bucket}/repo?endpoint_url={s3_env.endpoint}")
    assert t.location == f"s3://{bucket}/repo?endpoint_url={s3_env.endpoint}"    # reopenable for purges
    assert t.create_exclusive("locks/repo", b"one") is True
    assert t.create_exclusive("locks/repo", b"two") is False
    assert t.get("locks/repo") == b"one"
    with pytest.raises(OSError):
        t.put_stream("data/ab/big", _Failing(3))                 # multipart: parts were sent, then the source broke
    assert not t.exists("data/ab/big") and t.size("data/ab/big") is None
    assert not s3_env.client().list_multipart_uploads(Bucket=bucket).get("Uploads")
    assert t.put_stream("data/cd/ok", io.BytesIO(b"abc")) == 3
    assert [n for n, _ in t.list("data/")] == ["data/cd/ok"]
    t.delete("data/cd/ok")
    t.delete("data/cd/ok")                                      # already gone: fine
    assert list(t.list("data/")) == []


def test_snapshots_of_a_bucket_store(archive_root, cli, s3_env, bucket, monkeypatch, tmp_path, samples):
    """An archive whose store is in the bucket, backed up to the same S3 service: create (incremental), a
    destruction purges the snapshot, verify, restore --to DIR gives a folder archive (never the live bucket)."""
    monkeypatch.setenv("DANGAN_BACKUP_PASSPHRASE", PASS)
    repo = f"s3://{bucket}/backup?endpoint_url={s3_env.endpoint}"
    out = cli("ingest", *sorted(samples.iterdir()), "--json").output
    rids = [json.loads(line)["record_id"] for line in out.splitlines()]
    cli("backup", "init", "--repo", repo)
    cli("backup", "create", "--repo", repo)
    doomed = tmp_path / "expired.txt"
    doomed.write_text("过期 EXPIREDMARKER-3141", encoding="utf-8")
    gone = json.loads(cli("ingest", doomed, "--category", "WS", "--dept", "BGS", "--retention", "D10", "--date",
                          "2010-01-01", "--json").output)["record_id"]
    cli("backup", "create", "--repo", repo)                         # incremental: unchanged objects reused
    from dangan.core.archive import Archive
    from dangan.core.management.destruction import destroy_record
    a = Archive(archive_root)
    destroy_record(a, gone, reason="retention D10 expired", approved_by="总经理")
    a.close()
    cli("backup", "create", "--repo", repo)                         # owed purges first, then the snapshot
    c = s3_env.client()
    for k in keys(s3_env, bucket):
        assert b"EXPIREDMARKER" not in c.get_object(Bucket=bucket, Key=k)["Body"].read(), k
    cli("backup", "verify", "--repo", repo, "--read-data")
    dest = tmp_path / "restored"
    cli("backup", "restore", "latest", "--to", dest, "--repo", repo)
    assert "[store]" not in (dest / "dangan.toml").read_text(encoding="utf-8")      # a private folder copy
    stored = {k[len("fonds-z109/"):]: hashlib.sha512(c.get_object(Bucket=bucket, Key=k)["Body"].read()).hexdigest()
              for k in keys(s3_env, bucket, "fonds-z109/")}
    assert tree(dest / "store") == stored, "the bucket's store comes back byte for byte, as a folder"
    assert assert_store_valid(dest / "store") == len(rids) + 1
    restored = type(cli)(dest)
    restored("check")
    restored("audit", "verify")
    assert json.loads(restored("show", gone, "--json").output)["status"] == "destroyed"
    r = cli("backup", "restore", "latest", "--record", rids[0], "--repo", repo, ok=False)
    assert r.exit_code == 2 and "bucket" in r.output and "Traceback" not in r.output
