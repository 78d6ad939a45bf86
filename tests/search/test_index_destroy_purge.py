"""Destroying a record takes its text out of the tantivy index files without rebuilding the index.

Real ingest (three batches, so the index has three segments), real destruction, the real index folder: the
destroyed record's marker word is found in the index files before (the control) and in none of them
after; only the segment that held it is rewritten (the other segments' files stay), and every other
record is found as before.
"""
from __future__ import annotations

import json
from pathlib import Path


def index_files(root: Path) -> list[Path]:
    return [p for p in (root / "index" / "tantivy").iterdir() if p.is_file()]


def segments(root: Path) -> set[str]:
    meta = json.loads((root / "index" / "tantivy" / "meta.json").read_text())
    return {s["segment_id"].replace("-", "") for s in meta["segments"]}


def holding(root: Path, word: bytes) -> list[str]:
    return [p.name for p in index_files(root) if word in p.read_bytes()]


def test_destroyed_text_leaves_the_index_files_and_other_segments_stay(cli, archive_root, tmp_path):
    ids = {}
    for batch in range(3):
        folder = tmp_path / f"batch{batch}"
        folder.mkdir()
        for i in range(4):
            marker = "DOOMEDMARKER" if (batch, i) == (1, 2) else f"keep{batch}{i}"
            (folder / f"合同-{batch}-{i}.txt").write_text(f"采购合同 第{batch}批 {marker} 借阅登记", encoding="utf-8")
        out = cli("ingest", folder, "--category", "WS", "--dept", "BGS", "--retention", "D10", "--date", "2010-01-01",
                  "--json").output
        for line in out.splitlines():
            o = json.loads(line)
            ids[Path(o["source"]).stem] = o["record_id"]
    root = archive_root
    before = segments(root)
    assert len(before) == 3
    assert holding(root, b"DOOMEDMARKER"), "control: the marker is in the index files before destruction"
    assert cli("search", "DOOMEDMARKER", "--count").output.strip() == "1"

    from dangan.core.archive import Archive
    from dangan.core.management.destruction import destroy_record
    a = Archive(root)
    destroy_record(a, ids["合同-1-2"], reason="retention D10 expired", approved_by="总经理")
    a.close()

    assert holding(root, b"DOOMEDMARKER") == []
    after = segments(root)
    assert len(before & after) == 2, "only the segment that held the record is rewritten"
    assert cli("search", "DOOMEDMARKER", "--count").output.strip() == "0"
    assert cli("search", "采购合同", "--count").output.strip() == "11"
    for name, rid in ids.items():
        if name != "合同-1-2":
            word = f"keep{name[3]}{name[5]}"
            hits = [json.loads(line)["record_id"] for line in cli("search", word, "--json").output.splitlines()]
            assert hits == [rid], name
    cli("check")
