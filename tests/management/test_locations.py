"""Physical locations: rooms → shelves → levels → boxes with barcodes; filling and moving boxes;
`dangan where ID` for a paper original (and whether it is out on loan); box labels; all audited."""
from __future__ import annotations

import json
import subprocess

import pytest

from cli_helpers import audit


@pytest.fixture
def office(cli, tmp_path):
    cli("user", "add", "boss", "--clearance", "top-secret", user="x")
    for name, role in (("arch", "archivist"), ("head", "department-head"), ("clerk", "staff")):
        cli("user", "add", name, "--role", role, "--dept", "BGS", "--clearance", "internal", user="boss")
    ids = []
    for i in range(3):
        p = tmp_path / f"{i}.txt"
        p.write_text(f"纸质原件 {i}", encoding="utf-8")
        ids.append(json.loads(cli("ingest", p, "--category", "WS", "--dept", "BGS", "--date", "2021-05-01",
                                  "--title", f"纸质文件{i}", "--json", user="arch").output)["record_id"])
    return ids


def test_the_tree_boxes_where_and_moves(cli, office, tmp_path):
    r = cli("box", "place", "room", "库房1", user="clerk", ok=False)
    assert r.exit_code == 7
    cli("box", "place", "room", "库房1", user="arch")
    cli("box", "place", "shelf", "A架", "--in", "库房1", user="arch")
    for level in ("1层", "2层"):
        cli("box", "place", "level", level, "--in", "库房1/A架", user="arch")
    r = cli("box", "place", "level", "3层", "--in", "库房1", user="arch", ok=False)
    assert r.exit_code == 2 and "goes in a shelf" in r.output
    out = cli("box", "create", "盒0001", "--in", "库房1/A架/1层", user="arch").output
    assert "barcode Z109-BOX-000001" in out
    cli("box", "fill", "Z109-BOX-000001", *office[:2], user="arch")
    w = json.loads(cli("where", office[0], "--json", user="clerk").output)
    assert [p["name"] for p in w["path"]] == ["库房1", "A架", "1层", "盒0001"] and w["barcode"] == "Z109-BOX-000001"
    assert "库房 库房1 → 架 A架 → 层 1层 → 盒 盒0001" in cli("where", office[0], user="clerk").output
    r = cli("where", office[2], user="clerk", ok=False)
    assert r.exit_code == 4 and "no paper original" in r.output
    cli("box", "move", "Z109-BOX-000001", "--to", "库房1/A架/2层", user="arch")
    w = json.loads(cli("where", office[1], "--json", user="clerk").output)
    assert w["box"] == "库房1/A架/2层/盒0001" and w["barcode"] == "Z109-BOX-000001"   # the records went along
    assert audit(cli, "box.move")[-1]["details"] == {**audit(cli, "box.move")[-1]["details"],
                                                     "from": "库房1/A架/1层/盒0001", "to": "库房1/A架/2层/盒0001"}
    listed = {r["id"]: r for r in map(json.loads, cli("box", "list", "--json", user="clerk").output.splitlines())}
    assert listed["库房1/A架/2层/盒0001"]["records"] == 2
    labels = tmp_path / "box.pdf"
    cli("box", "label", "Z109-BOX-000001", "-o", labels, user="arch")
    text = "".join(subprocess.run(["pdftotext", str(labels), "-"], capture_output=True, text=True,
                                  check=True).stdout.split())
    assert "Z109-BOX-000001" in text and "库房1/A架/2层/盒0001" in text and "2件" in text


