"""Filters compare as the index folds (NFKC, case, Traditional → Simplified) through stored folded columns, on
SQLite and PostgreSQL alike, with no Python function called from SQL; an archive made before the columns
existed gets them filled by its migration."""
from __future__ import annotations

import json
import sqlite3

from dangan.core.catalogue import connection, folded


def ids(archive, query: str) -> set[str]:
    from dangan.core.search.listing import list_filtered
    return {r.id for r in list_filtered(archive, query)}


def test_filters_fold_like_the_index_on_either_engine(archive, tmp_path):
    p = tmp_path / "a.txt"
    p.write_text("档案管理制度", encoding="utf-8")
    q = tmp_path / "b.txt"
    q.write_text("合同", encoding="utf-8")
    a = archive.ingest(p, title="檔案管理制度 Annual", department="办公室", tags=["會議", "Draft"],
                       metadata={"counterparty": "中國飲料", "count": 3})
    b = archive.ingest(q, title="合同", department="XZ", tags=["contract"])
    assert ids(archive, "dept:辦公室") == {a.id}                    # Traditional in the query, Simplified filed
    assert ids(archive, "title:档案") == {a.id}                      # Simplified in the query, Traditional filed
    assert ids(archive, "title:ANNUAL") == {a.id}
    assert ids(archive, "tag:会议") == {a.id} and ids(archive, "tag:draft") == {a.id}
    assert ids(archive, "meta.counterparty:中国饮料") == {a.id}
    assert ids(archive, "meta.count:3") == {a.id}
    assert ids(archive, "-dept:办公室") == {b.id}
    assert ids(archive, "-tag:会议") == {b.id}
    assert ids(archive, "dept:xz") == {b.id} and ids(archive, "dept:x*") == {b.id}


def test_a_catalogue_from_before_the_folded_columns_gets_them_filled(tmp_path):
    path = tmp_path / "catalogue.sqlite"
    conn = sqlite3.connect(path, isolation_level=None)
    first = next(i for i, m in enumerate(connection.MIGRATIONS) if isinstance(m, str) and "title_fold" in m)
    assert all(f"ADD COLUMN {c} TEXT" in connection.MIGRATIONS[first] for c in folded.FOLDED)
    for step in connection.MIGRATIONS[:first]:
        conn.executescript(step)
    conn.execute(f"PRAGMA user_version = {first}")
    conn.execute("INSERT INTO records (id, fonds, title, department, tags, metadata, version, created, updated)"
                 " VALUES ('d1', 'Z109', '檔案 Report', '辦公室', ?, ?, 1, 't', 't')",
                 (json.dumps(["會議"], ensure_ascii=False), json.dumps({"k": "中國"}, ensure_ascii=False)))
    conn.close()
    conn = connection.connect(path)
    try:
        row = conn.execute("SELECT title_fold, department_fold, tags_fold, metadata_fold FROM records").fetchone()
        assert connection.schema_version(conn) == connection.SCHEMA_VERSION
    finally:
        conn.close()
    assert row["title_fold"] == "档案 report" and row["department_fold"] == "办公室"
    assert json.loads(row["tags_fold"]) == ["会议"] and json.loads(row["metadata_fold"]) == {"k": "中国"}
