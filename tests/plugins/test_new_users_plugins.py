"""Issue 13 items 8 and 9: department plugins, their roles and departments can be discovered; a typo is
refused with the valid names; a construction record says at ingest and in every denial why it is hidden."""
from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from dangan.cli import get_cli

FIVE = {"general_office", "drug_quality", "construction", "insurance_customers", "customer_confidentiality"}


def enable(root: Path, *names: str, extra: str = "") -> None:
    cfg = root / "dangan.toml"
    listed = ", ".join(f'"{n}"' for n in names)
    cfg.write_text(cfg.read_text(encoding="utf-8").replace("[plugins]\n", f"[plugins]\nenabled = [{listed}]\n", 1)
                   + "\n" + extra + "\n", encoding="utf-8")


def entries(cli) -> dict[str, dict]:
    rows = [json.loads(x) for x in cli("plugins", "list", "--json").stdout.splitlines()]
    return {r["name"]: r for r in rows if "name" in r}


def test_plugins_list_shows_the_shipped_plugins_that_are_not_enabled(cli, archive_root):
    got = entries(cli)
    assert FIVE <= set(got) and all(got[n]["state"] == "not enabled" for n in FIVE)
    assert got["construction"]["departments"] == ["XMB"] and "SG-JD" in got["construction"]["categories"]
    assert "project-manager" in got["construction"]["roles"]
    assert "customer-service-manager" in got["customer_confidentiality"]["roles"]
    assert "KH-TB" in got["insurance_customers"]["categories"]
    table = cli("plugins", "list").stdout
    assert "not enabled" in table and "project-manager" in table and "XMB" in table
    enable(archive_root, "construction")
    got = entries(cli)
    assert got["construction"]["state"] == "enabled" and got["drug_quality"]["state"] == "not enabled"
    assert "dangan_access" in got["construction"]["hooks"]


def test_an_unknown_plugin_name_in_dangan_toml_is_an_error_listing_the_valid_ones(cli, archive_root):
    enable(archive_root, "constructoin")
    r = cli("ls", ok=False)
    assert r.exit_code == 2 and "constructoin" in r.output and "construction" in r.output
    assert "general_office" in r.output


def test_an_unknown_plugin_name_on_the_command_line_is_an_error(cli):
    r = cli("plugins", "show", "constructoin", ok=False)
    assert r.exit_code == 2 and "did you mean 'construction'" in r.output and "drug_quality" in r.output
    shown = cli("plugins", "show", "construction").stdout
    assert "project-manager" in shown and "SG-JD" in shown and "not enabled" in shown


def test_an_unknown_role_is_refused_with_the_valid_ones(cli):
    r = cli("user", "add", "王经理", "--role", "projectmanager", ok=False)
    assert r.exit_code == 2 and "did you mean 'project-manager'" in r.output and "archivist" in r.output
    cli("user", "add", "王经理", "--role", "project-manager")
    cli("user", "add", "李", "--role", "customer-service-manager", user="王经理")
    r = cli("user", "set", "李", "--add-role", "boss", user="王经理", ok=False)
    assert r.exit_code == 2 and "unknown role 'boss'" in r.output


def test_the_plugin_roles_appear_in_help():
    from dangan.core.policy.users import ROLES
    from dangan.plugins.listing import shipped_departments
    helps = "".join(CliRunner().invoke(get_cli(), [*cmd, "-h"]).output for cmd in (("user", "add"), ("user", "set")))
    helps = "".join(helps.split())                  # click may wrap customer-service-/manager
    for role in {r for e in shipped_departments() for r in e.roles} | set(ROLES):
        assert role in helps, role


def test_an_unknown_department_is_refused_once_the_archive_knows_its_departments(cli, archive_root, tmp_path):
    enable(archive_root, "general_office", extra='[departments]\nXZ = "行政部"')
    p = tmp_path / "a.txt"
    p.write_text("甲", encoding="utf-8")
    r = cli("ingest", p, "--category", "WS", "--dept", "BSG", ok=False)
    assert r.exit_code == 2 and "unknown department 'BSG'" in r.output and "BGS" in r.output and "XZ" in r.output
    assert cli("ls", "--json").stdout == ""
    cli("ingest", p, "--category", "WS", "--dept", "XZ")
    r = cli("user", "add", "张", "--dept", "XYZ", ok=False)
    assert r.exit_code == 2 and "unknown department" in r.output


def test_a_construction_record_says_at_ingest_and_in_every_denial_that_it_waits_for_a_project_manager(
        cli, archive_root, tmp_path):
    enable(archive_root, "construction", extra='[users."王经理"]\nroles = ["project-manager"]')
    p = tmp_path / "进度.txt"
    p.write_text("三号楼主体结构完成", encoding="utf-8")
    r = cli("ingest", p, "--category", "SG-JD", "--meta", "valid_until=2026-12-31", "--meta", "custodian=赵工",
            "--secrecy", "internal")
    assert "pending approval" in r.stdout and "project-manager's approval" in r.stdout
    rid = r.stdout.split("→ ")[1].split()[0]
    for args in (("show", rid), ("get", rid, "-o", str(tmp_path / "out")), ("approve", rid)):
        denied = cli(*args, user="工人", ok=False)
        assert denied.exit_code == 7 and "project-manager" in denied.output, (args, denied.output)
    cli("approve", rid, user="王经理")
