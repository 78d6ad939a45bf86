"""BagIt export (validated with bagit-python) and inspections, through the CLI."""
from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path

import bagit
import pytest

from cli_helpers import audit

PASS = "correct horse battery staple"


@pytest.fixture
def office(cli):
    cli("user", "add", "boss", "--role", "manager", "--clearance", "top-secret", user="x")
    cli("user", "add", "arch", "--role", "archivist", "--clearance", "top-secret", user="boss")
    cli("user", "add", "pub", "--role", "staff", "--clearance", "public", user="boss")
    return cli


def put(cli, tmp_path, name, text, *args):
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    create = ("--create-volume",) if "--volume" in args and "V" not in args else ()     # V: a confidential volume
    return json.loads(cli("ingest", p, "--json", *args, *create, user="arch").output.splitlines()[0])["record_id"]


def test_bag_validates_and_carries_metadata_and_events(office, tmp_path):
    cli = office
    a = put(cli, tmp_path, "合同 100%.txt", "合同正文", "--category", "WS", "--dept", "BGS", "--date", "2021-01-01")
    b = put(cli, tmp_path, "b.txt", "second", "--category", "WS", "--dept", "BGS", "--date", "2021-01-02")
    dest = tmp_path / "bag"
    out = json.loads(cli("export", a, b, "--bagit", dest, "--json", user="arch").output)
    assert sorted(out["records"]) == sorted([a, b])
    bag = bagit.Bag(str(dest))
    bag.validate()
    assert bag.algorithms == ["sha512"] and bag.info["Fonds"] == "Z109"
    assert any(a in c for c in bag.info["Archival-Code"])
    assert (dest / "data" / a / "files" / "合同 100%.txt").read_text(encoding="utf-8") == "合同正文"
    meta = json.loads((dest / "data" / a / "metadata.json").read_text(encoding="utf-8"))
    assert meta["id"] == a and meta["archival_code"].startswith("Z109-WS·2021")
    events = json.loads((dest / "data" / a / "premis-events.json").read_text(encoding="utf-8"))
    assert events[0]["action"] == "record.ingest" and events[0]["premis_type"] == "ingestion"
    assert {e["object"] for e in audit(cli, "record.export")} == {a, b}
    r = cli("export", a, "--bagit", dest, user="arch", ok=False)
    assert r.exit_code == 2 and "not an empty folder" in r.output
    r = cli("export", a, "--bagit", tmp_path / "bag2", user="pub", ok=True)   # public record, public clearance
    bagit.Bag(str(tmp_path / "bag2")).validate()


def test_volume_export_and_refusal_leaves_nothing(office, tmp_path):
    cli = office
    pub = put(cli, tmp_path, "p.txt", "公开", "--category", "WS", "--dept", "BGS", "--date", "2021-01-01",
              "--volume", "PV")
    internal = put(cli, tmp_path, "i.txt", "内部", "--category", "WS", "--dept", "BGS", "--date", "2021-01-01",
                   "--secrecy", "internal", "--volume", "IV")
    r = cli("export", pub, internal, "--bagit", tmp_path / "bag", user="pub", ok=False)
    assert r.exit_code == 7 and not (tmp_path / "bag").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".bag")]
    cli("export", "--volume", "IV", "--bagit", tmp_path / "bag", user="arch")
    assert [p.name for p in (tmp_path / "bag" / "data").iterdir()] == [internal]


@pytest.fixture
def keyed(office, monkeypatch, tmp_path):
    monkeypatch.setenv("DANGAN_PASSPHRASE", PASS)
    run_dir = Path(os.environ.get("TMPDIR", "/tmp")) / f"dg{os.getpid()}{abs(hash(str(tmp_path))) % 10**6}"
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(run_dir))
    office("volume", "create", "V", "--secrecy", "秘密", user="boss")
    yield office
    office("volume", "lock", user="boss")
    office("volume", "lock", user="arch")      # unlocks are per user (issue 11.5)


def test_sealed_records_need_an_export_approval_and_an_unlocked_volume(keyed, tmp_path):
    cli = keyed
    rid = put(cli, tmp_path, "s.txt", "秘密正文 SEALMARK", "--volume", "V")
    cli("volume", "lock", "V", user="boss")
    r = cli("export", rid, "--bagit", tmp_path / "bag", user="arch", ok=False)
    assert r.exit_code == 7 and "export approval" in r.output
    cli("access", "grant", "export", rid, "--to", "arch", "--reason", "移交", user="boss")
    r = cli("export", rid, "--bagit", tmp_path / "bag", user="arch", ok=False)
    assert r.exit_code == 12 and "dangan volume unlock V" in r.output and not (tmp_path / "bag").exists()
    cli("volume", "unlock", "V", user="arch")
    cli("export", rid, "--bagit", tmp_path / "bag", user="arch")
    bagit.Bag(str(tmp_path / "bag")).validate()
    assert (tmp_path / "bag" / "data" / rid / "files" / "s.txt").read_text(encoding="utf-8") == "秘密正文 SEALMARK"


