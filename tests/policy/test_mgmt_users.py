"""Users register and clearance, through the CLI on real archives."""
from __future__ import annotations

import json

from cli_helpers import audit, enable  # noqa: F401  (used here and by other tests)


def ingest(cli, tmp_path, name, text, *args, user="tester"):
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    out = cli("ingest", p, "--category", "WS", "--dept", "BGS", "--date", "2021-03-01", "--json", *args, user=user)
    return json.loads(out.output.splitlines()[0])["record_id"]


def test_first_user_is_admin_and_only_admins_add_users(cli):
    out = cli("user", "add", "boss", "--clearance", "top-secret", user="anyone").output
    assert "admin" in out
    r = cli("user", "add", "mallory", "--role", "admin", user="nobody", ok=False)
    assert r.exit_code == 7 and "unknown user 'nobody'" in r.output
    cli("user", "add", "clerk", "--role", "staff", "--dept", "BGS", user="boss")
    r = cli("user", "add", "eve", user="clerk", ok=False)
    assert r.exit_code == 7 and "needs the role admin" in r.output
    users = {u["name"]: u for u in map(json.loads, cli("user", "list", "--json", user="clerk").output.splitlines())}
    assert set(users) == {"boss", "clerk"} and users["clerk"]["clearance"] == "internal"
    assert [e["object"] for e in audit(cli, "user.add")] == ["user:boss", "user:clerk"]
    assert {e["details"]["action"] for e in audit(cli, "access.denied")} == {"add users"}


def test_set_disable_and_the_last_admin(cli):
    cli("user", "add", "boss", user="x")
    cli("user", "add", "clerk", "--role", "职员", user="boss")
    cli("user", "set", "clerk", "--clearance", "秘密", "--add-role", "archivist", "--dept", "BGS", user="boss")
    u = json.loads(cli("user", "list", "--json", user="boss").output.splitlines()[1])
    assert u["clearance"] == "secret" and u["roles"] == ["archivist", "staff"] and u["department"] == "BGS"
    r = cli("user", "disable", "boss", user="boss", ok=False)
    assert r.exit_code == 2 and "last active admin" in r.output
    r = cli("user", "set", "boss", "--remove-role", "admin", user="boss", ok=False)
    assert "last active admin" in r.output
    cli("user", "disable", "clerk", "--reason", "left", user="boss")
    r = cli("ls", user="clerk", ok=False)
    assert r.exit_code == 7 and "disabled" in r.output
    r = cli("user", "set", "ghost", "--clearance", "public", user="boss", ok=False)
    assert r.exit_code == 4
    r = cli("user", "add", "bad", "--clearance", "ultra", user="boss", ok=False)
    assert r.exit_code == 2 and "unknown secrecy" in r.output
    ev = audit(cli, "user.disable")
    assert ev[0]["details"]["changes"]["active"] == [True, False] and ev[0]["details"]["reason"] == "left"


def test_before_any_user_the_archive_is_open(cli, tmp_path):
    rid = ingest(cli, tmp_path, "a.txt", "内部文件 OPENMARK", "--secrecy", "internal", user="whoever")
    assert rid in cli("ls", "--wide", user="someone-else").output


def test_clearance_filters_listings_search_show_and_get(cli, tmp_path):
    cli("user", "add", "boss", "--clearance", "top-secret", user="x")
    cli("user", "add", "clerk", "--clearance", "public", user="boss")
    low = ingest(cli, tmp_path, "low.txt", "公开通知 LOWMARK", "--secrecy", "public", "--volume", "PUB", "--create-volume", user="boss")
    high = ingest(cli, tmp_path, "high.txt", "内部报告 HIGHMARK", "--secrecy", "internal", "--volume", "INT", "--create-volume", "--title", "内部报告",
                  user="boss")
    assert high in cli("ls", "--wide", user="boss").output
    listed = cli("ls", "--json", user="clerk").output
    assert low in listed and high not in listed
    assert cli("search", "HIGHMARK", "--count", user="clerk").output.strip() == "0"
    assert cli("search", "HIGHMARK", "--count", user="boss").output.strip() == "1"
    r = cli("show", high, user="clerk", ok=False)
    assert r.exit_code == 7 and "内部" in r.output and "HIGHMARK" not in r.output and "内部报告" not in r.output
    r = cli("get", high, "-o", tmp_path / "out", user="clerk", ok=False)
    assert r.exit_code == 7 and not (tmp_path / "out" / "high.txt").exists()
    denied = audit(cli, "access.read")
    assert denied and denied[-1]["outcome"] == "denied" and denied[-1]["object"] == high
    r = cli("ls", user="stranger", ok=False)
    assert r.exit_code == 7 and "unknown user" in r.output


