"""Retention due dates, destruction lists with approval, legal holds, through the CLI."""
from __future__ import annotations

import json

import pytest

from cli_helpers import audit
from disposition_helpers import office  # noqa: F401  (the fixture)


def lines(out):
    return [json.loads(x) for x in out.splitlines()]


def test_due_dates_from_retention(cli, office):
    due = {r["record_id"]: r for r in lines(cli("disposition", "due", "--json", user="arch").output)}
    assert set(due) == {office["old"], office["old2"]}
    assert due[office["old"]]["due"] == "2020-12-31" and due[office["old"]]["trigger"] == "end-of-year"
    later = {r["record_id"] for r in lines(cli("disposition", "due", "--as-of", "2032-01-01", "--json",
                                               user="arch").output)}
    assert later == {office["old"], office["old2"], office["new"]}         # permanent never falls due


def test_propose_approve_execute_with_separation_of_duties(cli, office, archive_root):
    old, old2 = office["old"], office["old2"]
    for ref, why in ((office["perm"], "permanently"), (office["new"], "not due for disposition until 2031-12-31")):
        r = cli("disposition", "propose", ref, user="arch", ok=False)
        assert r.exit_code == 2 and why in r.output
    r = cli("disposition", "propose", "--due", user="clerk", ok=False)
    assert r.exit_code == 7
    out = json.loads(cli("disposition", "propose", old, old2, "--reason", "鉴定: 已无保存价值", "--json",
                         user="arch").output)
    lid = out["list"]
    assert sorted(out["records"]) == sorted([old, old2])
    r = cli("disposition", "propose", old, user="arch", ok=False)
    assert f"on destruction list {lid} already" in r.output
    r = cli("disposition", "execute", lid, user="arch", ok=False)
    assert r.exit_code == 15 and "only an approved list" in r.output
    r = cli("disposition", "approve", lid, user="arch", ok=False)
    assert r.exit_code == 7 and "manager" in r.output
    cli("user", "set", "arch", "--add-role", "manager", user="boss")
    r = cli("disposition", "approve", lid, user="arch", ok=False)
    assert r.exit_code == 7 and "separation of duties" in r.output
    assert json.loads(cli("show", old, "--json", user="arch").output)["status"] == "active"
    cli("disposition", "approve", lid, "--note", "同意销毁", user="mgr")
    cli("hold", "add", old2, "--reason", "诉讼", "--authority", "某法院", user="lawyer")   # after approval
    cert = json.loads(cli("disposition", "execute", lid, "--yes", "--json", user="arch").output)
    outcome = {i["record_id"]: i["outcome"] for i in cert["items"]}
    assert outcome[old] == "destroyed" and "legal hold" in outcome[old2]
    assert cert["approved_by"] == "mgr" and cert["proposed_by"] == "arch" and cert["destroyed"] == 1
    assert json.loads(cli("show", old, "--json", user="arch").output)["status"] == "destroyed"
    assert json.loads(cli("show", old2, "--json", user="arch").output)["status"] == "active"
    assert cli("search", "MARKOLD", "--count", user="arch").output.strip() == "0"
    for p in archive_root.rglob("*"):
        if p.is_file() and "store" in p.parts:
            assert b"MARKOLD " not in p.read_bytes()
    ev = audit(cli, "record.destroy")
    assert len(ev) == 1 and ev[0]["details"]["approved_by"] == "mgr"
    listed = json.loads(cli("disposition", "show", lid, "--json", user="mgr").output)
    assert listed["status"] == "executed" and listed["certificate"]["certificate_sha256"] == cert["certificate_sha256"]
    r = cli("disposition", "execute", lid, user="arch", ok=False)
    assert r.exit_code == 15
    cli("check", user="arch")


def test_reject_and_extend(cli, office):
    lid = json.loads(cli("disposition", "propose", "--due", "--json", user="arch").output)["list"]
    r = cli("disposition", "reject", lid, "--reason", "", user="mgr", ok=False)
    assert r.exit_code == 2
    cli("disposition", "reject", lid, "--reason", "仍需保存", user="mgr")
    r = cli("disposition", "approve", lid, user="mgr", ok=False)
    assert "rejected" in r.output
    out = cli("disposition", "extend", office["old"], "--until", "2030-06-30", "--reason", "复审: 延长", user="arch")
    assert "2030-06-30" in out.output
    due = {r["record_id"] for r in lines(cli("disposition", "due", "--json", user="arch").output)}
    assert due == {office["old2"]}


