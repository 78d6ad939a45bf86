"""The rules hold from Python as from the CLI: the service layer checks the user and audits in core.

An unregistered user, a staff member and an auditor drive the Python API directly (no CLI) and
meet the same refusals, and leave the same audit events, as ``dangan`` run as them.
"""
from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path

import pytest

from dangan.core.archive import Archive
from dangan.core.kernel.actor import Actor, current_actor
from dangan.core.service import registers, reports
from dangan.errors import AccessDenied, DanganError
from ocfl_helpers import assert_store_valid


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
    cli("ingest", f, "--category", "WS", "--dept", "BGS", "--date", "2021-03-01", "--secrecy", "public", user="boss")
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


# -- every operation a face offers: the API and the CLI refuse alike and leave the same audit trail ------------
#
# Two archives set up alike: one is driven through the CLI, the other through core/service, by the same people
# doing the same things in the same order; their audit trails must read the same, event for event.

_GENERATED = re.compile(r"(?:h[0-9a-f]{10}|[BLD]\d{8}-[0-9a-f]{6})")     # hold, loan, list, declassification ids


def _norm(value, alike: dict[str, str]):
    """An event's content with what differs between the twin archives (record ids, generated ids, the folders
    written to) made alike."""
    if isinstance(value, dict):
        return {k: _norm(v, alike) for k, v in value.items()}
    if isinstance(value, list):
        return [_norm(v, alike) for v in value]
    if isinstance(value, str):
        for mine, common in alike.items():
            value = value.replace(mine, common)
        return _GENERATED.sub("<generated>", value)
    return value


def _trail(root: Path, alike: dict[str, str], after: int = 0) -> list[tuple]:
    """The events after ``after``, read straight from the catalogue (no face in between)."""
    import sqlite3
    conn = sqlite3.connect(root / "catalogue.sqlite")
    rows = conn.execute("SELECT actor, action, object, outcome, details FROM audit WHERE seq > ? ORDER BY seq",
                        (after,)).fetchall()
    conn.close()
    return [(a, act, _norm(o, alike), out, _norm(json.loads(d), alike)) for a, act, o, out, d in rows]


def _last_seq(root: Path) -> int:
    import sqlite3
    conn = sqlite3.connect(root / "catalogue.sqlite")
    (n,) = conn.execute("SELECT coalesce(max(seq), 0) FROM audit").fetchone()
    conn.close()
    return n


def _twin_office(base: Path):
    """An archive with boss, a clerk of public clearance, an auditor, a public and an internal record."""
    from conftest import Cli
    root = base / "archive"
    Archive.init(root, fonds="Z109", name="测试公司", actor=Actor("tester", "tester")).close()
    cli = Cli(root)
    cli("user", "add", "boss", "--clearance", "top-secret", user="boss")
    cli("user", "add", "clerk", "--role", "staff", "--dept", "BGS", "--clearance", "public", user="boss")
    cli("user", "add", "aud", "--role", "auditor", user="boss")
    ids = []
    for name, text, date, secrecy in (("minutes.txt", "会议纪要 档案管理", "2021-03-01", "public"),
                                      ("plan.txt", "内部 计划 会议", "2022-04-01", "internal")):
        f = base / name
        f.write_text(text, encoding="utf-8")
        out = cli("ingest", f, "--category", "WS", "--dept", "BGS", "--date", date, "--secrecy", secrecy, "--json",
                  user="boss").output
        ids.append(json.loads(out.splitlines()[0])["record_id"])
    cli.minutes, cli.above_clerk = ids
    cli.base = base
    return cli


def _operations(rid: str, out: Path):
    """(name, CLI arguments, the same operation through the service layer) for what a face offers."""
    from dangan.core.service import audit, disposition, export, holds, inspection, lending, records, search
    return [
        ("show", ["show", rid, "--json"], lambda a: records.show(a, rid)),
        ("versions", ["versions", rid, "--json"], lambda a: records.versions(a, rid)),
        ("get", ["get", rid, "-o", out / "get"], lambda a: records.get(a, rid, out / "get")),
        ("search", ["search", "计划", "--json"], lambda a: search.search(a, "计划")),
        ("ls", ["ls", "--json"], lambda a: records.ls(a)),
        ("lend request", ["lend", "request", rid, "--purpose", "查阅"],
         lambda a: lending.request(a, [rid], purpose="查阅")),
        ("lend register", ["lend", "register"], lambda a: lending.register(a)),
        ("disposition propose", ["disposition", "propose", rid, "--reason", "到期"],
         lambda a: disposition.propose(a, [rid], reason="到期")),
        ("disposition due", ["disposition", "due", "--json"], lambda a: disposition.due(a)),
        ("hold add", ["hold", "add", rid, "--reason", "诉讼", "--authority", "法院"],
         lambda a: holds.add(a, [rid], reason="诉讼", authority="法院")),
        ("inspect record", ["inspect", "record", rid, "--condition", "good"],
         lambda a: inspection.record(a, [rid], condition="good")),
        ("export", ["export", rid, "--bagit", out / "bag"], lambda a: export.export(a, [rid], dest=out / "bag")),
        ("audit log", ["audit", "log", "--json", "--record", rid], lambda a: audit.log(a, ref=rid)),
        ("identify", ["identify", rid, "--json"], lambda a: records.identify(a, [rid])),
    ]


