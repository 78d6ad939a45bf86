"""A volume's life: show (counts, pages, dates, filer, checker, status, items in volume order), rename (the
title, audited before/after), close (封卷: nothing filed in or moved out; the checker is not the filer) and
re-open (a manager's, audited with the reason); the reference sheet prints the filer and checker."""
from __future__ import annotations

import json
import subprocess

import pytest

from cli_helpers import audit, enable


@pytest.fixture
def office(cli, archive_root, tmp_path):
    enable(archive_root, "general_office")
    cli("user", "add", "boss", "--clearance", "top-secret", user="x")
    for name, role in (("arch", "archivist"), ("check", "archivist"), ("mgr", "manager"), ("clerk", "staff")):
        cli("user", "add", name, "--role", role, "--dept", "BGS", "--clearance", "internal", user="boss")
    cli("volume", "create", "BGS-2021-01", "--secrecy", "internal", "--title", "办公室文件", user="arch")
    ids = {}
    # the general office's order: in one group the reply before the request, then by date
    for key, title, date, meta in (("req", "关于增加编制的请示", "2021-03-01", ("doc_kind=request", "group=编制", "pages=2")),
                                   ("rep", "关于增加编制的批复", "2021-03-20", ("doc_kind=reply", "group=编制", "pages=1")),
                                   ("min", "第一次办公会议纪要", "2021-01-15", ("pages=4",))):
        p = tmp_path / f"{key}.txt"
        p.write_text(f"案卷测试 {title}", encoding="utf-8")
        args = [a for m in meta for a in ("--meta", m)]
        ids[key] = json.loads(cli("ingest", p, "--category", "BGS-NB", "--date", date, "--title", title,
                                  "--volume", "BGS-2021-01", *args, "--json", user="arch").output)["record_id"]
    return ids


def test_show_gives_counts_pages_dates_and_the_items_in_volume_order(cli, office):
    v = json.loads(cli("volume", "show", "BGS-2021-01", "--json", user="clerk").output)
    assert v["records"] == 3 and v["pages"] == 7 and v["without_pages"] == 0
    assert (v["date_from"], v["date_to"]) == ("2021-01-15", "2021-03-20")
    assert v["status"] == "open" and v["filer"] == "arch" and not v["checker"]
    assert [i["id"] for i in v["items"]] == [office["min"], office["rep"], office["req"]]   # reply before request
    assert [i["item"] for i in v["items"]] == [1, 2, 3]
    text = cli("volume", "show", "BGS-2021-01", user="clerk").output
    assert "办公室文件" in text and "open" in text


def test_rename_changes_the_title_and_audits_before_and_after(cli, office):
    r = cli("volume", "rename", "BGS-2021-01", "新题名", user="clerk", ok=False)
    assert r.exit_code == 7
    cli("volume", "rename", "BGS-2021-01", "2021年办公室文件（一）", user="arch")
    assert json.loads(cli("volume", "show", "BGS-2021-01", "--json", user="arch").output)["title"] == \
        "2021年办公室文件（一）"
    ev = audit(cli, "volume.rename")[-1]
    assert ev["details"] == {**ev["details"], "before": "办公室文件", "after": "2021年办公室文件（一）"}


