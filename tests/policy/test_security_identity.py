"""Issue 11 item 1: who acts is the kernel's uid, never $LOGNAME/$USER; the audit trail records the uid.

Run as real other uids with setpriv on an archive built by root and handed to the staff account.
"""
from __future__ import annotations

import json

from security_identity_helpers import (STAFF_UID, audit_rows, hand_to, needs_root, query, run_as,
                                       shared_archive, shared_folder)  # noqa: F401 - fixtures

pytestmark = needs_root
SPOOF = {"LOGNAME": "root", "USER": "root", "LNAME": "root", "USERNAME": "root"}


def _office(root, cli, tmp_path):
    cli("user", "add", "boss", "--clearance", "top-secret", user="x")        # first user: bound to root
    cli("user", "add", "pub", "--role", "staff", "--clearance", "public", "--os-account", f"uid:{STAFF_UID}",
        user="boss")
    ids = {}
    for level, dept in (("public", "BGS"), ("internal", "ZLB")):
        p = tmp_path / f"{level}.txt"
        p.write_text(f"{level} 记录内容", encoding="utf-8")
        ids[level] = json.loads(cli("ingest", p, "--title", f"{level}-title", "--secrecy", level, "--category", "WS", "--dept", dept,
                                    "--json", user="boss").output)["record_id"]
    hand_to(root, STAFF_UID)
    return ids


def test_logname_does_not_make_a_staff_account_root(shared_archive, tmp_path):
    root, cli = shared_archive
    ids = _office(root, cli, tmp_path)
    r = run_as(STAFF_UID, root, "ls", "--json", env=SPOOF)
    assert r.returncode == 0, r.stderr
    listed = {json.loads(line)["id"] for line in r.stdout.splitlines()}
    assert listed == {ids["public"]}                                   # pub's clearance, not the admin's
    r = run_as(STAFF_UID, root, "user", "add", "evil", "--role", "admin", "--clearance", "top-secret",
               "--os-account", f"uid:{STAFF_UID}", env=SPOOF)
    assert r.returncode == 7, r.stdout + r.stderr
    assert query(root, "SELECT name FROM users WHERE name = 'evil'") == []
    denied = audit_rows(root, "access.denied")[-1]
    assert denied["actor"] == "pub" and denied["details"]["uid"] == STAFF_UID


def test_dangan_user_and_as_are_checked_against_the_real_account(shared_archive, tmp_path):
    root, cli = shared_archive
    ids = _office(root, cli, tmp_path)
    for how in (["--as", "boss", "show", ids["internal"]], ["show", ids["internal"]]):
        env = {**SPOOF, "DANGAN_USER": "boss"} if how[0] == "show" else SPOOF
        r = run_as(STAFF_UID, root, *how, env=env)
        assert r.returncode == 7, r.stdout + r.stderr
        assert "internal-title" not in r.stdout
    refusals = [e for e in audit_rows(root, "access.denied") if e["details"].get("action") == "act as"]
    assert len(refusals) == 2
    assert all(e["details"]["uid"] == STAFF_UID and e["details"]["os_user"] != "root" for e in refusals)


def test_audit_events_carry_the_numeric_uid(shared_archive, tmp_path):
    root, cli = shared_archive
    ids = _office(root, cli, tmp_path)
    r = run_as(STAFF_UID, root, "get", ids["public"], "-o", root.parent / f"home-{STAFF_UID}", env=SPOOF)
    assert r.returncode == 0, r.stdout + r.stderr
    ev = audit_rows(root, "record.retrieve")[-1]
    assert ev["actor"] == "pub" and ev["details"]["uid"] == STAFF_UID
    assert ev["details"]["os_user"] == f"uid:{STAFF_UID}"                 # no passwd entry: named by its uid
    assert audit_rows(root, "user.add")[0]["details"]["uid"] == 0         # root's own events name uid 0 too
