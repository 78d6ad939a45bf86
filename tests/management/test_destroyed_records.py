"""A destroyed or transferred record stays dead, and a record out on loan is not destroyed (issue 12 items 2, 5)."""
from __future__ import annotations

import json

import pytest


@pytest.fixture
def office(cli, tmp_path):
    cli("user", "add", "boss", "--clearance", "top-secret", user="x")
    for name, role in (("arch", "archivist"), ("mgr", "manager"), ("lawyer", "legal"), ("clerk", "staff")):
        cli("user", "add", name, "--role", role, "--dept", "BGS", "--clearance", "top-secret", user="boss")
    return cli


def ingest(cli, tmp_path, key: str) -> str:
    p = tmp_path / f"{key}.txt"
    p.write_text(f"到期文件 {key} DEADMARK{key}", encoding="utf-8")
    return json.loads(cli("ingest", p, "--category", "WS", "--dept", "BGS", "--retention", "D10", "--date",
                          "2010-01-01", "--title", f"文件{key}", "--json", user="arch").output)["record_id"]


def destroy_by_list(cli, rids) -> str:
    lid = json.loads(cli("disposition", "propose", *rids, "--json", user="arch").output)["list"]
    cli("disposition", "approve", lid, user="mgr")
    cli("disposition", "execute", lid, "--yes", user="arch")
    return lid


@pytest.fixture
def dead(office, tmp_path):
    rid = ingest(office, tmp_path, "a")
    lid = destroy_by_list(office, [rid])
    cert = json.loads(office("disposition", "show", lid, "--json", user="arch").output)["items"][0]
    return rid, lid, cert["certificate_sha256"]


def store_head(root, rid):
    from dangan.core.archive import Archive
    a = Archive(root)
    try:
        return a.store.inventory(rid)["head"], [f.logical_path for f in a.store.files(rid)]
    finally:
        a.close()


def test_revise_with_a_file_cannot_bring_a_destroyed_record_back(office, dead, archive_root, tmp_path):
    rid, lid, _ = dead
    new = tmp_path / "revived.txt"
    new.write_text("复活的内容 REVIVED", encoding="utf-8")
    r = office("revise", rid, new, user="arch", ok=False)
    assert r.exit_code == 4 and f"record {rid} was destroyed on " in r.output and f"by list {lid}" in r.output
    assert "cannot be revised" in r.output and "Traceback" not in r.output
    assert store_head(archive_root, rid) == ("v1", ["metadata.json"])
    assert json.loads(office("show", rid, "--json", user="arch").output)["status"] == "destroyed"
    office("check", user="arch")


def test_revise_with_fields_only_is_refused_not_a_crash(office, dead, archive_root):
    rid, _, _ = dead
    r = office("revise", rid, "--title", "新标题", user="arch", ok=False)
    assert r.exit_code == 4 and "was destroyed" in r.output
    assert store_head(archive_root, rid) == ("v1", ["metadata.json"])


def test_get_of_a_destroyed_record_says_when_by_which_list_and_certificate(office, dead, tmp_path):
    rid, lid, sha = dead
    out = tmp_path / "out"
    r = office("get", rid, "-o", out, user="arch", ok=False)
    assert r.exit_code == 4
    assert f"record {rid} was destroyed on " in r.output and f"by list {lid}" in r.output
    assert f"certificate {sha[:16]}" in r.output
    assert not out.exists() or not any(out.iterdir())
    ev = [json.loads(x) for x in office("audit", "log", "--json", "--action", "record.retrieve",
                                        user="boss").output.splitlines()]
    assert ev[-1]["object"] == rid and ev[-1]["outcome"] == "failure"


def test_every_other_change_to_a_destroyed_record_is_refused(office, dead):
    rid, _, _ = dead
    for args, user in ((("hold", "add", rid, "--reason", "诉讼", "--authority", "法院"), "lawyer"),
                       (("lend", "request", rid, "--purpose", "查阅"), "clerk"),
                       (("access", "grant", "read", rid, "--to", "clerk", "--reason", "查阅"), "mgr"),
                       (("disposition", "extend", rid, "--until", "2040-01-01", "--reason", "复审"), "arch")):
        r = office(*args, user=user, ok=False)
        assert r.exit_code == 4 and "was destroyed" in r.output, (args, r.output)
    assert office("hold", "list", "--json", user="lawyer").output.strip() == ""


def test_a_transferred_record_is_as_dead(office, archive_root, tmp_path):
    from dangan.core.kernel.actor import Actor
    from dangan.core.archive import Archive
    from dangan.core.management.destruction import transfer_record
    rid = ingest(office, tmp_path, "t")
    a = Archive(archive_root, Actor("arch", "arch"))
    transfer_record(a, rid, bag={"bag": str(tmp_path / "bag"), "manifest_sha512": "0" * 128,
                                 "payload_oxum": "1.1"}, reason="移交")
    a.close()
    r = office("revise", rid, "--title", "x", user="arch", ok=False)
    assert r.exit_code == 4 and f"record {rid} was transferred" in r.output
    r = office("get", rid, "-o", tmp_path / "o", user="arch", ok=False)
    assert r.exit_code == 4 and "was transferred" in r.output and "bag" in r.output


