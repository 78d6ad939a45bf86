"""A record moved into a confidential volume leaves the backups too: every snapshot taken while it was plain
gets the sealed object and the sealed catalogue rows instead; a restore of such a snapshot shows it sealed."""
from __future__ import annotations

import json

from backup_helpers import PASS, catalogue_rows, open_repo, plaintexts
from conftest import Cli
from leak_helpers import grep
from ocfl_helpers import assert_store_valid

MARKER = "MOVEDMARKER移卷备份"
TITLE = "MOVEDTITLE-备份中的请示"


def test_a_record_moved_into_a_confidential_volume_is_purged_from_earlier_snapshots(cli, archive_root, tmp_path,
                                                                                     monkeypatch):
    monkeypatch.setenv("DANGAN_BACKUP_PASSPHRASE", PASS)
    monkeypatch.setenv("DANGAN_PASSPHRASE", "volume passphrase 机要")
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "run"))
    repo = tmp_path / "repo"
    cli("backup", "init", "--repo", repo)
    src = tmp_path / "note.txt"
    src.write_text(f"请示 {MARKER} 正文", encoding="utf-8")
    rid = json.loads(cli("ingest", src, "--title", TITLE, "--category", "WS", "--dept", "BGS",
                         "--json").output.splitlines()[0])["record_id"]
    keep = tmp_path / "keep.txt"
    keep.write_text("仍是普通文件 keepword", encoding="utf-8")
    cli("ingest", keep, "--category", "WS", "--dept", "BGS")
    cli("backup", "create", "--repo", repo)
    assert [n for n, plain in plaintexts(repo) if MARKER.encode() in plain], "the snapshot holds it (can fail)"
    first = open_repo(repo).snapshot_ids()[0]
    cli("volume", "create", "V", "--secrecy", "秘密", "--title", "机要卷")
    cli("mv", rid, "--volume", "V")                       # the backup key is at hand: purged at once
    assert json.loads(cli("backup", "status", "--json").output)["pending_purges"] == 0
    assert not [n for n, plain in plaintexts(repo) if MARKER.encode() in plain or TITLE.encode() in plain]
    r = open_repo(repo)
    snap = r.load_snapshot(first)
    assert [p["record_id"] for p in snap["purged"]] == [rid]
    rows = catalogue_rows(r.blob_bytes(snap["catalogue"]["digest"]), rid)
    assert rows and TITLE not in json.dumps([list(x) for x in rows], ensure_ascii=False, default=str)
    cli("backup", "verify", "--repo", repo, "--read-data")
    dest = tmp_path / "old"
    cli("backup", "restore", first, "--to", dest, "--repo", repo)
    restored = Cli(dest)
    restored("check")
    assert_store_valid(dest / "store")
    shown = json.loads(restored("show", rid, "--json").output)
    assert shown["volume"] == "V" and shown["title"] == "" and shown["locked"]
    restored("reindex")
    assert restored("search", "keepword", "--count").output.strip() == "1"
    for marker in (MARKER, "MOVEDTITLE"):
        assert grep(marker, [dest, repo]) == [], marker
