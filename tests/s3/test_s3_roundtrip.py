"""The OCFL store in a bucket (SeaweedFS): ingest, get, revise, check, destroy — as on a folder."""
from __future__ import annotations

import json

from s3_helpers import keys


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
