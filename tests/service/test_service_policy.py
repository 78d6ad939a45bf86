"""The rules hold from Python as from the CLI: the service layer checks the user and audits in core.

An unregistered user, a staff member and an auditor drive the Python API directly (no CLI) and
meet the same refusals, and leave the same audit events, as ``dangan`` run as them.
"""
from __future__ import annotations

import json

import pytest

from dangan.core.archive import Archive
from dangan.core.kernel.actor import Actor
from dangan.core.service import registers, reports
from dangan.errors import AccessDenied


def events(cli, action, user="boss"):
    out = cli("audit", "log", "--json", "--action", action, user=user).output
    return [json.loads(line) for line in out.splitlines()]


@pytest.fixture
def office(cli, tmp_path):
    cli("user", "add", "boss", "--clearance", "top-secret", user="boss")
    cli("user", "add", "clerk", "--role", "staff", "--dept", "BGS", user="boss")
    cli("user", "add", "aud", "--role", "auditor", user="boss")
    f = tmp_path / "minutes.txt"
    f.write_text("会议纪要 档案管理", encoding="utf-8")
    cli("ingest", f, "--category", "WS", "--dept", "BGS", "--date", "2021-03-01", user="boss")
    return cli


def as_(cli, name):
    return Archive.open(cli.root, actor=Actor(name, name, overridden=True))


def test_an_unregistered_user_is_refused_from_python_as_on_the_cli(office, tmp_path):
    f = tmp_path / "note.txt"
    f.write_text("无名氏的文件", encoding="utf-8")
    cli_refusals = {
        "ingest": office("ingest", f, user="nobody", ok=False),
        "list loans": office("lend", "list", user="nobody", ok=False),
        "list holds": office("hold", "list", user="nobody", ok=False),
    }
    assert {r.exit_code for r in cli_refusals.values()} == {7}
    before = len(events(office, "access.denied"))
    a = as_(office, "nobody")
    with pytest.raises(AccessDenied, match="unknown user 'nobody'"):
        a.ingest(f)
    with pytest.raises(AccessDenied, match="unknown user 'nobody'"):
        registers.loans(a)
    with pytest.raises(AccessDenied, match="unknown user 'nobody'"):
        registers.holds(a)
    with pytest.raises(AccessDenied):
        reports.run_stats(a)
    a.close()
    denied = events(office, "access.denied")
    cli_actions = [e["details"]["action"] for e in denied[:before]]
    api_actions = [e["details"]["action"] for e in denied[before:]]
    assert set(cli_actions) >= {"ingest", "list loans", "list holds"}
    assert api_actions == ["ingest", "list loans", "list holds", "report"]
    assert all(e["actor"] == "nobody" for e in denied[before:])
    assert "无名氏" not in office("ls", "--json", user="boss").output      # nothing was filed


def test_reports_are_audited_in_core_whoever_runs_them(office):
    office("report", "stats", user="aud")
    a = as_(office, "aud")
    out = reports.run_stats(a, "department")
    a.close()
    assert out["rows"]
    runs = events(office, "report.run")
    assert [(e["actor"], e["details"]["report"]) for e in runs] == [("aud", "stats"), ("aud", "stats")]
    keys = ("report", "core", "rows")
    assert [[e["details"][k] for k in keys] for e in runs] == [["stats", True, 1], ["stats", True, 1]]
    assert [e["details"]["by"] for e in runs] == ["department,year", "department"]


def test_staff_read_the_registers_they_may_read_through_the_same_calls(office):
    a = as_(office, "clerk")
    assert registers.loans(a) == []
    assert registers.holds(a) == []
    a.close()
    cli_loans = office("lend", "list", "--json", user="clerk").output
    assert cli_loans.strip() == ""
