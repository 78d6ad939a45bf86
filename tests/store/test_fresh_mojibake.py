"""CJK PDFs whose fonts need a predefined CMap: mojibake is detected and never recorded as text.

The mojibake here is real: pypdf has none of poppler-data's predefined CJK
CMaps, so its text layer of these corpus files is what a machine without
poppler-data gets.  A pdftotext/pdftoppm that output nothing stand in for
poppler without its data (rendering and text both need the CMap).
"""
from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from conftest import CORPUS, REGULATIONS
from dangan.plugins.builtin.extractors import ExtractOptions, extract
from dangan.plugins.builtin.extractors.mojibake import looks_like_mojibake, mojibake_score

NEEDS_CMAP = ["pdf-cjk/issue3521.pdf", "pdf-cjk/jo.pdf", "pdf-cjk/vertical.pdf"]


def _pypdf_text(rel: str) -> str:
    from pypdf import PdfReader
    logging.getLogger("pypdf").setLevel(logging.ERROR)
    return PdfReader(CORPUS / rel, strict=False).pages[0].extract_text()


@pytest.mark.parametrize("rel", NEEDS_CMAP)
def test_text_decoded_without_the_cmap_is_mojibake(rel):
    text = _pypdf_text(rel)
    assert text.strip()
    assert looks_like_mojibake(text), (rel, text[:60], mojibake_score(text))


@pytest.mark.parametrize("text", [
    REGULATIONS.read_text(encoding="utf-8")[:3000],                     # Traditional Chinese
    (CORPUS / "text" / "UDHR_first_article_all.txt").read_text(encoding="utf-8"),   # every script
    "东北电气发展股份有限公司 2018 年第一季度报告全文 第二节 公司基本情况",
    "わたくしといふ現象は 仮定された有機交流電燈の ひとつの青い照明です",
    "대한민국 헌법 제1조 대한민국은 민주공화국이다.",
    "The Crazy Ones. Here's to the crazy ones, the misfits, the rebels.",
    "合同编号 HT-2022-017：甲方 Alpha Trading Ltd. 与乙方签订 Python 软件服务合同。",
])
def test_clean_text_is_not_mojibake(text):
    assert not looks_like_mojibake(text), mojibake_score(text)


def test_pypdf_text_of_clean_cjk_pdfs_is_not_mojibake():
    for rel in ("pdf-cjk/issue-67-example.pdf", "pdf-cjk/issue2128r.pdf", "pdf-cjk/multilang.pdf"):
        assert not looks_like_mojibake(_pypdf_text(rel)), rel


@pytest.fixture
def poppler_without_cmaps(tmp_path, monkeypatch):
    """pdftotext and pdftoppm as on a machine without poppler-data: no text, no rendered page."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("pdftotext", "pdftoppm"):
        script = bin_dir / tool
        script.write_text("#!/bin/sh\necho \"Syntax Error: Missing language pack for 'Adobe-Japan1' mapping\" >&2\n"
                          "exit 0\n")
        script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")


@pytest.mark.parametrize("rel", NEEDS_CMAP)
def test_a_page_of_mojibake_is_marked_unreadable_not_recorded(rel, poppler_without_cmaps):
    result = extract(CORPUS / rel, "application/pdf", ExtractOptions())
    assert not looks_like_mojibake(result.text)
    assert result.text.strip() == ""
    assert result.status == "empty"
    assert result.metadata["unreadable_pages"] == [1]
    assert "unreadable" in result.message and "poppler-data" in result.message


def test_with_poppler_data_the_cjk_text_is_extracted():
    """poppler-data (scripts/install-system-deps) gives pdftotext the CMaps these fonts need."""
    assert Path("/usr/share/poppler/cMap/Adobe-Japan1").is_dir(), "poppler-data is not installed"
    for rel, phrase in (("pdf-cjk/issue3521.pdf", "我们都是黑体字"), ("pdf-cjk/jo.pdf", "現象"),
                        ("pdf-cjk/vertical.pdf", "日本語")):
        result = extract(CORPUS / rel, "application/pdf", ExtractOptions())
        assert phrase in "".join(result.text.split()), (rel, result.text[:80])
        assert "unreadable_pages" not in result.metadata