def test_plugins_still_decide_after_clearance(cli, archive_root, tmp_path):
    enable(archive_root, "customer_confidentiality")
    cli("user", "add", "boss", "--clearance", "top-secret", user="x")
    cli("user", "add", "clerk", "--clearance", "top-secret", user="boss")
    p = tmp_path / "c.txt"
    p.write_text("客户资料", encoding="utf-8")
    rid = json.loads(cli("ingest", p, "--category", "KX-YB", "--meta", "customer_name=张三", "--date", "2021-01-01",
                         "--json", user="boss").output)["record_id"]
    r = cli("export", rid, "--bagit", tmp_path / "bag", user="clerk", ok=False)
    assert r.exit_code == 7 and "customer_confidentiality" in r.output
    r = cli("access", "grant", "export", rid, "--to", "clerk", "--reason", "自批", user="clerk", ok=False)
    assert r.exit_code == 7
    cli("user", "set", "boss", "--add-role", "manager", user="boss")
    cli("access", "grant", "export", rid, "--to", "clerk", "--reason", "审计需要", user="boss")
    cli("export", rid, "--bagit", tmp_path / "bag", user="clerk")
    assert (tmp_path / "bag" / "bagit.txt").exists()


def test_users_are_bound_to_os_accounts(cli, monkeypatch):
    import dangan.core.kernel.actor as actor_mod
    os_user, uid = actor_mod.os_identity()
    cli("user", "add", "boss", "--clearance", "top-secret", user="x")          # bound to the OS account that adds it
    cli("user", "add", "alice", "--role", "staff", user="boss")                 # bound to "alice" by default
    cli("user", "add", "bob", "--role", "staff", "--os-account", "robert", "--may-act-as", "alice", user="boss")
    users = {u["name"]: u for u in map(json.loads, cli("user", "list", "--json", user="boss").output.splitlines())}
    assert users["boss"]["os_account"] == os_user and users["alice"]["os_account"] == "alice"
    assert users["bob"]["os_account"] == "robert" and users["bob"]["may_act_as"] == ["alice"]
    monkeypatch.setattr(actor_mod, "os_identity", lambda: ("alice", 61001))
    from click.testing import CliRunner
    run = lambda *a: CliRunner().invoke(cli.cli, ["--archive", str(cli.root), *a])  # noqa: E731 - no --as
    r = run("audit", "log", "--json", "--action", "user.add")
    assert r.exit_code == 0, r.output                                            # alice, without --as
    assert cli("ls", user="alice").exit_code == 0
    assert cli("ls", user="bob").exit_code == 0                                 # bob lists alice in may_act_as
    r = cli("ls", user="boss", ok=False)                                         # alice is no admin
    assert r.exit_code == 7 and "may not act as 'boss'" in r.output
    monkeypatch.setattr(actor_mod, "os_identity", lambda: ("mallory", 61002))
    r = run("ls")
    assert r.exit_code == 7 and "unknown user 'mallory'" in r.output
    r = cli("ls", user="alice", ok=False)
    assert r.exit_code == 7 and "OS account 'mallory' may not act as 'alice'" in r.output
    monkeypatch.setattr(actor_mod, "os_identity", lambda: (os_user, uid))                  # boss's account is an admin's
    assert cli("ls", user="alice").exit_code == 0
    denied = [e for e in audit(cli, "access.denied") if e["details"]["action"] == "act as"]
    assert {e["details"]["os_user"] for e in denied} == {"alice", "mallory"}
    cli("user", "set", "alice", "--may-act-as", "mallory", user="boss")
    monkeypatch.setattr(actor_mod, "os_identity", lambda: ("mallory", 61002))
    assert cli("ls", user="alice").exit_code == 0
    ev = [e for e in audit(cli, "user.set", user="alice") if e["object"] == "user:alice"]
    assert ev[-1]["details"]["changes"]["may_act_as"] == [[], ["mallory"]]
