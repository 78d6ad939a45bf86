"""The loan copy's mark: 借阅复制件 with the Chinese borrower's name, in an embedded CJK font, inside the page."""
from __future__ import annotations

import datetime as dt
import json
import re
import subprocess

import pytest
from pypdf import PdfReader, PdfWriter

from conftest import CORPUS, Cli
from ocfl_helpers import assert_store_valid

BORROWER = "王小明"


@pytest.fixture(scope="module")
def loan_copies(tmp_path_factory):
    """One archive, one loan of three records issued as copies (module-scoped: the tests only read)."""
    from dangan.core.kernel.actor import Actor
    from dangan.core.archive import Archive
    tmp_path = tmp_path_factory.mktemp("loan")
    root = tmp_path / "archive"
    Archive.init(root, fonds="Z109", name="测试公司", actor=Actor("tester", "tester")).close()
    cli = Cli(root)
    yield _issue(cli, tmp_path)
    assert_store_valid(root / "store")


def _issue(cli, tmp_path):
    cli("user", "add", "boss", "--clearance", "top-secret", user="x")
    for name, role in (("arch", "archivist"), ("head", "department-head"), (BORROWER, "staff")):
        cli("user", "add", name, "--role", role, "--dept", "BGS", "--clearance", "internal", user="boss")
    small = PdfWriter()
    small.add_blank_page(width=200, height=140)          # a small slip: the mark must still fit
    with open(tmp_path / "便条.pdf", "wb") as f:
        small.write(f)
    (tmp_path / "说明.txt").write_text("借阅测试正文", encoding="utf-8")
    sources = [CORPUS / "pdf-text" / "pdflatex-4-pages.pdf", tmp_path / "便条.pdf", tmp_path / "说明.txt"]
    ids = [json.loads(cli("ingest", src, "--category", "WS", "--dept", "BGS", "--retention", "D10", "--date",
                          "2021-01-01", "--json", user="arch").output)["record_id"] for src in sources]
    lid = json.loads(cli("lend", "request", *ids, "--purpose", "查考", "--days", "5", "--json",
                         user=BORROWER).output)["loan"]
    cli("lend", "approve", lid, user="head")
    out = tmp_path / "copies"
    cli("lend", "issue", lid, "-o", out, user="arch")
    due = (dt.date.today() + dt.timedelta(days=5)).isoformat()
    return {"lid": lid, "due": due, "four": out / ids[0] / "pdflatex-4-pages.pdf", "slip": out / ids[1] / "便条.pdf",
            "text": out / ids[2] / "说明.txt"}


def _flat(text: str) -> str:
    return re.sub(r"\s+", "", text)


def test_every_page_of_the_pdf_copy_carries_the_chinese_mark_as_text(loan_copies):
    for pdf in (loan_copies["four"], loan_copies["slip"]):
        reader = PdfReader(pdf)
        for page in reader.pages:
            text = _flat(page.extract_text())
            assert "借阅复制件" in text and f"借阅人{BORROWER}" in text, text[:200]
            assert loan_copies["lid"] in text and loan_copies["due"] in text
        assert reader.metadata["/DanganBorrower"] == BORROWER


def test_the_cjk_font_is_embedded(loan_copies):
    fonts = subprocess.run(["pdffonts", str(loan_copies["slip"])], capture_output=True, text=True, check=True)
    rows = [line.split() for line in fonts.stdout.splitlines()[2:]]
    assert rows and all(row[-5] == "yes" for row in rows), fonts.stdout       # "emb" column


@pytest.mark.parametrize("which", ["four", "slip"])
def test_the_mark_fits_on_the_page(loan_copies, which):
    pdf = loan_copies[which]
    boxes = subprocess.run(["pdftotext", "-bbox", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    pages = re.findall(r'<page width="([\d.]+)" height="([\d.]+)">(.*?)</page>', boxes, re.S)
    assert pages
    for width, height, body in pages:
        words = re.findall(r'xMin="([\d.-]+)" yMin="([\d.-]+)" xMax="([\d.-]+)" yMax="([\d.-]+)">([^<]*)<', body)
        mark = [w for w in words if w[4] in ("借阅复制件", BORROWER) or loan_copies["lid"] in w[4]]
        assert mark, body[:300]
        for x0, y0, x1, y1, _ in words:
            assert 0 <= float(x0) and float(x1) <= float(width) and 0 <= float(y0) and float(y1) <= float(height)


def test_the_text_copy_starts_with_the_chinese_mark(loan_copies):
    first, body = loan_copies["text"].read_text(encoding="utf-8").splitlines()[:2]
    assert first.startswith("[借阅复制件") and f"借阅人 {BORROWER}" in first and loan_copies["due"] in first
    assert body == "借阅测试正文"
