"""Figures that are right: the inspection report's bytes, problems and totals; the reference sheet; ``show``."""
from __future__ import annotations

import json
import shutil

import pytest

from conftest import CORPUS


def _ingest(cli, path, *args):
    return json.loads(cli("ingest", path, "--json", *args, user="arch").output.splitlines()[0])["record_id"]


@pytest.fixture
def inspected(cli, archive_root, tmp_path):
    cli("user", "add", "boss", "--role", "manager", "--clearance", "top-secret", user="x")
    cli("user", "add", "arch", "--role", "archivist", "--clearance", "top-secret", user="boss")
    a = tmp_path / "a.txt"
    a.write_text("甲" * 100, encoding="utf-8")                       # 300 bytes
    b = tmp_path / "b.txt"
    b.write_text("second record, zlb", encoding="utf-8")             # 18 bytes
    gone = tmp_path / "gone.txt"
    gone.write_text("过期的合同" * 50, encoding="utf-8")               # 750 bytes, destroyed below
    broken = tmp_path / "损坏.pdf"
    shutil.copyfile(CORPUS / "pdf-broken" / "invalid.pdf", broken)
    ra = _ingest(cli, a, "--category", "WS", "--dept", "BGS", "--date", "2021-01-01")
    rb = _ingest(cli, b, "--category", "SX", "--dept", "ZLB", "--date", "2020-01-01")
    rg = _ingest(cli, gone, "--category", "WS", "--dept", "BGS", "--retention", "D10", "--date", "2010-01-01")
    rx = _ingest(cli, broken, "--category", "WS", "--dept", "BGS", "--date", "2021-02-01")
    from dangan.core.archive import Archive
    from dangan.core.destruction import destroy_record
    arch = Archive(archive_root)
    destroy_record(arch, rg, reason="retention D10 expired", approved_by="总经理")
    arch.close()
    report = json.loads(cli("inspect", "report", "--format", "json", user="arch").output)
    return report, {"a": ra, "b": rb, "gone": rg, "broken": rx, "broken_size": broken.stat().st_size}


def test_inspection_report_counts_the_bytes_of_each_department_year_and_category(inspected):
    report, ids = inspected
    by = {k: {row[k]: (row["records"], row["bytes"]) for row in rows} for k, rows in report["by"].items()}
    assert by["department"] == {"BGS": (2, 300 + ids["broken_size"]), "ZLB": (1, 18)}
    assert by["year"] == {"2020": (1, 18), "2021": (2, 300 + ids["broken_size"])}
    assert by["category"] == {"SX": (1, 18), "WS": (2, 300 + ids["broken_size"])}


def test_inspection_report_leaves_destroyed_records_out_of_every_total(inspected):
    report, ids = inspected
    assert report["records"] == 3
    assert sum(report["readability"]["extraction"].values()) == 3
    assert report["fixity"]["objects"] == 3
    assert ids["gone"] not in json.dumps(report)


def test_inspection_report_names_the_records_whose_extraction_failed(inspected):
    report, ids = inspected
    problems = report["readability"]["extraction_problems"]
    assert [p["record_id"] for p in problems] == [ids["broken"]]
    assert problems[0]["status"] == "failed" and problems[0]["message"]


def test_inspection_report_table_names_them_too(cli, inspected):
    report, ids = inspected
    out = cli("inspect", "report", user="arch").output
    assert ids["broken"] in out
    assert " 0 bytes" not in out
