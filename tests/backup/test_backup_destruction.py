"""Destruction reaches every snapshot: content purged, the tombstone and certificate restored instead."""
from __future__ import annotations

import json

import pytest

from backup_helpers import PASS, catalogue_rows, destroy, open_repo, plaintexts
from conftest import Cli
from ocfl_helpers import assert_store_valid

MARKER = "PLAINMARKER档案销毁"


@pytest.fixture
def setup(cli, archive_root, tmp_path, monkeypatch):
    monkeypatch.setenv("DANGAN_BACKUP_PASSPHRASE", PASS)
    repo = tmp_path / "repo"
    cli("backup", "init", "--repo", repo)
    doomed = tmp_path / "expired.txt"
    doomed.write_text(f"过期合同 {MARKER} 正文", encoding="utf-8")
    shared = tmp_path / "shared.txt"
    shared.write_text("同一份附件 shared annex", encoding="utf-8")
    keep = tmp_path / "keep.txt"
    keep.write_text("仍在保管期内 keepword", encoding="utf-8")
    ids = {}
    for main, extra in ((doomed, ("--attach", shared)), (keep, ())):
        out = cli("ingest", main, *extra, "--category", "WS", "--dept", "BGS", "--retention", "D10",
                  "--date", "2010-01-01", "--json").output
        ids[main.name] = json.loads(out.splitlines()[0])["record_id"]
    cli("backup", "create", "--repo", repo)
    return repo, ids["expired.txt"], ids["keep.txt"]


def _marker_in_repo(repo) -> list[str]:
    return [name for name, plain in plaintexts(repo) if MARKER.encode() in plain]


def test_destroyed_record_is_purged_from_earlier_snapshots(cli, archive_root, setup, tmp_path):
    repo, rid, kept = setup
    assert _marker_in_repo(repo), "before destruction the snapshot holds the record (the test can fail)"
    before = open_repo(repo).snapshot_ids()
    cert = destroy(archive_root, rid)
    assert json.loads(cli("backup", "status", "--json").output)["pending_purges"] == 1
    cli("backup", "create", "--repo", repo)                      # the next run carries out the owed purge
    assert json.loads(cli("backup", "status", "--json").output)["pending_purges"] == 0
    for p in repo.rglob("*"):
        if p.is_file():
            assert MARKER.encode() not in p.read_bytes()
    assert not _marker_in_repo(repo), "no blob decrypts to the destroyed content"
    r = open_repo(repo)
    first = r.load_snapshot(before[0])
    assert first["objects"][rid]["status"] == "destroyed" and [p["record_id"] for p in first["purged"]] == [rid]
    assert catalogue_rows(r.blob_bytes(first["catalogue"]["digest"]), rid)[0][0] == "destroyed"
    cli("backup", "verify", "--repo", repo, "--read-data")
    # restoring the snapshot taken before the destruction shows the record destroyed, with its certificate
    dest = tmp_path / "old"
    cli("backup", "restore", before[0], "--to", dest, "--repo", repo)
    restored = Cli(dest)
    restored("check")
    assert_store_valid(dest / "store")
    shown = json.loads(restored("show", rid, "--json").output)
    assert shown["status"] == "destroyed" and shown["files"] == []
    from dangan.core.archive import Archive
    a = Archive(dest)
    doc = json.loads(a.store.read_bytes(rid, "metadata.json"))
    a.close()
    assert doc["catalogue"]["destruction"]["certificate_sha256"] == cert["certificate_sha256"]
    restored("reindex")
    assert restored("search", "PLAINMARKER", "--count").output.strip() == "0"
    assert restored("search", "keepword", "--count").output.strip() == "1"
    for p in dest.rglob("*"):
        if p.is_file():
            assert MARKER.encode() not in p.read_bytes(), p


def test_a_blob_shared_with_a_live_record_stays(cli, archive_root, setup, tmp_path):
    repo, rid, kept = setup
    other = tmp_path / "other.txt"
    other.write_text("另一件 other", encoding="utf-8")
    cli("ingest", other, "--attach", tmp_path / "shared.txt", "--category", "WS", "--dept", "BGS", "--retention",
        "D10", "--date", "2010-02-01")
    cli("backup", "create", "--repo", repo)
    destroy(archive_root, rid)
    cli("backup", "purge", "--repo", repo)
    assert [n for n, plain in plaintexts(repo) if plain == (tmp_path / "shared.txt").read_bytes()], \
        "the annex another live record holds is still backed up"
    assert not _marker_in_repo(repo)
    cli("backup", "verify", "--repo", repo, "--read-data")


def test_purge_at_once_when_the_key_is_available(cli, archive_root, setup):
    repo, rid, kept = setup
    destroy(archive_root, rid)
    from dangan.core.backup import api as backup
    from dangan.core.archive import Archive
    a = Archive(archive_root)
    try:
        out = backup.purge_after_destruction(a)
    finally:
        a.close()
    assert list(out.values()) == ["purged"]
    assert not _marker_in_repo(repo)


def test_without_the_key_the_purge_stays_owed(cli, archive_root, setup, monkeypatch):
    repo, rid, kept = setup
    destroy(archive_root, rid)
    monkeypatch.delenv("DANGAN_BACKUP_PASSPHRASE")
    from dangan.core.backup import api as backup
    from dangan.core.archive import Archive
    a = Archive(archive_root)
    try:
        out = backup.purge_after_destruction(a)
        assert "pending" in list(out.values())[0]
        assert backup.backup_status(a)["pending_purges"] == 1
    finally:
        a.close()


def test_restoring_a_destroyed_record_is_refused(cli, archive_root, setup):
    repo, rid, kept = setup
    destroy(archive_root, rid)
    r = cli("backup", "restore", "latest", "--record", rid, "--repo", repo, ok=False)
    assert r.exit_code == 2 and "never restored" in r.output
