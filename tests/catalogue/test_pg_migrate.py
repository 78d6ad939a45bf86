"""`dangan catalogue migrate --to URL`: an embedded archive's catalogue moved to PostgreSQL, checked row by row;
a move that fails its check switches nothing."""
from __future__ import annotations

import json

import pytest

from catalogue_helpers import catalogue_url, raw_catalogue

pytestmark = pytest.mark.sqlite_only           # the archive starts embedded; its catalogue moves to pg_url

CODE = ["--category", "WS", "--dept", "BGS", "--retention", "Y", "--date", "2021-03-01", "--json"]


def filed(cli, tmp_path, n: int) -> list[str]:
    out = []
    for i in range(n):
        p = tmp_path / f"m{i}.txt"
        p.write_text(f"迁移测试 第{i}件", encoding="utf-8")
        out.append(json.loads(cli("ingest", p, *CODE).output.splitlines()[0])["archival_code"])
    return out


def counts(root) -> dict[str, int]:
    conn = raw_catalogue(root)
    try:
        return {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
                for t in ("records", "versions", "files", "audit", "index_outbox", "users", "piece_counters")}
    finally:
        conn.close()


def test_the_catalogue_moves_to_postgresql_whole_and_the_archive_goes_on_there(cli, archive_root, tmp_path, pg_url):
    cli("user", "add", "tester", "--role", "admin", "--clearance", "top-secret")
    codes = filed(cli, tmp_path, 3)
    before = counts(archive_root)
    listing = cli("ls", "--json").output

    report = json.loads(cli("catalogue", "migrate", "--to", pg_url, "--json").output)
    assert report["tables"]["records"] == 3 and report["rows"] >= sum(before.values())
    assert catalogue_url(archive_root) == pg_url
    assert not (archive_root / "catalogue.sqlite").exists()
    assert (archive_root / report["set_aside"]).exists()                 # kept, never deleted

    after = counts(archive_root)                                          # now read from PostgreSQL
    assert {k: v for k, v in after.items() if k != "audit"} == {k: v for k, v in before.items() if k != "audit"}
    assert after["audit"] == before["audit"] + 1                          # + catalogue.migrate
    assert cli("ls", "--json").output == listing
    assert "intact" in cli("audit", "verify").output
    cli("check")
    p = tmp_path / "after.txt"
    p.write_text("迁移之后", encoding="utf-8")
    nxt = json.loads(cli("ingest", p, *CODE).output.splitlines()[0])
    assert nxt["archival_code"] == codes[-1][:-4] + "0004"                # the piece counter came along
    assert "intact" in cli("audit", "verify").output                       # server-made keys continue past copied
    hits = [json.loads(x)["record_id"] for x in cli("search", "迁移之后", "--json").output.splitlines()]
    assert hits == [nxt["record_id"]]          # the change log's ids go on past the node's cursor (none reused)


def test_a_database_in_use_is_refused_and_nothing_changes(cli, archive_root, tmp_path, pg_url):
    filed(cli, tmp_path, 1)
    from dangan.core.catalogue import connection
    connection.connect(pg_url, create=True).close()                       # another archive's catalogue
    r = cli("catalogue", "migrate", "--to", pg_url, ok=False)
    assert r.exit_code != 0 and "already holds a catalogue" in r.output
    assert catalogue_url(archive_root) is None and (archive_root / "catalogue.sqlite").exists()


def test_a_copy_that_does_not_match_switches_nothing(cli, archive_root, tmp_path, pg_url, monkeypatch):
    filed(cli, tmp_path, 2)
    from dangan.core.catalogue import transfer
    real = transfer._copy

    def lossy(src, target, report):
        real(src, target, report)
        target.execute_raw("DELETE FROM files WHERE ctid = (SELECT min(ctid) FROM files)")   # one row lost

    monkeypatch.setattr(transfer, "_copy", lossy)
    r = cli("catalogue", "migrate", "--to", pg_url, ok=False)
    assert r.exit_code == 6 and "table files" in r.output and "nothing was switched" in r.output
    assert catalogue_url(archive_root) is None and (archive_root / "catalogue.sqlite").exists()
    assert "intact" in cli("audit", "verify").output


def test_a_password_in_the_url_is_refused(cli, archive_root):
    r = cli("catalogue", "migrate", "--to", "postgresql://u:secret@localhost/db", ok=False)
    assert r.exit_code != 0 and "pgpass" in r.output and "secret" not in r.output