def test_inspections_per_record_and_volume_and_due(office, archive_root, tmp_path):
    cli = office
    a = put(cli, tmp_path, "a.txt", "甲", "--category", "WS", "--dept", "BGS", "--date", "2021-01-01", "--volume", "A")
    b = put(cli, tmp_path, "b.txt", "乙", "--category", "WS", "--dept", "BGS", "--date", "2021-01-01", "--volume", "B")
    soon = (dt.date.today() + dt.timedelta(days=200)).isoformat()
    due = {r["record_id"] for r in map(json.loads, cli("inspect", "due", "--as-of", soon, "--json",
                                                        user="arch").output.splitlines())}
    assert due == {a, b}
    r = cli("inspect", "record", a, "--condition", "good", user="pub", ok=False)
    assert r.exit_code == 7
    r = cli("inspect", "record", a, "--condition", "perfect", user="arch", ok=False)
    assert r.exit_code == 2
    cli("inspect", "record", a, "--condition", "fair", "--fading", "slight", "--environment", "20°C 45%RH",
        user="arch")
    cli("inspect", "record", "--volume", "B", "--condition", "good", user="arch")
    rows = list(map(json.loads, cli("inspect", "due", "--as-of", soon, "--json", user="arch").output.splitlines()))
    today = dt.date.today().isoformat()
    assert {(r["record_id"], r["last_inspection"]) for r in rows} == {(a, today), (b, today)}   # the volume's counts
    assert cli("inspect", "due", "--as-of", (dt.date.today() + dt.timedelta(days=150)).isoformat(), "--json",
               user="arch").output == ""
    rows = list(map(json.loads, cli("inspect", "list", "--json", user="arch").output.splitlines()))
    assert [(r["record_id"], r["volume"], r["fading"]) for r in rows] == [(a, None, "slight"), (None, "B", "none")]
    assert {e["object"] for e in audit(cli, "inspection")} == {a, b}


def test_stats_count_only_what_the_actor_sees(office, tmp_path):
    cli = office
    put(cli, tmp_path, "p.txt", "公开", "--category", "WS", "--dept", "BGS", "--date", "2020-01-01", "--volume", "PV")
    put(cli, tmp_path, "i.txt", "内部", "--category", "WS", "--dept", "BGS", "--date", "2021-01-01",
        "--secrecy", "internal", "--volume", "IV")
    out = json.loads(cli("stats", "--by", "year,secrecy", "--format", "json", user="arch").output)
    assert out["rows"] == [{"year": 2020, "secrecy": "public", "records": 1},
                           {"year": 2021, "secrecy": "internal", "records": 1}]
    assert json.loads(cli("stats", "--format", "json", user="pub").output)["total"] == 1
    assert cli("stats", "--by", "colour", user="arch", ok=False).exit_code == 2
    assert "department,year,records" in cli("stats", "--format", "csv", user="arch").output.replace("\r", "")


def test_import_bag_round_trip_into_a_fresh_archive(office, tmp_path):
    from conftest import Cli
    from ocfl_helpers import assert_store_valid
    cli = office
    a = put(cli, tmp_path, "合同.txt", "合同正文 ROUNDTRIP", "--category", "WS", "--dept", "BGS", "--date", "2021-01-01",
            "--title", "购销合同", "--meta", "party=甲公司", "--tag", "合同")
    p = tmp_path / "att.md"
    p.write_text("# 附件", encoding="utf-8")
    b = json.loads(cli("ingest", tmp_path / "b.txt" if (tmp_path / "b.txt").write_text("主文件", encoding="utf-8")
                       else None, "--attach", p, "--category", "WS", "--dept", "BGS", "--date", "2021-02-01",
                       "--volume", "V2", "--create-volume", "--json", user="arch").output.splitlines()[0])["record_id"]
    cli("export", a, b, "--bagit", tmp_path / "bag", user="arch")
    cli("init", tmp_path / "fresh", "--fonds", "Z109", user="arch")
    fresh = Cli(tmp_path / "fresh")
    out = [json.loads(x) for x in fresh("import-bag", tmp_path / "bag", "--json", user="arch").output.splitlines()]
    assert [o["status"] for o in out] == ["archived", "archived"]
    new = {o["source"]: o["record_id"] for o in out}
    keys = ("title", "department", "category", "year", "date", "retention", "secrecy", "volume", "archival_code",
            "tags", "metadata")
    for src in (a, b):
        old = json.loads(cli("show", src, "--json", user="arch").output)
        got = json.loads(fresh("show", new[src], "--json", user="arch").output)
        assert {k: old[k] for k in keys} == {k: got[k] for k in keys}
        cli("get", src, "-o", tmp_path / "o1" / src, user="arch")
        fresh("get", new[src], "-o", tmp_path / "o2" / src, user="arch")
        names = sorted(x.name for x in (tmp_path / "o1" / src).iterdir())
        assert names == sorted(x.name for x in (tmp_path / "o2" / src).iterdir()) and names
        for n in names:
            assert (tmp_path / "o1" / src / n).read_bytes() == (tmp_path / "o2" / src / n).read_bytes()
    again = fresh("import-bag", tmp_path / "bag", user="arch", ok=False)            # duplicates, like ingest
    assert again.exit_code == 5 and "already archived" in again.output
    ev = json.loads(fresh("audit", "log", "--json", "--action", "record.import", user="arch").output.splitlines()[0])
    assert ev["details"]["source_id"] in (a, b)
    (tmp_path / "bag" / "data" / a / "files" / "合同.txt").write_text("篡改", encoding="utf-8")
    r = fresh("import-bag", tmp_path / "bag", user="arch", ok=False)
    assert r.exit_code == 2 and "not a valid BagIt bag" in r.output
    assert_store_valid(tmp_path / "fresh" / "store")