@pytest.fixture
def twins(tmp_path):
    (tmp_path / "cli").mkdir()
    (tmp_path / "api").mkdir()
    return _twin_office(tmp_path / "cli"), _twin_office(tmp_path / "api")


@pytest.mark.parametrize("who", ["nobody", "clerk", "aud"])
def test_each_operation_refuses_and_audits_from_python_as_the_cli_does(twins, who):
    by_cli, by_api = twins
    trails, codes = [], []
    for side, twin in (("cli", by_cli), ("api", by_api)):
        alike = {twin.minutes: "<minutes>", twin.above_clerk: "<record>", str(twin.base): "<base>"}
        start = _last_seq(twin.root)
        outcome = {}
        for name, args, call in _operations(twin.above_clerk, twin.base):
            if side == "cli":
                outcome[name] = twin(*args, user=who, ok=False).exit_code
                continue
            a = Archive.open(twin.root, actor=replace(current_actor(who), session=f"test:{who}"))  # as --as does
            try:
                call(a)
                outcome[name] = 0
            except DanganError as exc:
                outcome[name] = exc.exit_code
            finally:
                a.close()
        codes.append(outcome)
        trails.append(_trail(twin.root, alike, start))
        assert_store_valid(twin.root / "store")
    assert codes[1] == codes[0]
    assert trails[1] == trails[0]
    assert trails[0], "the operations left no audit events at all"
    refused = {n for n, c in codes[0].items() if c == AccessDenied.exit_code}
    denied = [e for e in trails[0] if e[3] == "denied"]
    assert all(e[0] == who for e in denied)
    if who == "nobody":                 # not in the register: nothing at all, each refusal audited
        assert refused == {n for n, *_ in _operations("", Path())}
        assert len(denied) == len(refused)
    if who == "clerk":                  # below the record's clearance: refused whatever the operation
        assert refused >= {"show", "versions", "get", "lend request", "disposition propose", "hold add",
                           "inspect record", "export"}
        assert codes[0]["search"] == codes[0]["ls"] == 0
    if who == "aud":                    # cleared for it, but read-only: may look and read, may not change
        assert codes[0]["show"] == codes[0]["get"] == codes[0]["audit log"] == 0
        assert refused >= {"hold add", "export", "disposition propose"}


def test_the_clerk_does_not_find_the_record_above_their_clearance_from_python_either(tmp_path):
    from dangan.core.service import records, search
    office = _twin_office(tmp_path)
    a = Archive.open(office.root, actor=replace(current_actor("clerk"), session="test:clerk"))
    try:
        api_hits = {h.record_id for h in search.search(a, "会议").hits}
        api_listed = {r.id for r in records.ls(a)}
    finally:
        a.close()
    out = office("search", "会议", "--json", user="clerk").output
    assert api_hits == {json.loads(x)["record_id"] for x in out.splitlines()} == {office.minutes}
    assert api_listed == {office.minutes}


# -- rules that now hold where a face skipped them -------------------------------------------------------------

def test_an_unregistered_user_cannot_start_a_watcher_that_would_archive_as_them(office, tmp_path):
    from dangan.core.service import watch
    from dangan.core.watch.config import configured_folders
    drop = tmp_path / "drop"
    drop.mkdir()
    (drop / "dropped.txt").write_text("投放的文件 WATCHMARK", encoding="utf-8")
    r = office("watch", drop, "--once", "--category", "WS", "--dept", "BGS", user="nobody", ok=False)
    assert r.exit_code == 7 and "unknown user 'nobody'" in r.output
    a = Archive.open(office.root, actor=replace(current_actor("nobody"), session="test:nobody"))
    try:
        with pytest.raises(AccessDenied, match="unknown user 'nobody'"):
            watch.watcher(a, configured_folders(a.config, a.root))
    finally:
        a.close()
    assert (drop / "dropped.txt").exists()                       # left where it was, not taken
    assert office("search", "WATCHMARK", "--count", user="boss").output.strip() == "0"
    denied = events(office, "access.denied")[-2:]
    assert [(e["actor"], e["details"]["action"]) for e in denied] == [("nobody", "ingest"), ("nobody", "ingest")]
    office("watch", drop, "--once", "--category", "WS", "--dept", "BGS", user="clerk")
    assert office("search", "WATCHMARK", "--count", user="boss").output.strip() == "1"   # a registered user may


