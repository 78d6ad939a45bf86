"""`dangan rebuild-catalogue` on PostgreSQL: the record tables come back from the store, in the database
(no catalogue.sqlite is made), and the archive goes on."""
from __future__ import annotations

import json

import pytest

from catalogue_helpers import raw_catalogue

pytestmark = pytest.mark.postgresql_only


def test_rebuild_on_postgresql_brings_the_records_back_from_the_store(cli, archive_root, tmp_path):
    ids = []
    for i in range(3):
        p = tmp_path / f"r{i}.txt"
        p.write_text(f"重建测试 {i}", encoding="utf-8")
        ids.append(json.loads(cli("ingest", p, "--category", "WS", "--dept", "BGS", "--retention", "Y",
                                  "--date", "2021-03-01", "--json").output.splitlines()[0])["record_id"])
    before = cli("ls", "--json", "--sort", "id").output
    conn = raw_catalogue(archive_root)
    conn.execute("DELETE FROM files")
    conn.execute("DELETE FROM versions")
    conn.execute("DELETE FROM records")
    conn.close()
    assert cli("ls", "--json").output == ""
    assert "3 record(s)" in cli("rebuild-catalogue", "--yes").output
    assert not (archive_root / "catalogue.sqlite").exists()
    assert cli("ls", "--json", "--sort", "id").output == before
    cli("check")