def test_where_says_when_the_paper_original_is_out_on_loan(cli, office):
    cli("box", "create", "散盒", user="arch")
    cli("box", "fill", "散盒", office[0], user="arch")
    loan = json.loads(cli("lend", "request", office[0], "--purpose", "查阅原件", "--json", user="clerk").output)
    cli("lend", "approve", loan["loan"], user="head")
    cli("lend", "issue", loan["loan"], user="arch")
    w = json.loads(cli("where", office[0], "--json", user="clerk").output)
    assert w["on_loan"] == loan["loan"]
    report = json.loads(cli("inspect", "report", "--format", "json", user="arch").output)
    assert report["locations"]["boxes"] == 1 and report["locations"]["placed"] == 1
    assert report["locations"]["out_on_loan"] == [{"record_id": office[0], "box": "散盒", "loan": loan["loan"],
                                                   "borrower": "clerk", "due": w["out"]["due"]}]
    assert "paper out on loan" in cli("inspect", "report", user="arch").output
    cli("lend", "return", loan["loan"], "--all", user="arch")
    assert json.loads(cli("where", office[0], "--json", user="clerk").output)["on_loan"] is None


def test_a_paper_original_lent_leaves_its_box_and_comes_back_item_by_item(cli, office, tmp_path):
    cli("box", "create", "盒0002", user="arch")
    cli("box", "fill", "盒0002", office[0], office[1], user="arch")
    loan = json.loads(cli("lend", "request", office[0], office[1], office[2], "--purpose", "查阅原件", "--json",
                          user="clerk").output)["loan"]
    cli("lend", "approve", loan, user="head")
    out = cli("lend", "issue", loan, office[0], office[2], user="arch").output
    assert f"{office[0]}" in out and "借出" in out.splitlines()[0] + out.splitlines()[1]
    w = json.loads(cli("where", office[0], "--json", user="clerk").output)
    assert w["status"] == "借出" and w["out"]["loan"] == loan and w["out"]["borrower"] == "clerk"
    assert w["box"] == "盒0002" and w["out"]["due"]                  # its box is kept for its return
    shown = cli("where", office[0], user="clerk").output
    assert "借出" in shown and "clerk" in shown and w["out"]["due"] in shown
    still = json.loads(cli("where", office[1], "--json", user="clerk").output)
    assert still["status"] == "在库" and still["on_loan"] == loan      # approved, not yet handed out
    assert "在库" in cli("where", office[1], user="clerk").output
    cli("box", "create", "散盒", user="arch")
    r = cli("box", "fill", "散盒", office[0], user="arch", ok=False)     # what is out cannot be re-boxed
    assert r.exit_code == 2 and "借出" in r.output
    listed = {r["id"]: r for r in map(json.loads, cli("box", "list", "--json", user="clerk").output.splitlines())}
    assert listed["盒0002"]["records"] == 2 and listed["盒0002"]["out_on_loan"] == 1
    # a copy takes no paper out of the room
    cli("lend", "issue", loan, office[1], "-o", tmp_path / "copies", user="arch")
    assert json.loads(cli("where", office[1], "--json", user="clerk").output)["status"] == "在库"
    cli("lend", "return", loan, office[1], user="arch")
    other = json.loads(cli("lend", "request", office[1], "--purpose", "阅览电子件", "--json", user="clerk").output)["loan"]
    cli("lend", "approve", other, user="head")
    cli("lend", "issue", other, "--digital", user="arch")              # nor does the electronic record alone
    assert json.loads(cli("where", office[1], "--json", user="clerk").output)["status"] == "在库"
    report = json.loads(cli("inspect", "report", "--format", "json", user="arch").output)
    assert [o["record_id"] for o in report["locations"]["out_on_loan"]] == [office[0]]
    text = cli("inspect", "report", user="arch").output
    assert "借出" in text and office[0] in text
    cli("lend", "return", loan, office[0], user="arch")                # item by item: back in its box
    back = json.loads(cli("where", office[0], "--json", user="clerk").output)
    assert back["status"] == "在库" and back["out"] is None and back["box"] == "盒0002"
    assert audit(cli, "lend.return")[-1]["details"]["paper_back_in"] == "盒0002"
    assert audit(cli, "record.lend")[0]["details"]["paper_out_of"] == "盒0002"
    report = json.loads(cli("inspect", "report", "--format", "json", user="arch").output)
    assert report["locations"]["out_on_loan"] == []
