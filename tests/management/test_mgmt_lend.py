"""The lending register through the CLI: limits, approval, item-by-item return, overdue, no re-lending."""
from __future__ import annotations

import csv
import datetime as dt
import io
import json

import pytest

from cli_helpers import audit, enable


@pytest.fixture
def office(cli, archive_root, tmp_path):
    enable(archive_root, "customer_confidentiality")
    cli("user", "add", "boss", "--clearance", "top-secret", user="x")
    for name, role, dept in (("arch", "archivist", "BGS"), ("head", "department-head", "BGS"),
                             ("zhead", "department-head", "ZLB"), ("mgr", "manager", "BGS"),
                             ("clerk", "staff", "BGS")):
        cli("user", "add", name, "--role", role, "--dept", dept, "--clearance", "internal", user="boss")
    ids = {}
    for key, args in (("kx", ("--category", "KX-YB", "--meta", "customer_name=张三")),
                      ("ws", ("--category", "WS", "--dept", "BGS", "--retention", "D10")),
                      ("ws2", ("--category", "WS", "--dept", "BGS", "--retention", "D10"))):
        p = tmp_path / f"{key}.txt"
        p.write_text(f"借阅测试 {key}", encoding="utf-8")
        ids[key] = json.loads(cli("ingest", p, *args, "--date", "2021-01-01", "--json", user="arch").output)["record_id"]
    return ids


def loan_of(cli, *args, user="clerk"):
    return json.loads(cli("lend", "request", *args, "--json", user=user).output)


def test_limit_approval_return_and_no_relending(cli, office):
    kx, ws, ws2 = office["kx"], office["ws"], office["ws2"]
    r = cli("lend", "request", kx, ws, "--purpose", "核对", "--days", "5", user="clerk", ok=False)
    assert r.exit_code == 2 and "past the lending limit of 3 days" in r.output
    assert cli("lend", "list", "--json", user="clerk").output == ""          # nothing was recorded
    loan = loan_of(cli, kx, ws, "--purpose", "核对客户资料")
    assert loan["days"] == 3 and loan["status"] == "requested"
    lid = loan["loan"]
    r = cli("lend", "approve", lid, user="clerk", ok=False)
    assert r.exit_code == 7 and "own loan" in r.output
    r = cli("lend", "approve", lid, user="zhead", ok=False)
    assert r.exit_code == 7 and "department-head of BGS" in r.output
    out = cli("lend", "approve", lid, user="head").output
    assert (dt.date.today() + dt.timedelta(days=3)).isoformat() in out
    r = cli("lend", "request", ws, "--purpose", "again", user="clerk", ok=False)
    assert r.exit_code == 2 and f"on loan {lid} already" in r.output
    r = cli("lend", "return", lid, ws, user="arch", ok=False)
    assert r.exit_code == 15 and "approved: nothing is out" in r.output           # approved, not yet issued
    r = cli("lend", "issue", lid, user="clerk", ok=False)
    assert r.exit_code == 7
    cli("lend", "issue", lid, ws, user="arch")
    r = cli("lend", "return", lid, kx, user="arch", ok=False)
    assert r.exit_code == 2 and "never issued" in r.output
    assert "issued in place" in cli("lend", "issue", lid, user="arch").output
    r = cli("lend", "issue", lid, user="arch", ok=False)
    assert "issued already" in r.output
    r = cli("lend", "return", lid, ws, user="clerk", ok=False)
    assert r.exit_code == 7
    r = cli("lend", "return", lid, ws, ws2, user="arch", ok=False)
    assert r.exit_code == 2 and f"record {ws2} was never lent on loan {lid}" in r.output
    state = json.loads(cli("lend", "list", "--json", user="arch").output)
    assert sorted(state["outstanding"]) == sorted([kx, ws])                  # the refused return changed nothing
    cli("lend", "return", lid, ws, "--condition", "完好", user="arch")
    r = cli("lend", "return", lid, ws, user="arch", ok=False)
    assert "returned already" in r.output
    assert "loan closed" in cli("lend", "return", lid, kx, user="arch").output
    state = json.loads(cli("lend", "list", "--json", user="arch").output)
    assert state["status"] == "returned" and state["outstanding"] == []
    assert [e["object"] for e in audit(cli, "lend.return")] == [ws, kx]
    assert len(audit(cli, "lend.approve")) == 1


def test_overdue_listing(cli, office):
    lid = loan_of(cli, office["ws"], "--purpose", "查考", "--days", "10")["loan"]
    cli("lend", "approve", lid, user="mgr")
    cli("lend", "issue", lid, user="arch")
    soon = (dt.date.today() + dt.timedelta(days=5)).isoformat()
    late = (dt.date.today() + dt.timedelta(days=11)).isoformat()
    assert cli("lend", "overdue", "--as-of", soon, "--json", user="arch").output == ""
    row = json.loads(cli("lend", "list", "--overdue", "--as-of", late, "--json", user="arch").output)
    assert row["id"] == lid
    assert row["days_overdue"] == 1 and row["outstanding"] == [office["ws"]]
    assert lid in cli("lend", "overdue", "--as-of", late, user="arch").output
    cli("lend", "return", lid, "--all", user="arch")
    assert cli("lend", "overdue", "--as-of", late, "--json", user="arch").output == ""


