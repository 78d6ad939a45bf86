"""Catalogue exports: ls, the lending register, holds, the audit log and reports as CSV (with a BOM, so
Excel on Chinese Windows reads the Chinese) and xlsx (read back with openpyxl); formulas never run."""
from __future__ import annotations

import csv
import io
import json

import pytest
from openpyxl import load_workbook

from conftest import Cli
from ocfl_helpers import assert_store_valid

BOM = b"\xef\xbb\xbf"


def sheet_rows(path) -> list[list]:
    wb = load_workbook(path, read_only=True)
    try:
        return [list(r) for r in wb.worksheets[0].iter_rows(values_only=True)]
    finally:
        wb.close()


def csv_rows(data: bytes) -> list[dict]:
    return list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"), newline="")))


@pytest.fixture(scope="module")
def office(tmp_path_factory):
    from dangan.core.archive import Archive
    from dangan.core.kernel.actor import Actor
    base = tmp_path_factory.mktemp("exports")
    root = base / "archive"
    Archive.init(root, fonds="Z109", name="测试公司", actor=Actor("tester", "tester")).close()
    cli = Cli(root)
    cli("user", "add", "boss", "--clearance", "top-secret", user="x")
    for name, role, clearance in (("arch", "archivist", "top-secret"), ("head", "department-head", "internal"),
                                  ("lawyer", "legal", "internal"), ("clerk", "staff", "public")):
        cli("user", "add", name, "--role", role, "--dept", "BGS", "--clearance", clearance, user="boss")
    ids = {}
    for key, title, secrecy, date in (("a", "关于档案数字化的通知", "public", "2021-04-01"),
                                      ("b", "=HYPERLINK(\"http://x\")", "public", "2021-04-02"),
                                      ("c", "内部工作简报", "internal", "2020-04-01")):    # its own volume
        p = base / f"{key}.txt"
        p.write_text(f"导出测试 {key}", encoding="utf-8")
        ids[key] = json.loads(cli("ingest", p, "--category", "WS", "--dept", "BGS", "--retention", "D10",
                                  "--date", date, "--title", title, "--secrecy", secrecy,
                                  "--meta", "doc_number=办发〔2021〕7号", "--json", user="arch").output)["record_id"]
    yield cli, ids, base
    assert_store_valid(root / "store")


def test_ls_exports_csv_with_a_bom_and_xlsx_with_the_chinese_text(office, tmp_path):
    cli, ids, _ = office
    out = tmp_path / "records.csv"
    cli("ls", "dept:BGS", "--format", "csv", "--output", out, user="arch")
    data = out.read_bytes()
    assert data.startswith(BOM)
    rows = {r["档案ID"]: r for r in csv_rows(data)}
    assert set(rows) == set(ids.values())
    assert rows[ids["a"]]["题名"] == "关于档案数字化的通知" and rows[ids["a"]]["文号"] == "办发〔2021〕7号"
    assert rows[ids["a"]]["档号"].startswith("Z109-WS")
    assert rows[ids["b"]]["题名"] == "'=HYPERLINK(\"http://x\")"       # not a formula in Excel
    piped = cli("ls", "--format", "csv", user="arch").stdout_bytes
    assert not piped.startswith(BOM) and "关于档案数字化的通知" in piped.decode("utf-8")
    book = tmp_path / "records.xlsx"
    cli("ls", "--format", "xlsx", "--output", book, user="arch")
    rows = sheet_rows(book)
    assert rows[0][:3] == ["档号", "档案ID", "题名"]
    titles = {r[1]: r[2] for r in rows[1:]}
    assert titles[ids["a"]] == "关于档案数字化的通知"
    wb = load_workbook(book)
    cells = [c for row in wb.active.iter_rows() for c in row if c.value == '=HYPERLINK("http://x")']
    assert cells and all(c.data_type == "s" for c in cells)               # stored as text, never a formula
    r = cli("ls", "--format", "xlsx", user="arch", ok=False)
    assert r.exit_code == 2 and "-o FILE" in r.output


