"""Issue 11 item 4: lowering secrecy needs a declassification approved by another person (security officer)."""
from __future__ import annotations

import json

import pytest


@pytest.fixture
def office(cli, tmp_path):
    cli("user", "add", "boss", "--clearance", "top-secret", user="x")
    for name, role, clearance in (("lawyer", "legal", "internal"), ("so", "security-officer", "top-secret"),
                                  ("pub", "staff", "public"), ("mgr", "manager", "top-secret")):
        cli("user", "add", name, "--role", role, "--clearance", clearance, "--dept", "BGS", user="boss")
    p = tmp_path / "内部通知.txt"
    p.write_text("内部 通知 MARKINTERNAL", encoding="utf-8")
    return json.loads(cli("ingest", p, "--secrecy", "internal", "--category", "WS", "--dept", "BGS", "--json",
                          user="boss").output)["record_id"]


def _audit(cli, action):
    return [json.loads(x) for x in cli("audit", "log", "--json", "--action", action, user="boss").output.splitlines()]


def test_revise_may_not_lower_secrecy(cli, office):
    r = cli("revise", office, "--secrecy", "public", user="lawyer", ok=False)
    assert r.exit_code == 7 and "declassif" in r.output
    assert json.loads(cli("show", office, "--json", user="boss").output)["secrecy"] == "internal"
    assert cli("ls", "--json", user="pub").output == ""                      # public staff still see nothing
    r = cli("revise", office, "--secrecy", "public", user="boss", ok=False)  # not even an admin
    assert r.exit_code == 7


def test_declassification_is_requested_approved_by_another_person_and_audited(cli, office):
    req = json.loads(cli("declassify", "request", office, "--to", "公开", "--reason", "已公开发布", "--json",
                         user="lawyer").output)
    assert req["status"] == "requested" and (req["from_level"], req["to_level"]) == ("internal", "public")
    assert json.loads(cli("show", office, "--json", user="boss").output)["secrecy"] == "internal"
    r = cli("declassify", "approve", req["id"], user="lawyer", ok=False)      # not a security officer
    assert r.exit_code == 7
    r = cli("declassify", "approve", req["id"], user="mgr", ok=False)         # managers only if the policy says so
    assert r.exit_code == 7 and "security-officer" in r.output
    done = json.loads(cli("declassify", "approve", req["id"], "--json", user="so").output)
    assert done["status"] == "applied" and done["decided_by"] == "so" and done["version"] == 2
    assert json.loads(cli("show", office, "--json", user="pub").output)["secrecy"] == "public"
    ev = _audit(cli, "record.declassify")
    assert len(ev) == 1 and ev[0]["details"]["secrecy"] == {"from": "internal", "to": "public"}
    assert ev[0]["actor"] == "so"
    assert _audit(cli, "declassify.request")[0]["actor"] == "lawyer"


def test_one_account_may_not_request_and_approve_a_declassification(cli, office):
    # the suite's one OS account, without a session per user: the same identity requests and approves
    req = json.loads(cli("declassify", "request", office, "--to", "public", "--reason", "y", "--json",
                         user="lawyer", one_person_per_user=False).output)
    assert req["requested_identity"].startswith("uid:")
    r = cli("declassify", "approve", req["id"], user="so", one_person_per_user=False, ok=False)
    assert r.exit_code == 7 and "four eyes" in r.output
    assert json.loads(cli("show", office, "--json", user="boss").output)["secrecy"] == "internal"
    assert json.loads(cli("declassify", "approve", req["id"], "--json", user="so").output)["status"] == "applied"


def test_managers_approve_when_the_policy_says_so(cli, office, archive_root):
    cfg = archive_root / "dangan.toml"
    cfg.write_text(cfg.read_text(encoding="utf-8") + '\n[policy]\ndeclassify_approver_roles = ["security-officer", '
                   '"manager"]\n', encoding="utf-8")
    req = json.loads(cli("declassify", "request", office, "--to", "public", "--reason", "z", "--json",
                         user="lawyer").output)["id"]
    assert json.loads(cli("declassify", "approve", req, "--json", user="mgr").output)["status"] == "applied"
