"""`dangan check` and `dangan rebuild-catalogue`: damage is named, the store is the truth."""
from __future__ import annotations

import json
import os
import sqlite3

import pytest

from conftest import CORPUS


@pytest.fixture
def filled(cli, samples, tmp_path):
    """Three records, one with two versions and an attachment."""
    out = cli("ingest", samples / "会议纪要.txt", samples / "contract.txt", "--dept", "BGS", "--json").output
    ids = [json.loads(line)["record_id"] for line in out.splitlines()]
    pdf = next((CORPUS / "pdf-text").glob("*.pdf"))
    ids.append(json.loads(cli("ingest", pdf, "--attach", samples / "notes.md", "--json").output)["record_id"])
    new = tmp_path / "contract-v2.txt"
    new.write_text("amended", encoding="utf-8")
    cli("revise", ids[1], new, "--title", "合同（修订）")
    return ids


def content_file(archive_root, rid, logical):
    from dangan.core.archive import Archive
    a = Archive(archive_root)
    f = next(f for f in a.store.files(rid) if f.logical_path == logical)
    path = a.store.object_path(rid) / f.content_path
    a.close()
    return path


def check_fails(cli, *args):
    r = cli("check", "--json", *args, ok=False)
    assert r.exit_code == 6, r.output
    return [json.loads(line) for line in r.output.splitlines() if line.startswith("{")]


def test_check_passes_on_a_healthy_archive(cli, filled):
    r = cli("check")
    assert "check passed" in r.output


@pytest.mark.store_damaged
def test_a_flipped_bit_is_named(cli, filled, archive_root):
    path = content_file(archive_root, filled[0], "会议纪要.txt")
    data = bytearray(path.read_bytes())
    data[3] ^= 0x01
    path.write_bytes(bytes(data))
    problems = check_fails(cli)
    assert [p["record_id"] for p in problems] == [filled[0]]
    assert "会议纪要.txt" in problems[0]["message"]
    assert check_fails(cli, "--record", filled[0])
    cli("check", "--record", filled[1])


@pytest.mark.store_damaged
def test_a_missing_file_is_named(cli, filled, archive_root):
    content_file(archive_root, filled[2], "notes.md").unlink()
    problems = check_fails(cli)
    assert {p["record_id"] for p in problems} == {filled[2]}
    assert any("notes.md" in p["message"] for p in problems)


@pytest.mark.store_damaged
def test_an_extra_file_is_named(cli, filled, archive_root):
    path = content_file(archive_root, filled[0], "会议纪要.txt")
    (path.parent / "smuggled.txt").write_text("not in the manifest")
    problems = check_fails(cli)
    assert {p["record_id"] for p in problems} == {filled[0]}
    assert any("smuggled.txt" in p["message"] for p in problems)


@pytest.mark.store_damaged
def test_an_edited_inventory_is_detected(cli, filled, archive_root):
    from dangan.core.archive import Archive
    a = Archive(archive_root)
    inv = a.store.object_path(filled[1]) / "inventory.json"
    a.close()
    inv.write_text(inv.read_text(encoding="utf-8").replace('"revise"', '"tampered"'), encoding="utf-8")
    problems = check_fails(cli)
    assert {p["record_id"] for p in problems} == {filled[1]}
    assert any("sidecar" in p["message"] or "digest" in p["message"] for p in problems)


def test_catalogue_disagreeing_with_the_store_is_named(cli, filled, archive_root):
    conn = sqlite3.connect(archive_root / "catalogue.sqlite")
    conn.execute("UPDATE records SET title = 'forged' WHERE id = ?", (filled[0],))
    conn.commit()
    conn.close()
    problems = check_fails(cli)
    assert problems == [{"record_id": filled[0],
                         "message": "catalogue title 'forged' differs from the store's '会议纪要'"}]


def catalogue_snapshot(root):
    conn = sqlite3.connect(root / "catalogue.sqlite")
    out = {t: sorted(conn.execute(f"SELECT * FROM {t}").fetchall()) for t in
           ("records", "versions", "files", "piece_counters")}
    conn.close()
    return out


def test_rebuild_catalogue_from_the_store_alone(cli, filled, archive_root):
    before = catalogue_snapshot(archive_root)
    for suffix in ("", "-wal", "-shm"):
        p = archive_root / f"catalogue.sqlite{suffix}"
        if p.exists():
            p.unlink()
    r = cli("ls", ok=False)
    assert r.exit_code == 6 and "rebuild-catalogue" in r.output
    r = cli("rebuild-catalogue", "--yes")
    assert "3 record(s)" in r.output
    assert catalogue_snapshot(archive_root) == before
    cli("check")


def test_a_record_missing_from_the_catalogue_is_named(cli, filled, archive_root):
    conn = sqlite3.connect(archive_root / "catalogue.sqlite")
    for t, col in (("files", "record_id"), ("versions", "record_id"), ("records", "id")):
        conn.execute(f"DELETE FROM {t} WHERE {col} = ?", (filled[2],))
    conn.commit()
    conn.close()
    problems = check_fails(cli)
    assert problems[0]["record_id"] == filled[2] and "missing from the catalogue" in problems[0]["message"]
    cli("rebuild-catalogue", "--yes")
    cli("check")
    assert os.path.exists(archive_root / "catalogue.sqlite")
