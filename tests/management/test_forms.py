"""Printable forms: each rendered to PDF, its text extracted (pdftotext, pypdf), its page drawn (pdftoppm),
its font embedded; printing is audited and shows only what the printing user may see."""
from __future__ import annotations

import json
import re
import subprocess

import pytest
from PIL import Image

from conftest import Cli
from ocfl_helpers import assert_store_valid
from cli_helpers import audit


def pdf_text(path) -> str:
    """The text pdftotext reads, whitespace removed (CJK table cells wrap and space unevenly)."""
    out = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True).stdout
    return "".join(out.split())


def lines_of(path) -> list[str]:
    out = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True).stdout
    return [" ".join(x.split()) for x in out.splitlines() if x.strip()]


def ink(path, tmp_path) -> float:
    """The share of dark pixels on page 1 drawn by pdftoppm: a page whose font did not embed draws blank."""
    stem = tmp_path / path.stem
    subprocess.run(["pdftoppm", "-r", "50", "-f", "1", "-l", "1", "-png", str(path), str(stem)], check=True)
    png = next(tmp_path.glob(f"{path.stem}-*.png"))
    img = Image.open(png).convert("L")
    dark = sum(img.histogram()[:128])
    return dark / (img.width * img.height)


def embedded_fonts(path) -> list[tuple[str, bool]]:
    """(font name, embedded?) for every font the PDF uses, by pypdf."""
    from pypdf import PdfReader
    out = []
    for page in PdfReader(path).pages:
        for font in page["/Resources"]["/Font"].values():
            font = font.get_object()
            fd = font.get("/FontDescriptor")
            if fd is None and "/DescendantFonts" in font:
                fd = font["/DescendantFonts"][0].get_object().get("/FontDescriptor")
            fd = fd.get_object() if fd is not None else {}
            out.append((str(font["/BaseFont"]), any(k in fd for k in ("/FontFile", "/FontFile2", "/FontFile3"))))
    return out


@pytest.fixture(scope="module")
def office(tmp_path_factory):
    from dangan.core.archive import Archive
    from dangan.core.kernel.actor import Actor
    base = tmp_path_factory.mktemp("forms")
    root = base / "archive"
    Archive.init(root, fonds="Z109", name="测试公司", actor=Actor("tester", "tester")).close()
    cli = Cli(root)
    cli("user", "add", "boss", "--clearance", "top-secret", user="x")
    for name, role, clearance in (("arch", "archivist", "top-secret"), ("head", "department-head", "internal"),
                                  ("mgr", "manager", "top-secret"), ("clerk", "staff", "public")):
        cli("user", "add", name, "--role", role, "--dept", "BGS", "--clearance", clearance, user="boss")
    cli("volume", "create", "BGS-2021-01", "--secrecy", "internal", "--title", "2021年办公室文件", user="arch")
    ids = {}
    # filed out of date order: the contents list must follow the volume's order (by date), numbered 1..n
    for key, title, date, extra in (("req", "关于购置档案柜的请示", "2021-03-05", ("--meta", "pages=3")),
                                    ("rep", "关于购置档案柜的批复", "2021-03-20", ("--meta", "pages=1")),
                                    ("min", "2021年第一次办公会议纪要", "2021-01-10", ("--secrecy", "internal"))):
        p = base / f"{key}.txt"
        p.write_text(f"表单测试 {title}", encoding="utf-8")
        ids[key] = json.loads(cli("ingest", p, "--category", "WS", "--dept", "BGS", "--retention", "D10",
                                  "--date", date, "--title", title, "--volume", "BGS-2021-01", *extra, "--json",
                                  user="arch").output)["record_id"]
    old = base / "old.txt"
    old.write_text("过期文件", encoding="utf-8")
    ids["old"] = json.loads(cli("ingest", old, "--category", "WS", "--dept", "BGS", "--retention", "D10",
                                "--date", "2010-01-01", "--title", "2010年过期通知", "--json",
                                user="arch").output)["record_id"]
    yield cli, ids, base
    assert_store_valid(root / "store")


