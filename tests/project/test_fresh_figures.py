"""Figures that are right: the inspection report's bytes, problems and totals; the reference sheet; ``show``."""
from __future__ import annotations

import json
import re
import shutil

import pytest

from conftest import CORPUS, Cli
from ocfl_helpers import assert_store_valid


@pytest.fixture(scope="module")
def module_archive(tmp_path_factory):
    """A module-scoped archive factory (the tests of one fixture only read); stores validated at teardown."""
    from dangan.core.kernel.actor import Actor
    from dangan.core.archive import Archive
    made = []

    def make(name):
        base = tmp_path_factory.mktemp(name)
        root = base / "archive"
        Archive.init(root, fonds="Z109", name="测试公司", actor=Actor("tester", "tester")).close()
        made.append(root)
        return root, Cli(root), base
    yield make
    for root in made:
        assert_store_valid(root / "store")


def _ingest(cli, path, *args):
    return json.loads(cli("ingest", path, "--json", *args, user="arch").output.splitlines()[0])["record_id"]


@pytest.fixture(scope="module")
def inspected(module_archive):
    archive_root, cli, tmp_path = module_archive("inspected")
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
    from dangan.core.management.destruction import destroy_record
    arch = Archive(archive_root)
    destroy_record(arch, rg, reason="retention D10 expired", approved_by="总经理")
    arch.close()
    report = json.loads(cli("inspect", "report", "--format", "json", user="arch").output)
    return report, {"cli": cli, "a": ra, "b": rb, "gone": rg, "broken": rx, "broken_size": broken.stat().st_size}


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


def test_inspection_report_table_names_them_too(inspected):
    report, ids = inspected
    out = ids["cli"]("inspect", "report", user="arch").output
    assert ids["broken"] in out
    assert " 0 bytes" not in out


# -- the reference sheet (备考表) and the contents list take the extracted page count ----------------------------

@pytest.fixture(scope="module")
def four_pages_in_a_volume(module_archive):
    archive_root, cli, tmp_path = module_archive("pages")
    from cli_helpers import enable
    enable(archive_root, "general_office")
    pdf = CORPUS / "pdf-text" / "pdflatex-4-pages.pdf"
    note = tmp_path / "便函.txt"
    note.write_text("一页便函", encoding="utf-8")
    ids = [_ingest_plain(cli, src, "--category", "BGS-NB", "--date", "2021-03-01", "--volume", "V", "--create-volume")
           for src in (pdf, note)]
    return cli, ids


def _ingest_plain(cli, path, *args):
    return json.loads(cli("ingest", path, "--json", *args).output.splitlines()[0])["record_id"]


def test_the_reference_sheet_counts_the_extracted_pages(four_pages_in_a_volume):
    cli, _ = four_pages_in_a_volume
    out = cli("report", "reference_sheet", "--param", "volume=V", "--format", "json").output
    sheet = {r["项目"]: r["内容"] for r in json.loads(out)["rows"]}
    assert sheet["文件数 (documents)"] == 2
    assert sheet["页数 (pages)"] == 4
    assert "1 document(s) without a page count" in sheet["说明 (notes)"]      # the text file has none


def test_the_contents_list_shows_the_extracted_pages(four_pages_in_a_volume):
    cli, _ = four_pages_in_a_volume
    out = cli("report", "contents_list", "--param", "volume=V", "--format", "json").output
    rows = json.loads(out)["rows"]
    assert [r["页数"] for r in rows if "pdflatex" in r["题名"]] == ["4"]


# -- `show`: a label never runs into its value ---------------------------------------------------------------

def test_show_keeps_labels_and_values_apart(four_pages_in_a_volume):
    cli, (pdf_id, _) = four_pages_in_a_volume
    out = cli("show", pdf_id).output
    head = out.split("files:")[0].splitlines()
    pairs = [re.match(r"^(\S(?:.*?\S)?)\s{2,}(\S.*)$", line) for line in head]
    assert head and all(pairs), head
    labels = {m.group(1): m.group(2) for m in pairs}
    assert labels["meta x.pages"] == "4"
    assert labels["meta x.pdf_version"]
    assert labels["archival code"].startswith("Z109-")
    assert len({m.start(2) for m in pairs}) == 1            # the values start in one column
