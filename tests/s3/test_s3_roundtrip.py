"""The OCFL store in a bucket (SeaweedFS): ingest, get, revise, check, destroy — as on a folder."""
from __future__ import annotations

import json

import pytest

from s3_helpers import keys
from s3_fixtures import archive_root, bucket, s3_env, s3_server  # noqa: F401  (fixtures: S3, archive on S3)


def test_ingest_get_revise_check_on_s3(archive_root, cli, s3_env, bucket, samples, tmp_path):
    cfg = (archive_root / "dangan.toml").read_text()
    assert f'url = "s3://{bucket}/fonds-z109"' in cfg and f'endpoint_url = "{s3_env.endpoint}"' in cfg
    assert not (archive_root / "store").exists()          # the folder holds no store
    out = cli("ingest", str(samples / "会议纪要.txt"), "--json")
    rid = json.loads(out.output.splitlines()[0])["record_id"]
    stored = keys(s3_env, bucket, "fonds-z109/")
    assert "fonds-z109/0=ocfl_1.1" in stored
    assert any(k.endswith("/v1/content/metadata.json") for k in stored), stored
    assert sum("/v1/content/" in k for k in stored) >= 2, stored          # the file and its metadata
    got = tmp_path / "got"
    cli("get", rid, "-o", str(got))
    assert (got / "会议纪要.txt").read_text(encoding="utf-8") == (samples / "会议纪要.txt").read_text(encoding="utf-8")
    new = tmp_path / "v2.txt"
    new.write_text("修订后的会议纪要", encoding="utf-8")
    cli("revise", rid, str(new), "-m", "corrected")
    assert any(k.endswith("/v2/inventory.json.sha512") for k in keys(s3_env, bucket, "fonds-z109/"))
    assert cli("check", "--json").output.strip() == ""          # exit 0, no problem lines
    cli("user", "add", "boss", "--clearance", "top-secret", user="x")
    cli("user", "add", "arch", "--role", "archivist", "--clearance", "top-secret", user="boss")
    rows = [json.loads(x) for x in cli("inspect", "four-property", rid, "--json", user="arch").output.splitlines()]
    items = {(r["property"], r["item"]): r["result"] for r in rows}            # 四性检测 on the bucket's object
    assert items[("integrity", "digests")] == "pass" and items[("integrity", "files-present")] == "pass"
    assert items[("usability", "readable")] == "pass"
    rep = json.loads(cli("inspect", "report", "--format", "json", user="arch").output)
    assert rep["fixity"]["objects"] == 1 and rep["fixity"]["problems"] == []
    cli("reindex", user="boss")                                 # the index rebuilt from the bucket alone
    assert cli("search", "修订后", "--count", user="boss").output.strip() == "1"
    with open(got / "会议纪要.txt", "rb") as fh:                  # a byte range, read with an S3 range request
        whole = fh.read()
    from dangan.core.archive import Archive
    from dangan.core.store.retrieval_stream import open_file
    a = Archive(archive_root)
    stream = open_file(a, rid, 1, version=1, via="cli", byte_range="bytes=3-8")
    assert b"".join(stream.chunks(3, 8)) == whole[3:9]
    a.close()


def _ingest(cli, path, *args) -> str:
    return json.loads(cli("ingest", path, "--json", *args).output.splitlines()[0])["record_id"]


def test_destruction_deletes_every_key_of_the_content_and_rebuild_finds_the_tombstone(
        archive_root, cli, s3_env, bucket, tmp_path):
    src = tmp_path / "expired.txt"
    src.write_text("过期的合同 EXPIREDMARKER", encoding="utf-8")
    rid = _ingest(cli, src, "--category", "WS", "--dept", "BGS", "--retention", "D10", "--date", "2010-01-01")
    from dangan.core.archive import Archive
    from dangan.core.management.destruction import destroy_record
    a = Archive(archive_root)
    cert = destroy_record(a, rid, reason="retention D10 expired", approved_by="总经理")
    rel = "fonds-z109/" + a.store.object_rel(rid)
    a.close()
    assert cert["stored_digests"]
    left = keys(s3_env, bucket, rel + "/")
    assert left and all("/v1/" in k or k.rsplit("/", 1)[-1] in ("inventory.json", "inventory.json.sha512",
                                                                  "0=ocfl_object_1.1") for k in left)
    c = s3_env.client()
    for k in keys(s3_env, bucket):
        assert b"EXPIREDMARKER" not in c.get_object(Bucket=bucket, Key=k)["Body"].read(), k
    assert json.loads(cli("show", rid, "--json").output)["status"] == "destroyed"
    for suffix in ("", "-wal", "-shm"):
        (archive_root / f"catalogue.sqlite{suffix}").unlink(missing_ok=True)
    cli("rebuild-catalogue", "--yes")                    # the store in the bucket is the truth
    assert json.loads(cli("show", rid, "--json").output)["status"] == "destroyed"
    cli("check")


def test_sealed_content_leaves_the_process_encrypted(archive_root, cli, s3_env, bucket, tmp_path, monkeypatch):
    import os
    from pathlib import Path
    monkeypatch.setenv("DANGAN_PASSPHRASE", "correct horse battery staple")
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(Path(os.environ.get("TMPDIR", "/tmp")) / f"dgs3{os.getpid()}"))
    cli("volume", "create", "V", "--secrecy", "秘密", "--title", "机要卷")
    src = tmp_path / "FNAMEMARK-秘密文件.txt"
    src.write_text("合同正文 ZQXJ-MARKER-7781 绝密标记甲乙丙", encoding="utf-8")
    rid = _ingest(cli, src, "--volume", "V", "--title", "TITLEMARK-机密标题")
    c = s3_env.client()
    for k in keys(s3_env, bucket):
        blob = c.get_object(Bucket=bucket, Key=k)["Body"].read() + k.encode()
        for mark in ("ZQXJ-MARKER-7781", "绝密标记甲乙丙", "TITLEMARK", "FNAMEMARK"):
            assert mark.encode() not in blob, (mark, k)
    out = tmp_path / "out"
    cli("volume", "unlock", "V")
    cli("get", rid, "-o", out)                           # unlocked: the plaintext comes back
    assert "ZQXJ-MARKER-7781" in next(out.iterdir()).read_text(encoding="utf-8")
    cli("check", "--decrypt")
    cli("volume", "lock")


@pytest.mark.store_damaged
def test_check_finds_a_flipped_bit_in_the_bucket(archive_root, cli, s3_env, bucket, samples):
    rid = _ingest(cli, samples / "contract.txt")
    c = s3_env.client()
    from dangan.core.archive import Archive
    a = Archive(archive_root)
    main = next(f for f in a.store.files(rid) if f.logical_path == "contract.txt")   # (its text derivative is
    key = f"fonds-z109/{a.store.object_rel(rid)}/{main.content_path}"                # the same bytes: one file)
    a.close()
    body = bytearray(c.get_object(Bucket=bucket, Key=key)["Body"].read())
    body[0] ^= 0x01
    c.put_object(Bucket=bucket, Key=key, Body=bytes(body))
    r = cli("check", "--json", ok=False)
    assert r.exit_code == 6 and rid in r.output and f"E092 '{main.content_path}'" in r.output
    r = cli("get", rid, "-o", str(archive_root.parent / "out"), ok=False)
    assert r.exit_code == 6 and "sha512" in r.output