def test_a_revision_that_began_before_a_destruction_cannot_publish_into_it(office, archive_root, tmp_path):
    """The guard inside the writer's transaction sees a destruction's intent."""
    from dangan.core.kernel.actor import Actor
    from dangan.core.archive import Archive
    from dangan.core.catalogue.fields import RecordFields
    from dangan.core.store.ingest import Ingestor
    from dangan.errors import RecordGone
    rid = ingest(office, tmp_path, "r")
    a = Archive(archive_root, Actor("arch", "arch"))
    with a.transaction() as conn:       # a destruction whose intent is committed (its process still at work)
        conn.execute("INSERT INTO destruction_intents (record_id, status, tombstone, certificate, event, actor,"
                     " created, pid, host) VALUES (?, 'destroyed', x'00', '{}', '{}', 'arch', '', 1, 'elsewhere')",
                     (rid,))
    with pytest.raises(RecordGone, match="being destroyed"):
        Ingestor(a).revise(rid, None, RecordFields(title="late"), "late")
    assert store_head(archive_root, rid)[0] == "v1"
    with a.transaction() as conn:
        conn.execute("DELETE FROM destruction_intents")
    a.close()


# -- item 5: not destroyed while on loan ------------------------------------------------------------------
def lend(cli, rid, *, issue: bool) -> str:
    loan = json.loads(cli("lend", "request", rid, "--purpose", "核对", "--days", "3", "--json", user="clerk").output)
    lid = loan["id"] if "id" in loan else loan["loan"]
    if issue:
        cli("lend", "approve", lid, user="mgr")
        cli("lend", "issue", lid, user="arch")
    return lid


@pytest.mark.parametrize("issued", [True, False], ids=["issued", "requested"])
def test_a_record_on_loan_is_not_proposed(office, tmp_path, issued):
    rid = ingest(office, tmp_path, "l")
    loan = lend(office, rid, issue=issued)
    r = office("disposition", "propose", rid, user="arch", ok=False)
    assert r.exit_code == 2 and f"on loan {loan}" in r.output
    other = ingest(office, tmp_path, "m")
    out = json.loads(office("disposition", "propose", "--due", "--json", user="arch").output)
    assert out["records"] == [other]
    assert any(s["record_id"] == rid and "on loan" in s["reason"] for s in out["skipped"])


def test_a_record_lent_after_approval_is_not_destroyed_at_execution(office, archive_root, tmp_path):
    rid, kept = ingest(office, tmp_path, "e"), ingest(office, tmp_path, "f")
    lid = json.loads(office("disposition", "propose", rid, kept, "--json", user="arch").output)["list"]
    office("disposition", "approve", lid, user="mgr")
    loan = lend(office, rid, issue=True)
    cert = json.loads(office("disposition", "execute", lid, "--yes", "--json", user="arch").output)
    outcome = {i["record_id"]: i["outcome"] for i in cert["items"]}
    assert outcome[kept] == "destroyed"
    assert outcome[rid].startswith("not destroyed: on loan") and loan in outcome[rid]
    assert json.loads(office("show", rid, "--json", user="arch").output)["status"] == "active"
    office("get", rid, "-o", tmp_path / "back", user="arch")


def test_the_destruction_primitive_refuses_a_lent_record(office, archive_root, tmp_path):
    from dangan.core.archive import Archive
    from dangan.core.management.destruction import destroy_record
    from dangan.errors import UsageError
    rid = ingest(office, tmp_path, "p")
    lend(office, rid, issue=True)
    a = Archive(archive_root)
    with pytest.raises(UsageError, match="not destroyed until returned"):
        destroy_record(a, rid, reason="test")
    a.close()


def test_a_hold_placed_while_a_destruction_is_being_prepared_wins(office, archive_root, tmp_path):
    """Holds and loans are checked again inside the intent's transaction: a hold placed by someone else
    after the first checks (here by a plugin wrapper, just before core's destruction runs) stops it."""
    from dangan.core.kernel.actor import Actor
    from dangan.core.archive import Archive
    from dangan.core.management.destruction import destroy_record
    from dangan.core.management.holds import add_hold
    from dangan.core.management.holds import RecordHeld
    from dangan.plugins.hookspecs import hookimpl
    rid = ingest(office, tmp_path, "h")

    class LateHold:
        @hookimpl(wrapper=True)
        def dangan_destroy(self, record, actor, reason):
            other = Archive(archive_root, Actor("lawyer", "lawyer"))
            add_hold(other, [record.id], reason="诉讼", authority="法院")
            other.close()
            return (yield)

    a = Archive(archive_root, Actor("arch", "arch"), extra_plugins=(("late_hold", LateHold()),))
    with pytest.raises(RecordHeld):
        destroy_record(a, rid, reason="test")
    assert a.conn.execute("SELECT count(*) FROM destruction_intents").fetchone()[0] == 0
    a.close()
    assert json.loads(office("show", rid, "--json", user="arch").output)["status"] == "active"
    office("get", rid, "-o", tmp_path / "still", user="arch")
