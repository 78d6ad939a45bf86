"""Issue 11 item 8: four eyes compare real identities, not the user names an admin's account may put on.

The destruction chain runs as real uids (setpriv): uid 2003 is bound to an admin, so it may act ``--as``
anyone; it proposes as ``arch`` and may not then approve as ``mgr``.  Loans, grants and declassification
run in-process with actors whose identity differs (or not), as the CLI faces would build them.
"""
from __future__ import annotations

import json

import pytest

from security_identity_helpers import (STAFF_UID, audit_rows, hand_to, needs_root, query, run_as,
                                       shared_archive, shared_folder)  # noqa: F401 - fixtures


@pytest.fixture
def chain(shared_archive, tmp_path):
    root, cli = shared_archive
    cli("user", "add", "boss", "--clearance", "top-secret", user="x")         # bound to root
    cli("user", "add", "ops", "--role", "admin", "--clearance", "top-secret", "--os-account", f"uid:{STAFF_UID}",
        user="boss")
    for name, role in (("arch", "archivist"), ("mgr", "manager")):
        cli("user", "add", name, "--role", role, "--dept", "BGS", "--clearance", "top-secret", user="boss")
    p = tmp_path / "old.txt"
    p.write_text("过期文件 MARKOLD", encoding="utf-8")
    rid = json.loads(cli("ingest", p, "--category", "WS", "--dept", "BGS", "--retention", "D10", "--date",
                         "2010-01-01", "--json", user="arch").output)["record_id"]
    (root.parent / "home-0").mkdir()
    hand_to(root, STAFF_UID)
    return root, rid


def _as(uid, root, *args):
    # root acting on an archive the staff account owns trusts it explicitly, as an administrator would
    r = run_as(uid, root, *args, env={"DANGAN_SAFE_ARCHIVES": str(root)} if uid == 0 else None)
    hand_to(root, STAFF_UID)            # whatever root wrote stays usable by the staff account
    return r


@needs_root
def test_one_account_may_not_propose_and_approve_a_destruction_list(chain):
    root, rid = chain
    r = _as(STAFF_UID, root, "--as", "arch", "disposition", "propose", rid, "--json")
    assert r.returncode == 0, r.stdout + r.stderr
    lid = json.loads(r.stdout)["list"]
    r = _as(STAFF_UID, root, "--as", "mgr", "disposition", "approve", lid)
    assert r.returncode == 7, r.stdout + r.stderr
    assert query(root, "SELECT status FROM disposal_lists WHERE id = ?", lid) == [("proposed",)]
    denied = audit_rows(root, "access.denied")[-1]
    assert denied["details"]["identity"] == f"uid:{STAFF_UID}" and denied["object"] == lid
    r = _as(0, root, "--as", "mgr", "disposition", "approve", lid)              # another person approves
    assert r.returncode == 0, r.stdout + r.stderr
    r = _as(0, root, "--as", "arch", "disposition", "execute", lid, "--yes")             # ... and may not execute it too
    assert r.returncode == 7, r.stdout + r.stderr
    assert query(root, "SELECT status FROM records WHERE id = ?", rid) == [("active",)]
    r = _as(STAFF_UID, root, "--as", "arch", "disposition", "execute", lid, "--yes", "--json")
    assert r.returncode == 0, r.stdout + r.stderr
    cert = json.loads(r.stdout)
    assert cert["identities"] == {"proposed": f"uid:{STAFF_UID}", "approved": "uid:0", "executed": f"uid:{STAFF_UID}"}
    assert query(root, "SELECT status FROM records WHERE id = ?", rid) == [("destroyed",)]


# -- loans and grants: the same rule, with actors as the CLI builds them (kernel uid, user named by --as) ----------

def acting(root, name, uid):
    from dangan.core.kernel.actor import Actor
    from dangan.core.archive import Archive
    return Archive(root, Actor(name, f"uid:{uid}", overridden=True, uid=uid))


@pytest.fixture
def office(cli, archive_root, tmp_path):
    cli("user", "add", "boss", "--clearance", "top-secret", user="x")
    cli("user", "add", "ops", "--role", "admin", "--clearance", "top-secret", "--os-account", "uid:62003",
        user="boss")                                     # uid 62003 is an admin's: it may act as anyone
    for name, role, account in (("arch", "archivist", "uid:62005"), ("mgr", "manager", "uid:62004"),
                                ("clerk", "staff", "uid:62006")):
        cli("user", "add", name, "--role", role, "--dept", "BGS", "--clearance", "secret", "--os-account", account,
            "--may-act-as", "uid:62004", user="boss")
    p = tmp_path / "ws.txt"
    p.write_text("借阅 四眼", encoding="utf-8")
    return json.loads(cli("ingest", p, "--category", "WS", "--dept", "BGS", "--json", user="arch").output)["record_id"]


def test_one_account_may_not_request_and_approve_or_approve_and_issue_a_loan(archive_root, office):
    from dangan.core.management import lending
    from dangan.errors import AccessDenied
    with acting(archive_root, "clerk", 62003) as a:
        lid = lending.request(a, [office], purpose="核对")["id"]
    with acting(archive_root, "mgr", 62003) as a, pytest.raises(AccessDenied, match="four eyes"):
        lending.approve(a, lid)
    with acting(archive_root, "mgr", 62004) as a:
        assert lending.approve(a, lid)["decided_identity"] == "uid:62004"
    with acting(archive_root, "arch", 62004) as a, pytest.raises(AccessDenied, match="four eyes"):
        lending.issue(a, lid)                           # the approver's account, acting as the archivist
    with acting(archive_root, "arch", 62003) as a:
        issued = lending.issue(a, lid)
    assert issued["status"] == "issued" and issued["items"][0]["issued_identity"] == "uid:62003"
    assert issued["requested_identity"] == "uid:62003"


def test_an_approver_may_not_approve_a_loan_for_a_user_bound_to_their_own_account(cli, archive_root, office):
    from dangan.core.management import lending
    from dangan.errors import AccessDenied
    cli("user", "set", "mgr", "--may-act-as", "uid:62006", user="boss")
    with acting(archive_root, "arch", 62003) as a:
        lid = lending.request(a, [office], purpose="查考", borrower="clerk")["id"]
    with acting(archive_root, "mgr", 62006) as a, pytest.raises(AccessDenied, match="OS account of clerk"):
        lending.approve(a, lid)                         # clerk's own account, acting as the manager


def test_a_grant_does_not_count_for_the_account_that_gave_it(archive_root, office):
    from dangan.core.policy import access
    from dangan.errors import AccessDenied
    with acting(archive_root, "mgr", 62003) as a:
        access.grant(a, "export", [office], "clerk", reason="审计")
        with pytest.raises(AccessDenied, match="OS account of ops"):
            access.grant(a, "export", [office], "ops", reason="给自己")
    with acting(archive_root, "clerk", 62003) as a:
        assert access.approvals_for(a, "clerk", office) == frozenset()          # granted by this very account
    with acting(archive_root, "clerk", 62006) as a:
        assert access.approvals_for(a, "clerk", office) == {"export"}
