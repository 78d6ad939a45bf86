"""Issue 19 item 7: three administrators kept apart (三员分立) with ``[security] separation_of_duties``."""
from __future__ import annotations

import getpass
import json

import pytest

from dangan.errors import AccessDenied, UsageError


def _separate(root) -> None:
    cfg = root / "dangan.toml"
    cfg.write_text(cfg.read_text(encoding="utf-8") + "\n[security]\nseparation_of_duties = true\n", encoding="utf-8")


def _events(cli, user, *args):
    return [json.loads(x) for x in cli("audit", "log", "--json", *args, user=user).output.splitlines()]


def _ingest(cli, tmp_path, user, name):
    src = tmp_path / name
    src.write_text(f"{name} 正文", encoding="utf-8")
    return json.loads(cli("ingest", src, "--category", "WS", "--dept", "BGS", "--json", user=user).output)["record_id"]


def test_cli_refuses_a_second_role_and_only_the_auditor_reads_the_admins_events(cli, archive_root, tmp_path):
    _separate(archive_root)
    me = getpass.getuser()
    r = cli("user", "add", "boss", "--role", "auditor", user="boss", ok=False)     # first user is the admin
    assert r.exit_code == UsageError.exit_code and "三员分立" in r.output
    cli("user", "add", "boss", "--clearance", "top-secret", user="boss")
    cli("user", "add", "sec", "--role", "security-officer", "--clearance", "top-secret", "--may-act-as", me,
        user="boss")
    cli("user", "add", "aud", "--role", "auditor", "--may-act-as", me, user="boss")
    cli("user", "add", "clerk", "--role", "archivist", "--may-act-as", me, user="boss")
    r = cli("user", "add", "both", "--role", "admin", "--role", "审计员", user="boss", ok=False)
    assert r.exit_code == AccessDenied.exit_code and "may hold only one" in r.output
    r = cli("user", "set", "sec", "--add-role", "auditor", user="boss", ok=False)
    assert r.exit_code == AccessDenied.exit_code and "安全保密管理员" in r.output and "安全审计员" in r.output
    r = cli("user", "set", "aud", "--add-role", "admin", user="boss", ok=False)
    assert r.exit_code == AccessDenied.exit_code
    users = {json.loads(x)["name"]: json.loads(x)
             for x in cli("user", "list", "--json", user="boss").output.splitlines()}
    assert "both" not in users and users["sec"]["roles"] == ["security-officer"] and users["aud"]["roles"] == ["auditor"]
    cli("user", "set", "sec", "--add-role", "manager", user="boss")               # other roles may be combined
    boss_rec = _ingest(cli, tmp_path, "boss", "总经理批示.txt")
    clerk_rec = _ingest(cli, tmp_path, "clerk", "档案员收文.txt")
    _ingest(cli, tmp_path, "sec", "保密员登记.txt")

    full = _events(cli, "aud")                                                     # the auditor reads everything
    actors = {e["actor"] for e in full}
    assert {"boss", "sec", "clerk"} <= actors
    denied = [e for e in full if e["action"] == "access.denied"]
    assert {e["object"] for e in denied} >= {"user:both", "user:sec", "user:aud"}
    assert any(e["object"] == boss_rec and e["action"] == "record.ingest" for e in full)

    for reader in ("boss", "sec"):                                                 # the admin no longer does
        seen = _events(cli, reader)
        assert not {e["actor"] for e in seen} & {"boss", "sec"}, reader
        assert not [e for e in seen if e["action"] == "access.denied"]
    assert any(e["object"] == clerk_rec for e in _events(cli, "boss"))            # ordinary users' events stay
    assert not {e["actor"] for e in _events(cli, "boss", "--record", boss_rec)} & {"boss", "sec"}


def test_admin_account_may_not_act_as_the_auditor_under_separation(cli, archive_root):
    _separate(archive_root)
    cli("user", "add", "boss", user="boss")
    cli("user", "add", "aud", "--role", "auditor", user="boss")                   # bound to OS account "aud"
    r = cli("audit", "log", "--json", user="aud", ok=False)
    assert r.exit_code == AccessDenied.exit_code and "may not act as" in r.output
    cli("user", "add", "staff1", "--role", "staff", user="boss")
    cli("ls", user="staff1")                                                      # an ordinary user still may


def test_off_by_default_the_admin_reads_everything_and_may_hold_two_roles(cli, archive_root):
    cli("user", "add", "boss", "--role", "auditor", user="boss")
    cli("user", "add", "sec", "--role", "security-officer", user="boss")
    cli("user", "set", "sec", "--add-role", "auditor", user="boss")
    assert "user:sec" in {e["object"] for e in _events(cli, "boss")}
    assert {"boss"} <= {e["actor"] for e in _events(cli, "boss")}
    assert "warning" not in cli("user", "list", user="boss").output
    _separate(archive_root)                     # switched on later: the doubled roles are named, not trusted
    listed = cli("user", "list", user="boss").output
    assert "三员分立 is on but boss holds admin, auditor" in listed and "sec holds auditor, security-officer" in listed
    assert not {e["actor"] for e in _events(cli, "boss")} & {"boss", "sec"}   # boss is no sole auditor


def test_core_service_calls_keep_the_three_apart(archive_root):
    from dangan.core.archive import Archive
    from dangan.core.kernel.actor import Actor
    from dangan.core.service import audit, users
    _separate(archive_root)

    def as_(name):
        return Archive(archive_root, Actor(name, name))

    a = as_("root-admin")
    users.add(a, "root-admin", os_account="root-admin")
    users.add(a, "sec", roles=["保密员"])
    users.add(a, "aud", roles=["auditor"])
    with pytest.raises(AccessDenied, match="三员分立"):
        users.change(a, "sec", add_roles=["admin"])
    with pytest.raises(AccessDenied):
        users.add(a, "x", roles=["security-officer", "auditor"])
    assert users.change(a, "sec", add_roles=["legal"]).roles == {"security-officer", "legal"}
    assert not {e.actor for e in audit.log(a)} & {"root-admin", "sec"}       # the admin's own events: hidden
    a.close()
    s = as_("sec")
    assert audit.log(s) == []
    s.close()
    au = as_("aud")
    evs = audit.log(au)
    assert {"root-admin"} <= {e.actor for e in evs}
    assert [e.object for e in evs if e.action == "access.denied"] == ["user:sec", "user:x"]
    au.close()
