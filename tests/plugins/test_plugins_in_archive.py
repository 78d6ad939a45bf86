"""The plugins at work inside an archive, through the CLI: codes, alerts, approvals, ID checks, reports."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path



def configure(root: Path, text: str) -> None:
    cfg = root / "dangan.toml"
    cfg.write_text(cfg.read_text(encoding="utf-8").replace("[plugins]\n", "[plugins]\n" + text + "\n", 1)
                   if text.startswith("enabled") else cfg.read_text(encoding="utf-8") + "\n" + text + "\n",
                   encoding="utf-8")


def note(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def ingested(result) -> list[dict]:
    return [json.loads(line) for line in result.output.splitlines() if line.startswith("{")]


def test_dat22_archival_codes_count_from_0001_per_lowest_class(cli, tmp_path):
    common = ["--category", "WS", "--dept", "BGS", "--retention", "Y", "--json"]
    a = ingested(cli("ingest", note(tmp_path, "a.txt", "甲"), "--date", "2021-03-01", *common))[0]
    b = ingested(cli("ingest", note(tmp_path, "b.txt", "乙"), "--date", "2021-07-01", *common))[0]
    c = ingested(cli("ingest", note(tmp_path, "c.txt", "丙"), "--date", "2022-01-05", *common))[0]
    d = ingested(cli("ingest", note(tmp_path, "d.txt", "丁"), "--date", "2021-01-05", "--category", "WS",
                     "--dept", "BGS", "--retention", "D10", "--json"))[0]
    assert [a["archival_code"], b["archival_code"], c["archival_code"], d["archival_code"]] == [
        "Z109-WS·2021-Y-BGS-0001", "Z109-WS·2021-Y-BGS-0002", "Z109-WS·2022-Y-BGS-0001",
        "Z109-WS·2021-D10-BGS-0001"]
    shown = json.loads(cli("show", "Z109-WS·2021-Y-BGS-0002", "--json").output)
    assert shown["id"] == b["record_id"]


def test_codes_have_no_gaps_or_duplicates_under_concurrent_ingests(archive_root, tmp_path):
    procs = []
    for k in range(3):
        d = tmp_path / f"drop{k}"
        d.mkdir()
        for i in range(8):
            (d / f"{i}.txt").write_text(f"{k}-{i}", encoding="utf-8")
        procs.append(subprocess.Popen(
            [sys.executable, "-m", "dangan", "--archive", str(archive_root), "ingest", str(d), "--category", "WS",
             "--dept", "BGS", "--retention", "D30", "--date", "2023-06-01", "--json"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    codes = []
    for p in procs:
        out, err = p.communicate(timeout=240)
        assert p.returncode == 0, err
        codes += [json.loads(line)["archival_code"] for line in out.splitlines()]
    assert sorted(codes) == [f"Z109-WS·2023-D30-BGS-{n:04d}" for n in range(1, 25)]


def test_an_unknown_category_is_refused_and_nothing_is_archived(cli, tmp_path):
    r = cli("ingest", note(tmp_path, "x.txt", "x"), "--category", "NOPE", ok=False)
    assert r.exit_code == 2 and "NOPE" in r.output
    assert cli("ls", "--json").output == ""


def test_drug_quality_abnormal_information_raises_a_10_hour_alert(cli, archive_root, tmp_path):
    sink = tmp_path / "notified.json"
    script = note(tmp_path, "notify.py", f"import sys; open({str(sink)!r}, 'w').write(sys.stdin.read())")
    configure(archive_root, 'enabled = ["drug_quality"]')
    configure(archive_root, f'[alerts]\nnotify_command = "{sys.executable} {script}"')
    r = cli("ingest", note(tmp_path, "异常.txt", "批号20240101 含量不合格"), "--category", "ZL-YC",
            "--meta", "reported_by=李四", "--date", "2024-05-01", "--json")
    rid = ingested(r)[0]["record_id"]
    alerts = [json.loads(line) for line in cli("alerts", "--json").output.splitlines()]
    assert len(alerts) == 1 and alerts[0]["record_id"] == rid and alerts[0]["recipient"] == "manager"
    assert alerts[0]["notify_result"] == "sent"
    sent = json.loads(sink.read_text(encoding="utf-8"))
    assert sent["record_id"] == rid and sent["kind"] == "quality-abnormal"
    cli("alerts", "ack", alerts[0]["id"], user="经理")
    assert cli("alerts", "--json").output == ""
    actions = [json.loads(line)["action"] for line in cli("audit", "log", "--json", "--record", rid).output.splitlines()]
    assert actions == ["record.ingest", "alert.raise", "alert.notify", "alert.acknowledge"]
    ordinary = ingested(cli("ingest", note(tmp_path, "fg.txt", "法规"), "--category", "ZL-FG", "--json"))[0]
    assert ordinary["status"] == "archived" and cli("alerts", "--json").output == ""


def test_construction_records_stay_pending_and_hidden_until_the_project_manager_approves(cli, archive_root, tmp_path):
    configure(archive_root, 'enabled = ["construction"]')
    configure(archive_root, '[users."王经理"]\nroles = ["project-manager"]')
    src = note(tmp_path, "进度.txt", "三号楼主体结构完成")
    refused = cli("ingest", src, "--category", "SG-JD", ok=False)
    assert refused.exit_code == 10 and "valid_until" in refused.output
    rid = ingested(cli("ingest", src, "--category", "SG-JD", "--meta", "valid_until=2026-12-31", "--meta",
                       "custodian=赵工", "--meta", "secrecy=internal", "--secrecy", "internal", "--json"))[0]["record_id"]
    assert cli("ls", "--json", user="工人").output == ""
    assert cli("search", "主体结构", "--count", user="工人").output.strip() == "0"
    assert cli("show", rid, user="工人", ok=False).exit_code == 7
    assert json.loads(cli("ls", "--json", user="王经理").output)["status"] == "pending"
    denied = cli("approve", rid, user="工人", ok=False)
    assert denied.exit_code == 7
    cli("approve", rid, user="王经理")
    rec = json.loads(cli("show", rid, "--json", user="工人").output)
    assert rec["status"] == "active" and rec["version"] == 2
    assert cli("search", "主体结构", "--count", user="工人").output.strip() == "1"


def test_insurance_customer_id_numbers_are_checked_with_stdnum(cli, archive_root, tmp_path):
    configure(archive_root, 'enabled = ["insurance_customers"]')
    base = ["--category", "KH-TB", "--date", "2024-03-01",
            "--meta", "policyholder_name=张三", "--meta", "policyholder_sex=男",
            "--meta", "policyholder_birth_date=1980-01-01", "--meta", "policyholder_address=北京",
            "--meta", "policyholder_phone=13800000000", "--meta", "insured_name=张小",
            "--meta", "insured_sex=女", "--meta", "insured_birth_date=2010-01-01", "--json"]
    bad = cli("ingest", note(tmp_path, "bad.txt", "投保单 1"), *base, "--meta", "policyholder_id_number=110105198001010011",
              "--meta", "insured_id_number=110105201001010029", ok=False)
    assert bad.exit_code == 10 and "ID number" in bad.output
    wrong_sex = cli("ingest", note(tmp_path, "sex.txt", "投保单 2"), *base[:4], "--meta", "policyholder_sex=女",
                    *base[6:], "--meta", "policyholder_id_number=110105198001010016",
                    "--meta", "insured_id_number=110105201001010029", ok=False)
    assert wrong_sex.exit_code == 10 and "sex" in wrong_sex.output
    good = cli("ingest", note(tmp_path, "good.txt", "投保单 3"), *base, "--meta", "policyholder_id_number=110105198001010016",
               "--meta", "insured_id_number=110105201001010029")
    assert ingested(good)[0]["status"] == "archived"
    assert len(cli("ls", "--json").output.splitlines()) == 1


def test_a_broken_single_file_plugin_is_named_and_the_archive_keeps_working(cli, archive_root, tmp_path):
    (archive_root / "plugins" / "broken.py").write_text("def dangan_validate(record:\n", encoding="utf-8")
    r = cli("plugins", "list")
    assert "broken.py) not loaded: syntax error at line 1" in r.output
    assert ingested(cli("ingest", note(tmp_path, "ok.txt", "still fine"), "--json"))[0]["status"] == "archived"


def test_a_single_file_plugin_can_refuse_records(cli, archive_root, tmp_path):
    (archive_root / "plugins" / "no_drafts.py").write_text(
        "from dangan.plugins import hookimpl\n"
        "from dangan.plugins.types import error\n"
        "@hookimpl\n"
        "def dangan_validate(record, category):\n"
        "    if 'draft' in record.tags:\n"
        "        return [error('drafts are not archived', 'tags')]\n", encoding="utf-8")
    r = cli("ingest", note(tmp_path, "d.txt", "draft text"), "--category", "WS", "--dept", "BGS", "--tag", "draft",
            ok=False)
    assert r.exit_code == 10 and "drafts are not archived" in r.output
    assert cli("ls", "--json").output == ""