def test_holds_stack_cover_volumes_and_are_released_with_an_audit(cli, office, tmp_path, archive):
    from dangan.core.management.holds import RecordHeld, assert_not_held
    h1 = json.loads(cli("hold", "add", office["old"], "--reason", "审计", "--authority", "审计署", "--json",
                        user="lawyer").output)["id"]
    vol = json.loads(cli("show", office["old"], "--json", user="arch").output)["volume"]
    h2 = json.loads(cli("hold", "add", "--volume", vol, "--reason", "诉讼", "--authority", "法院", "--json",
                        user="lawyer").output)["id"]
    p = tmp_path / "later.txt"
    p.write_text("后来归档的文件", encoding="utf-8")
    later = json.loads(cli("ingest", p, "--category", "WS", "--dept", "BGS", "--retention", "D10", "--date",
                           "2010-06-01", "--json", user="arch").output)["record_id"]
    held = {h["id"]: h for h in lines(cli("hold", "list", "--json", user="clerk").output)}
    assert later in held[h2]["records"] and office["old"] in held[h1]["records"]
    r = cli("disposition", "propose", later, user="arch", ok=False)
    assert "legal hold" in r.output
    r = cli("hold", "release", h2, "--reason", "结案", user="clerk", ok=False)
    assert r.exit_code == 7
    cli("hold", "release", h2, "--reason", "结案", user="lawyer")
    with pytest.raises(RecordHeld):
        assert_not_held(archive, office["old"], "revised")              # h1 still holds it
    assert_not_held(archive, later, "revised")
    from dangan.core.management.destruction import destroy_record
    with pytest.raises(RecordHeld):
        destroy_record(archive, office["old"], reason="test")
    r = cli("hold", "release", h2, "--reason", "again", user="lawyer", ok=False)
    assert "released already" in r.output
    assert [e["object"] for e in audit(cli, "hold.release")] == [h2]
    r = cli("hold", "add", "--reason", "x", "--authority", "y", user="lawyer", ok=False)
    assert r.exit_code == 2


TRANSFER_PLUGIN = (
    "from dangan.plugins import hookimpl\n"
    "from dangan.plugins.types import RetentionRule\n"
    "@hookimpl\n"
    "def dangan_retention_for(record, category):\n"
    "    if 'to-transfer' in record.tags:\n"
    "        return RetentionRule(years=10, action='transfer')\n")


def test_transfer_exports_a_bag_and_leaves_a_tombstone(cli, office, archive_root, tmp_path):
    import bagit
    (archive_root / "plugins" / "transfer_rule.py").write_text(TRANSFER_PLUGIN, encoding="utf-8")
    ids = []
    for key in ("t1", "t2"):
        p = tmp_path / f"{key}.txt"
        p.write_text(f"移交测试 {key} MARK{key.upper()}X", encoding="utf-8")
        ids.append(json.loads(cli("ingest", p, "--category", "WS", "--dept", "BGS", "--retention", "D10", "--date",
                                  "2010-01-01", "--tag", "to-transfer", "--title", f"移交{key}", "--json",
                                  user="arch").output)["record_id"])
    t1, t2 = ids
    due = {r["record_id"]: r["action"] for r in lines(cli("disposition", "due", "--json", user="arch").output)}
    assert due[t1] == "transfer" and due[office["old"]] == "review"
    lid = json.loads(cli("disposition", "propose", t1, t2, office["old"], "--json", user="arch").output)["list"]
    cli("disposition", "approve", lid, user="mgr")
    cli("hold", "add", t2, "--reason", "诉讼", "--authority", "法院", user="lawyer")
    r = cli("disposition", "execute", lid, user="arch", ok=False)
    assert r.exit_code == 2 and "--to" in r.output
    assert json.loads(cli("disposition", "show", lid, "--json", user="arch").output)["status"] == "approved"
    dest = tmp_path / "to-city-archives"
    cert = json.loads(cli("disposition", "execute", lid, "--to", dest, "--yes", "--json", user="arch").output)
    outcome = {i["record_id"]: i["outcome"] for i in cert["items"]}
    assert outcome[t1] == "transferred" and "legal hold" in outcome[t2] and outcome[office["old"]] == "destroyed"
    assert cert["transferred"] == 1 and cert["destroyed"] == 1 and cert["not_destroyed"] == 1
    bag = bagit.Bag(str(dest))
    bag.validate()
    assert bag.info["Transfer-List"] == lid and [p.name for p in (dest / "data").iterdir()] == [t1]
    import hashlib
    assert cert["transfer"]["manifest_sha512"] == hashlib.sha512((dest / "manifest-sha512.txt").read_bytes()).hexdigest()
    shown = json.loads(cli("show", t1, "--json", user="arch").output)
    assert shown["status"] == "transferred" and shown["title"] == "移交t1"
    assert json.loads(cli("show", t2, "--json", user="arch").output)["status"] == "active"
    ev = audit(cli, "record.transfer")
    assert [e["object"] for e in ev] == [t1] and ev[0]["details"]["bag"]["manifest_sha512"] == \
        cert["transfer"]["manifest_sha512"]
    assert cli("search", "MARKT1X", "--count", user="arch").output.strip() == "0"
    for p in (archive_root / "store").rglob("*"):
        if p.is_file():
            assert b"MARKT1X" not in p.read_bytes()
    cli("check", user="arch")