def test_volume_key_operations_need_a_registered_user(office):
    r = office("volume", "lock", user="nobody", ok=False)
    assert r.exit_code == 7
    assert events(office, "access.denied")[-1]["details"]["action"] == "lock volumes"
    assert office("volume", "lock", user="clerk").output.startswith("locked: ")


def _decisions(twin) -> list[tuple]:
    """Deciding on what the boss set in motion: a loan, a hold, a declassification-free destruction list."""
    from dangan.core.service import disposition, holds, lending
    loan, hold = twin.loan, twin.hold
    return [
        ("lend approve", ["lend", "approve", loan], lambda a: lending.approve(a, loan)),
        ("lend refuse", ["lend", "refuse", loan, "--reason", "不予"], lambda a: lending.refuse(a, loan, "不予")),
        ("lend issue", ["lend", "issue", loan], lambda a: lending.issue(a, loan)),
        ("lend return", ["lend", "return", loan, "--all"], lambda a: lending.return_items(a, loan, everything=True)),
        ("hold release", ["hold", "release", hold, "--reason", "结案"], lambda a: holds.release(a, hold, "结案")),
        ("disposition extend", ["disposition", "extend", twin.minutes, "--until", "2099-01-01", "--reason", "复审"],
         lambda a: disposition.extend(a, twin.minutes, until="2099-01-01", reason="复审")),
    ]


@pytest.mark.parametrize("who", ["nobody", "clerk", "aud"])
def test_decisions_refused_from_python_as_on_the_cli(twins, who):
    for twin in twins:
        out = twin("lend", "request", twin.minutes, "--purpose", "查阅", "--json", user="boss").output
        twin.loan = json.loads(out)["loan"]
        out = twin("hold", "add", twin.above_clerk, "--reason", "诉讼", "--authority", "法院", "--json",
                   user="boss").output
        twin.hold = json.loads(out)["id"]
    by_cli, by_api = twins
    trails, codes = [], []
    for side, twin in (("cli", by_cli), ("api", by_api)):
        alike = {twin.minutes: "<minutes>", twin.above_clerk: "<record>", str(twin.base): "<base>"}
        start = _last_seq(twin.root)
        outcome = {}
        for name, args, call in _decisions(twin):
            if side == "cli":
                outcome[name] = twin(*args, user=who, ok=False).exit_code
                continue
            a = Archive.open(twin.root, actor=replace(current_actor(who), session=f"test:{who}"))
            try:
                call(a)
                outcome[name] = 0
            except DanganError as exc:
                outcome[name] = exc.exit_code
            finally:
                a.close()
        codes.append(outcome)
        trails.append(_trail(twin.root, alike, start))
    assert codes[1] == codes[0]
    assert trails[1] == trails[0]
    assert set(codes[0].values()) == {AccessDenied.exit_code}, codes[0]    # none of them may decide these
    assert [e[3] for e in trails[0]] == ["denied"] * len(codes[0])           # each refusal audited, nothing else
    for twin in twins:                                                       # and nothing changed
        loans = [json.loads(x) for x in twin("lend", "list", "--json", user="boss").output.splitlines()]
        assert [b["status"] for b in loans] == ["requested"]
        assert twin("hold", "list", "--json", user="boss").output.count('"released_at": null') == 1


def test_a_file_is_streamed_from_python_only_to_whom_the_cli_gives_it(tmp_path):
    from dangan.core.service import records
    office = _twin_office(tmp_path)
    for who, allowed in (("boss", True), ("aud", True), ("clerk", False), ("nobody", False)):
        cli_code = office("get", office.above_clerk, "-o", tmp_path / f"get-{who}", user=who, ok=False).exit_code
        a = Archive.open(office.root, actor=replace(current_actor(who), session=f"test:{who}"))
        try:
            stream = records.open_file(a, office.above_clerk)
            body = b"".join(stream.chunks())
            code = 0
        except AccessDenied as exc:
            body, code = b"", exc.exit_code
        finally:
            a.close()
        assert code == cli_code == (0 if allowed else AccessDenied.exit_code), who
        if allowed:
            assert body == (tmp_path / f"get-{who}" / "plan.txt").read_bytes() == "内部 计划 会议".encode()
    retrieved = [e for e in events(office, "record.retrieve") if e["object"] == office.above_clerk]
    assert [e["actor"] for e in retrieved] == ["boss", "boss", "aud", "aud"]