def test_the_contents_list_is_in_volume_order_numbered_and_embeds_its_font(office, tmp_path):
    cli, ids, _ = office
    pdf = tmp_path / "contents.pdf"
    cli("print", "contents-list", "BGS-2021-01", "-o", pdf, user="arch")
    text = pdf_text(pdf)
    assert "卷内文件目录" in text and "2021年办公室文件" in text
    order = [text.index(t) for t in ("2021年第一次办公会议纪要", "关于购置档案柜的请示", "关于购置档案柜的批复")]
    assert order == sorted(order)                                   # by date, not by filing
    rows = [x for x in lines_of(pdf) if re.search(r"\b2021-\d\d-\d\d\b", x) and x.split()[0].isdigit()]
    assert [r.split()[0] for r in rows] == ["1", "2", "3"]          # item numbers, gap-free
    assert "第1页共1页" in text
    fonts = embedded_fonts(pdf)
    assert fonts and all(embedded for _name, embedded in fonts if "CJK" in _name)
    assert any("NotoSerifCJK" in name or "CJK" in name for name, _ in fonts)
    assert ink(pdf, tmp_path) > 0.01                                # the page is drawn, not blank


def test_reference_sheet_and_cover(office, tmp_path):
    cli, ids, _ = office
    sheet, cover = tmp_path / "sheet.pdf", tmp_path / "cover.pdf"
    cli("print", "reference-sheet", "BGS-2021-01", "-o", sheet, user="arch")
    text = pdf_text(sheet)
    assert "卷内备考表" in text and "3件" in text and "4页" in text       # 3 + 1 pages; the minutes have none
    assert "1件无页数" in text
    assert "立卷人（签字）" in text and "检查人（签字）" in text
    assert "arch" in text                                           # the filer: who created the volume
    cli("print", "cover", "BGS-2021-01", "-o", cover, user="arch")
    text = pdf_text(cover)
    for part in ("测试公司", "案卷", "2021年办公室文件", "Z109", "2021-01-10—2021-03-20", "internal"):
        assert part in text, part
    assert ink(cover, tmp_path) > 0.005


def test_labels_carry_a_barcode_of_the_record_id_and_the_stamp_its_fields(office, tmp_path):
    cli, ids, _ = office
    labels, stamp = tmp_path / "labels.pdf", tmp_path / "stamp.pdf"
    cli("print", "labels", "--volume", "BGS-2021-01", "-o", labels, user="arch")
    text = pdf_text(labels)
    for key in ("req", "rep", "min"):
        assert text.count(ids[key]) >= 1                            # the barcode's human-readable line
    codes = [json.loads(cli("show", ids[k], "--json", user="arch").output)["archival_code"] for k in ("req", "rep")]
    assert all(c in text for c in codes)
    assert ink(labels, tmp_path) > 0.005
    cli("print", "stamp", ids["req"], "-o", stamp, user="arch")
    lines = lines_of(stamp)
    assert "Z109 2021 " + codes[0].rsplit("-", 1)[1] in " ".join(lines)   # 全宗号 年度 件号
    assert "BGS" in pdf_text(stamp) and "3" in pdf_text(stamp)


def test_the_lending_slip_names_the_loan_and_has_lines_to_sign(office, tmp_path):
    cli, ids, _ = office
    loan = json.loads(cli("lend", "request", ids["req"], "--purpose", "核对采购依据", "--json", user="head").output)
    cli("lend", "approve", loan["loan"], user="mgr")
    slip = tmp_path / "slip.pdf"
    cli("lend", "slip", loan["loan"], "-o", slip, user="arch")
    text = pdf_text(slip)
    for part in ("档案借阅单", loan["loan"], "head", "核对采购依据", "关于购置档案柜的请示", "mgr",
                 "借阅人（签字）", "批准人（签字）", "经办人（借出）（签字）"):
        assert part in text, part
    same = tmp_path / "same.pdf"
    cli("print", "lending-slip", loan["loan"], "-o", same, user="arch")
    assert same.read_bytes() == slip.read_bytes()                   # invariant output: the same form, the same bytes


