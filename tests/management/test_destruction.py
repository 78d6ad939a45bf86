"""Destruction leaves a tombstone and a certificate, and nothing of the content."""
from __future__ import annotations

import json

import pytest


@pytest.fixture
def destroyed(cli, archive_root, tmp_path):
    src = tmp_path / "expired.txt"
    src.write_text("过期的合同 EXPIREDMARKER", encoding="utf-8")
    keep = tmp_path / "keep.txt"
    keep.write_text("仍在保管期内", encoding="utf-8")
    out = cli("ingest", src, keep, "--category", "WS", "--dept", "BGS", "--retention", "D10", "--date", "2010-01-01",
              "--json").output
    rid, kept = [json.loads(line)["record_id"] for line in out.splitlines()]
    from dangan.core.archive import Archive
    from dangan.core.management.destruction import destroy_record
    a = Archive(archive_root)
    cert = destroy_record(a, rid, reason="retention D10 expired", approved_by="总经理")
    a.close()
    return rid, kept, cert


def test_content_is_gone_and_a_tombstone_remains(cli, destroyed, archive_root):
    rid, kept, cert = destroyed
    rec = json.loads(cli("show", rid, "--json").output)
    assert rec["status"] == "destroyed" and rec["files"] == [] and rec["archival_code"] == "Z109-WS·2010-D10-BGS-0001"
    assert cert["approved_by"] == "总经理" and cert["stored_digests"]
    assert cli("search", "EXPIREDMARKER", "--count").output.strip() == "0"
    for p in archive_root.rglob("*"):
        if p.is_file():
            assert b"EXPIREDMARKER" not in p.read_bytes(), p
    cli("check")
    ev = json.loads(cli("audit", "log", "--json", "--action", "record.destroy").output)
    assert ev["action"] == "record.destroy" and ev["details"]["certificate_sha256"] == cert["certificate_sha256"]


def test_rebuild_brings_back_the_tombstone_never_the_record(cli, destroyed, archive_root, tmp_path):
    rid, kept, _ = destroyed
    for suffix in ("", "-wal", "-shm"):
        (archive_root / f"catalogue.sqlite{suffix}").unlink(missing_ok=True)
    cli("rebuild-catalogue", "--yes")
    assert json.loads(cli("show", rid, "--json").output)["status"] == "destroyed"
    cli("reindex")
    assert cli("search", "EXPIREDMARKER", "--count").output.strip() == "0"
    src = tmp_path / "next.txt"
    src.write_text("下一件", encoding="utf-8")
    code = json.loads(cli("ingest", src, "--category", "WS", "--dept", "BGS", "--retention", "D10", "--date",
                          "2010-05-01", "--json").output)["archival_code"]
    assert code == "Z109-WS·2010-D10-BGS-0003", "piece numbers of destroyed records are never reused"


def test_destroying_twice_is_refused(cli, destroyed, archive_root):
    from dangan.core.archive import Archive
    from dangan.core.management.destruction import destroy_record
    from dangan.errors import UsageError
    a = Archive(archive_root)
    with pytest.raises(UsageError, match="destroyed already"):
        destroy_record(a, destroyed[0], reason="again")
    a.close()