def test_outside_borrower_needs_letter_and_a_valid_id(cli, office):
    ws = office["ws"]
    r = cli("lend", "request", ws, "--purpose", "审计", "--borrower", "李四", "--unit", "某会计师事务所",
            user="clerk", ok=False)
    assert r.exit_code == 2 and "--letter" in r.output and "--id-number" in r.output
    r = cli("lend", "request", ws, "--purpose", "审计", "--borrower", "李四", "--unit", "某会计师事务所",
            "--letter", "介字2021-7号", "--id-number", "110105194912310021", user="clerk", ok=False)
    assert r.exit_code == 2 and "invalid resident ID number" in r.output
    loan = loan_of(cli, ws, "--purpose", "审计", "--borrower", "李四", "--unit", "某会计师事务所",
                   "--letter", "介字2021-7号", "--id-number", "11010519491231002X")
    assert loan["external_unit"] == "某会计师事务所" and loan["id_number"] == "110105********002X"
    cli("lend", "approve", loan["loan"], user="head")
    out = cli("lend", "register", "--format", "csv", user="arch").output
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [(r["borrower"], r["unit"], r["record"], r["approved_by"]) for r in rows] == [
        ("李四", "某会计师事务所", ws, "head")]


def test_unknown_borrower_and_records_above_clearance(cli, office, tmp_path):
    r = cli("lend", "request", office["ws"], "--purpose", "x", "--borrower", "ghost", user="arch", ok=False)
    assert r.exit_code == 4
    r = cli("lend", "request", office["ws"], "--purpose", "x", "--borrower", "head", user="clerk", ok=False)
    assert r.exit_code == 7 and "archivist" in r.output
    cli("user", "set", "clerk", "--clearance", "public", user="boss")
    r = cli("lend", "request", office["kx"], "--purpose", "x", user="clerk", ok=False)     # KX-YB is internal
    assert r.exit_code == 7 and "clearance" in r.output


def test_states_follow_request_approve_issue_return(cli, office):
    lid = loan_of(cli, office["ws"], "--purpose", "查考", "--days", "2")["loan"]
    r = cli("lend", "issue", lid, user="arch", ok=False)
    assert r.exit_code == 15 and "only an approved loan" in r.output
    cli("lend", "approve", lid, user="head")
    state = lambda: json.loads(cli("lend", "list", "--json", user="arch").output)["status"]  # noqa: E731
    assert state() == "approved"
    cli("lend", "issue", lid, user="arch")
    assert state() == "issued"
    cli("lend", "return", lid, "--all", user="arch")
    assert state() == "returned"
    ev = audit(cli, "record.lend")
    assert ev[0]["details"]["mode"] == "in-place" and ev[0]["details"]["loan"] == lid
    assert [e["object"] for e in audit(cli, "lend.issue")] == [lid]


def test_issue_copies_carry_the_loan(cli, office, tmp_path):
    from pypdf import PdfReader, PdfWriter
    w = PdfWriter()
    w.add_blank_page(width=595, height=842)
    with open(tmp_path / "scan.pdf", "wb") as f:
        w.write(f)
    (tmp_path / "photo.bin").write_bytes(b"\x00\x01binary")
    ids = []
    for name in ("scan.pdf", "photo.bin"):
        ids.append(json.loads(cli("ingest", tmp_path / name, "--category", "WS", "--dept", "BGS", "--retention",
                                  "D10", "--date", "2021-01-01", "--json", user="arch").output)["record_id"])
    ws, pdf, other = office["ws"], *ids
    lid = loan_of(cli, ws, pdf, other, "--purpose", "复制", "--days", "5")["loan"]
    cli("lend", "approve", lid, user="head")
    out = tmp_path / "copies"
    cli("lend", "issue", lid, "-o", out, user="arch")
    due = (dt.date.today() + dt.timedelta(days=5)).isoformat()
    text = (out / ws / "ws.txt").read_text(encoding="utf-8")
    assert text.startswith("[借阅复制件 借阅单 " + lid) and due in text.splitlines()[0]
    assert text.splitlines()[1] == "借阅测试 ws"
    meta = PdfReader(out / pdf / "scan.pdf").metadata
    assert meta["/DanganLoan"] == lid and meta["/DanganBorrower"] == "clerk" and meta["/DanganDue"] == due
    assert lid in PdfReader(out / pdf / "scan.pdf").pages[0].extract_text()     # drawn on the page
    assert (out / other / "photo.bin").read_bytes() == b"\x00\x01binary"
    assert lid in (out / other / "photo.bin.loan.txt").read_text(encoding="utf-8")
    loan = json.loads(cli("lend", "list", "--json", user="arch").output)
    files = {i["record_id"]: i["copy_files"] for i in loan["items"]}
    assert files[pdf]["scan.pdf"]["watermark"] == "pdf" and files[other]["photo.bin"]["watermark"] == "sidecar"
    assert all(i["issue_mode"] == "copy" for i in loan["items"])
    reg = cli("lend", "register", "--format", "csv", user="arch").output
    assert reg.count(",copy,") == 3