def test_inspection_report_and_four_property_checks(office, archive_root, archive, tmp_path):
    cli = office
    a = put(cli, tmp_path, "a.txt", "甲", "--category", "WS", "--dept", "BGS", "--date", "2021-01-01", "--volume", "A")
    put(cli, tmp_path, "b.txt", "乙", "--category", "WS", "--dept", "ZLB", "--date", "2020-01-01", "--volume", "A")
    r = cli("inspect", "report", user="pub", ok=False)
    assert r.exit_code == 7
    rep = json.loads(cli("inspect", "report", "--format", "json", user="arch").output)
    assert rep["fixity"]["problems"] == [] and rep["catalogue_store"]["agree"] and rep["records"] == 2
    assert rep["readability"]["checked"] == 2 and rep["readability"]["ok"] == 2
    assert {d["department"]: d["records"] for d in rep["by"]["department"]} == {"BGS": 1, "ZLB": 1}
    assert rep["backup"]["message"].startswith("no backup yet")
    assert "section,item,value" in cli("inspect", "report", "--format", "csv", user="arch").output.replace("\r", "")
    assert "by year" in cli("inspect", "report", user="arch").output
    ev = audit(cli, "inspection.report")
    assert len(ev) == 3 and ev[0]["details"]["premis_event_type"] == "validation"
    rows = [json.loads(x) for x in cli("inspect", "four-property", a, "--json", user="arch").output.splitlines()]
    items = {(r["property"], r["item"]): r["result"] for r in rows}
    assert {p for p, _ in items} == {"authenticity", "integrity", "usability", "security"}
    assert items[("authenticity", "audit-chain")] == "pass" and items[("integrity", "digests")] == "pass"
    assert items[("usability", "readable")] == "pass" and items[("security", "keystore-entry")] == "n/a"
    vol = cli("inspect", "four-property", "--volume", "A", "--json", user="arch").output.splitlines()
    assert len({json.loads(x)["record_id"] for x in vol}) == 2
    stored = next(f for f in archive.store.files(a) if f.logical_path != "metadata.json")
    obj = archive.store.object_path(a) / stored.content_path
    obj.write_text("damaged", encoding="utf-8")
    r = cli("inspect", "four-property", a, "--json", user="arch", ok=False)
    assert r.exit_code == 1
    bad = {json.loads(x)["item"] for x in r.output.splitlines() if json.loads(x)["result"] == "fail"}
    assert "digests" in bad
    obj.write_text("甲", encoding="utf-8")                                       # repaired for the teardown check


def test_report_stats_delegates_to_statistics(office, tmp_path):
    cli = office
    put(cli, tmp_path, "p.txt", "公开", "--category", "WS", "--dept", "BGS", "--date", "2020-01-01")
    out = json.loads(cli("report", "stats", "--param", "by=department,year", "--format", "json", user="arch").output)
    assert out["rows"] == [{"department": "BGS", "year": 2020, "records": 1}]
    assert "department,records" in cli("report", "stats", "--param", "by=department", "--format", "csv",
                                       user="arch").output.replace("\r", "")
    assert "stats" in cli("report", user="arch").output
    r = cli("report", "stats", "--param", "colour=red", user="arch", ok=False)
    assert r.exit_code == 2
    assert [e["details"]["report"] for e in audit(cli, "report.run")] == ["stats", "stats"]