def test_the_destruction_list_and_certificate_have_lines_for_approvers_and_witnesses(office, tmp_path):
    cli, ids, _ = office
    lid = json.loads(cli("disposition", "propose", ids["old"], "--reason", "已无保存价值", "--json",
                         user="arch").output)["list"]
    listing = tmp_path / "list.pdf"
    cli("disposition", "show", lid, "--format", "pdf", "-o", listing, user="arch")
    text = pdf_text(listing)
    assert "档案销毁清册" in text and "2010年过期通知" in text and "已无保存价值" in text
    assert "鉴定小组（签字）" in text
    r = cli("print", "certificate", lid, "-o", tmp_path / "c.pdf", user="arch", ok=False)
    assert r.exit_code == 2 and "once executed" in r.output
    cli("disposition", "approve", lid, user="mgr")
    cli("disposition", "execute", lid, "--yes", user="arch")
    cert = tmp_path / "cert.pdf"
    cli("print", "certificate", lid, "-o", cert, user="arch")
    text = pdf_text(cert)
    assert "档案销毁证明" in text and "销毁1件" in text
    assert "监销人1（签字）" in text and "监销人2（签字）" in text and "批准人（签字）" in text
    sha = json.loads(cli("disposition", "show", lid, "--json", user="arch").output)["certificate"]["certificate_sha256"]
    assert sha in text


def test_reports_print_as_pdf(office, tmp_path):
    cli, ids, _ = office
    stats = tmp_path / "stats.pdf"
    cli("report", "stats", "--format", "pdf", "-o", stats, user="arch")
    assert "统计" in pdf_text(stats) and "BGS" in pdf_text(stats)
    r = cli("report", "stats", "--format", "pdf", user="arch", ok=False)
    assert r.exit_code == 2 and "-o FILE" in r.output
    insp = tmp_path / "inspection.pdf"
    cli("inspect", "report", "--format", "pdf", "-o", insp, user="arch")
    text = pdf_text(insp)
    assert "档案检查报告" in text and "fixity" in text and "检查人（签字）" in text


def test_printing_is_audited_and_shows_only_what_the_printer_may_see(office, tmp_path):
    cli, ids, _ = office
    pdf = tmp_path / "clerk.pdf"
    cli("print", "contents-list", "BGS-2021-01", "-o", pdf, user="clerk")          # public clearance
    text = pdf_text(pdf)
    assert "关于购置档案柜的请示" in text and "2021年第一次办公会议纪要" not in text  # the internal minutes
    events = [e for e in audit(cli, "form.print") if e["object"] == "BGS-2021-01"]
    assert {e["details"]["form"] for e in events} >= {"contents-list", "reference-sheet", "cover"}
    assert any(e["actor"] == "clerk" for e in events)
    r = cli("print", "contents-list", "NO-SUCH", "-o", pdf, user="arch", ok=False)
    assert r.exit_code == 4


def test_a_long_table_says_page_n_of_m_on_every_page(tmp_path):
    from pypdf import PdfReader

    from dangan.core.management.forms.report_table import report_table_form
    from dangan.core.management.forms import render_form
    rows = [{"序号": i, "题名": f"第{i}号文件 关于档案工作的通知"} for i in range(1, 121)]
    pdf = tmp_path / "long.pdf"
    pdf.write_bytes(render_form(report_table_form("长表", ["序号", "题名"], rows)))
    pages = len(PdfReader(pdf).pages)
    assert pages >= 3
    text = pdf_text(pdf)
    assert all(f"第{n}页共{pages}页" in text for n in range(1, pages + 1))
    assert "第120号文件" in text


def test_a_form_that_cannot_be_written_is_a_clear_error_and_leaves_no_part_file(office, tmp_path):
    cli, ids, _ = office
    r = cli("print", "cover", "BGS-2021-01", "-o", tmp_path / "no" / "such" / "cover.pdf", user="arch", ok=False)
    assert r.exit_code == 2 and "cannot write" in r.output
    full = tmp_path / "full"
    full.mkdir()
    r = cli("print", "cover", "BGS-2021-01", "-o", full, user="arch", ok=False)      # a folder, not a file
    assert r.exit_code == 2
    assert not list(full.iterdir()) and not list(tmp_path.glob(".*.part"))


def test_a_form_written_to_a_full_disk_says_so_and_leaves_nothing(office, tmp_path):
    import os
    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full")
    cli, ids, _ = office
    from dangan.cli.export_formats import write_bytes
    from dangan.errors import StorageFull
    d = tmp_path / "dev"
    d.mkdir()
    (d / ".cover.pdf.part").symlink_to("/dev/full")       # the part file's writes hit a full device
    with pytest.raises(StorageFull):
        write_bytes(b"%PDF-1.4 " * 1000, d / "cover.pdf", "cover")
    assert not (d / "cover.pdf").exists()