def test_an_export_shows_only_what_the_user_may_see_and_is_audited(office, tmp_path):
    cli, ids, _ = office
    out = tmp_path / "clerk.csv"
    cli("ls", "--format", "csv", "--output", out, user="clerk")
    seen = {r["档案ID"] for r in csv_rows(out.read_bytes())}
    assert ids["a"] in seen and ids["c"] not in seen                         # internal: above a public clearance
    events = json.loads("[" + ",".join(cli("audit", "log", "--action", "export.table", "--actor", "clerk",
                                           "--json", user="boss").output.split("\n")[:-1]) + "]")
    assert events and events[-1]["details"]["format"] == "csv" and events[-1]["object"] == "records"


def test_registers_and_the_audit_log_export_with_filters(office, tmp_path):
    cli, ids, _ = office
    loan = json.loads(cli("lend", "request", ids["a"], "--purpose", "编研参考", "--json", user="clerk").output)
    cli("lend", "approve", loan["loan"], user="head")
    book = tmp_path / "register.xlsx"
    cli("lend", "register", "--format", "xlsx", "-o", book, user="arch")
    rows = sheet_rows(book)
    assert rows[0][0] == "loan" and any(r[0] == loan["loan"] and r[5] == "编研参考" for r in rows[1:])
    cli("hold", "add", ids["a"], "--reason", "审计调阅", "--authority", "审计部", user="lawyer")
    holds = tmp_path / "holds.csv"
    cli("hold", "list", "--format", "csv", "-o", holds, user="arch")
    held = csv_rows(holds.read_bytes())
    assert held[0]["reason"] == "审计调阅" and held[0]["authority"] == "审计部"
    log = tmp_path / "audit.xlsx"
    cli("audit", "log", "--actor", "clerk", "--action", "lend.request", "--format", "xlsx", "-o", log, user="boss")
    rows = sheet_rows(log)
    assert rows[0] == ["seq", "time", "actor", "action", "object", "outcome", "details"]
    assert len(rows) == 2 and rows[1][2] == "clerk" and "编研参考" in rows[1][6]
    today = rows[1][1][:10]
    assert cli("audit", "log", "--actor", "clerk", "--action", "lend.request", "--from", today, "--to", today,
               "--json", user="boss").output.strip()
    assert not cli("audit", "log", "--actor", "clerk", "--to", "2020-01-01", "--json", user="boss").output.strip()
    denied = cli("audit", "log", "--outcome", "denied", "--json", user="boss").output
    assert all(json.loads(x)["outcome"] == "denied" for x in denied.splitlines())
    stats = tmp_path / "stats.xlsx"
    cli("report", "stats", "--format", "xlsx", "-o", stats, user="arch")
    assert sheet_rows(stats)[0][0] == "department"


def test_ten_thousand_records_open_in_openpyxl_with_their_chinese_text(tmp_path):
    from dangan.core.management.spreadsheets import xlsx_bytes
    from dangan.core.service.sheets import RECORD_COLUMNS, record_row
    from dangan.model import Record
    recs = [Record(id=f"d{i:012d}", fonds="Z109", title=f"关于第{i}号档案的请示（附件）", department="BGS",
                   category="WS", year=2021, date="2021-04-01", retention="D10", archival_code=f"Z109-WS·2021-D10-BGS-{i:04d}",
                   metadata={"doc_number": f"办发〔2021〕{i}号"}) for i in range(1, 10_001)]
    book = tmp_path / "big.xlsx"
    book.write_bytes(xlsx_bytes([h for _, h in RECORD_COLUMNS], [record_row(r) for r in recs]))
    rows = sheet_rows(book)
    assert len(rows) == 10_001
    assert rows[1][2] == "关于第1号档案的请示（附件）" and rows[10_000][2] == "关于第10000号档案的请示（附件）"
    assert rows[5000][11] == "办发〔2021〕5000号"