def test_a_closed_volume_takes_no_record_and_reopening_is_a_managers_audited_step(cli, office, tmp_path):
    r = cli("volume", "close", "BGS-2021-01", "--checker", "arch", user="arch", ok=False)
    assert r.exit_code == 2 and "cannot be both" in r.output                  # the filer does not check himself
    r = cli("volume", "close", "BGS-2021-01", "--checker", "check", user="clerk", ok=False)
    assert r.exit_code == 7
    cli("volume", "close", "BGS-2021-01", "--checker", "check", "--notes", "本卷无缺页", user="arch")
    v = json.loads(cli("volume", "show", "BGS-2021-01", "--json", user="arch").output)
    assert v["status"] == "closed" and v["checker"] == "check" and v["closed_by"] == "arch"
    late = tmp_path / "late.txt"
    late.write_text("迟到的文件", encoding="utf-8")
    r = cli("ingest", late, "--category", "BGS-NB", "--date", "2021-04-01", "--volume", "BGS-2021-01",
            user="arch", ok=False)
    assert r.exit_code == 15 and "closed (封卷)" in r.output
    assert json.loads(cli("volume", "show", "BGS-2021-01", "--json", user="arch").output)["records"] == 3
    cli("volume", "create", "BGS-2021-02", "--secrecy", "internal", user="arch")
    r = cli("revise", office["min"], "--volume", "BGS-2021-02", user="arch", ok=False)
    assert r.exit_code == 15 and "moved out of" in r.output
    r = cli("volume", "close", "BGS-2021-01", "--checker", "check", user="arch", ok=False)
    assert r.exit_code == 15 and "closed already" in r.output
    sheet = tmp_path / "sheet.pdf"
    cli("print", "reference-sheet", "BGS-2021-01", "-o", sheet, user="arch")
    text = "".join(subprocess.run(["pdftotext", str(sheet), "-"], capture_output=True, text=True,
                                  check=True).stdout.split())
    assert "立卷人arch" in text and "检查人check" in text and "本卷无缺页" in text
    r = cli("volume", "reopen", "BGS-2021-01", "--reason", "补充归档", user="arch", ok=False)
    assert r.exit_code == 7
    cli("volume", "reopen", "BGS-2021-01", "--reason", "补充归档", user="mgr")
    ev = audit(cli, "volume.reopen")[-1]
    assert ev["actor"] == "mgr" and ev["details"]["reason"] == "补充归档" and ev["details"]["checker"] == "check"
    cli("ingest", late, "--category", "BGS-NB", "--date", "2021-04-01", "--volume", "BGS-2021-01", user="arch")
    assert json.loads(cli("volume", "show", "BGS-2021-01", "--json", user="arch").output)["records"] == 4


def test_a_volume_above_the_readers_clearance_is_not_shown(cli, office):
    cli("user", "set", "clerk", "--clearance", "public", user="boss")
    r = cli("volume", "show", "BGS-2021-01", user="clerk", ok=False)
    assert r.exit_code == 7
    r = cli("volume", "show", "NO-SUCH", user="arch", ok=False)
    assert r.exit_code == 4


def test_mv_moves_a_record_between_volumes_under_the_filing_rules(cli, office, tmp_path):
    cli("volume", "create", "BGS-2021-02", "--secrecy", "internal", "--title", "第二卷", user="arch")
    cli("volume", "create", "PUB", "--secrecy", "public", user="arch")
    cli("ingest", tmp_path / "min.txt", "--allow-duplicate", "--category", "BGS-NB", "--date", "2021-02-01",
        "--secrecy", "internal", "--title", "内部纪要", "--volume", "BGS-2021-02", user="arch")
    inner = json.loads(cli("volume", "show", "BGS-2021-02", "--json", user="arch").output)["items"][0]["id"]
    r = cli("mv", inner, "--volume", "PUB", user="arch", ok=False)
    assert r.exit_code == 2 and "cannot go into the public volume" in r.output     # internal into public
    out = cli("mv", office["min"], "--volume", "BGS-2021-02", user="arch").output
    assert "moved from volume BGS-2021-01 to BGS-2021-02" in out
    changes = [json.loads(x) for x in cli("versions", office["min"], "--json", user="arch").output.splitlines()][-1]
    assert changes["changes"]["volume"] == {"from": "BGS-2021-01", "to": "BGS-2021-02"}
    assert json.loads(cli("volume", "show", "BGS-2021-01", "--json", user="arch").output)["records"] == 2
    r = cli("mv", office["min"], "--volume", "NO-SUCH", user="arch", ok=False)
    assert r.exit_code == 4
