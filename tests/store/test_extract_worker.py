"""The extraction worker's limits, and extractor behaviour that needs no corpus file."""
from __future__ import annotations

import os
import signal
import time
import zipfile

import pytest

from dangan.core.store.extraction import ExtractionWorker, extract_in_worker
from dangan.model import Extraction
from dangan.plugins.builtin.extractors import EXTRACTORS, ExtractOptions, extract
from dangan.plugins.builtin.extractors.ocr import clean_cjk_spaces
from dangan.plugins.builtin.extractors.text import decode_bytes

from conftest import CORPUS  # noqa: E402


# Test-only extractors, run inside the worker (top-level so the child can import them).
def hog_memory(path, mime, options):
    blocks = []
    while True:
        blocks.append(bytearray(50 * 1024 * 1024))


def spin(path, mime, options):
    while True:
        pass


def sleep_forever(path, mime, options):
    time.sleep(3600)


def crash(path, mime, options):
    os.kill(os.getpid(), signal.SIGSEGV)


def explode(path, mime, options):
    raise RuntimeError("boom")


def pid_of_worker(path, mime, options):
    return Extraction(text=str(os.getpid()))


@pytest.fixture
def sample(tmp_path):
    p = tmp_path / "a.bin"
    p.write_bytes(b"x")
    return p


def test_memory_limit_fails_cleanly(sample):
    with ExtractionWorker(timeout=30, memory_mb=300, extractor=hog_memory) as w:
        result = w.extract(sample, "application/x-test")
    assert result.status == "failed"
    assert "out of memory" in result.message and "300 MB" in result.message


def test_wall_clock_timeout_kills_the_worker(sample):
    started = time.monotonic()
    with ExtractionWorker(timeout=1.5, extractor=sleep_forever) as w:
        result = w.extract(sample, "application/x-test")
    assert result.status == "failed" and "timed out after 1.5 s" in result.message
    assert time.monotonic() - started < 10


def test_cpu_loop_is_stopped(sample):
    with ExtractionWorker(timeout=2, extractor=spin) as w:
        result = w.extract(sample, "application/x-test")
    assert result.status == "failed"
    assert "timed out" in result.message or "CPU time" in result.message


def test_crash_and_exception_become_failed(sample):
    with ExtractionWorker(timeout=30, extractor=crash) as w:
        result = w.extract(sample, "application/x-test")
    assert result.status == "failed" and "SIGSEGV" in result.message
    with ExtractionWorker(timeout=30, extractor=explode) as w:
        result = w.extract(sample, "application/x-test")
    assert result.status == "failed" and "RuntimeError: boom" in result.message


def test_worker_is_reused_and_replaced_after_a_failure(sample):
    with ExtractionWorker(timeout=30, extractor=pid_of_worker) as w:
        first = w.extract(sample, "application/x-test").text
        assert w.extract(sample, "application/x-test").text == first      # reused
        w._proc.kill()                                                     # dies between jobs
        w._proc.join()
        assert w.extract(sample, "application/x-test").text not in ("", first)


def test_batch_of_small_text_files_is_fast(tmp_path):
    files = []
    for i in range(300):
        p = tmp_path / f"{i}.txt"
        p.write_text(f"第{i}号文件 archive record {i}\n", encoding="gb18030" if i % 2 else "utf-8")
        files.append(p)
    started = time.monotonic()
    with ExtractionWorker() as w:
        results = [w.extract(p, "text/plain") for p in files]
    assert time.monotonic() - started < 5
    assert all(r.status == "ok" for r in results)
    assert "第7号文件" in results[7].text


def test_tesseract_missing_gives_not_ocred():
    opts = ExtractOptions(tesseract_cmd="/nonexistent/tesseract")
    image = extract_in_worker(CORPUS / "images/phototest.tif", "image/tiff", opts, timeout=60)
    assert image.status == "not-ocred"
    assert image.message == "not OCR'd: tesseract is not installed"
    assert image.metadata["width"] == 640
    scan = extract_in_worker(CORPUS / "pdf-scanned/linn.pdf", "application/pdf", opts, timeout=60)
    assert scan.status == "not-ocred" and "tesseract is not installed" in scan.message


def test_ocr_english_and_chinese_in_the_default_run():
    en = extract_in_worker(CORPUS / "images/phototest.tif", "image/tiff", ExtractOptions(), timeout=60)
    assert "12 point text" in en.text and en.ocr
    zh = extract_in_worker(CORPUS / "images/chi_sim_image.jpeg", "image/jpeg", ExtractOptions(), timeout=60)
    assert "适用人群" in zh.text


def test_unknown_mime_is_unsupported(sample):
    result = extract(sample, "application/x-unknown-thing", ExtractOptions())
    assert result.status == "unsupported" and "application/x-unknown-thing" in result.message


def test_text_is_capped(tmp_path):
    p = tmp_path / "long.txt"
    p.write_text("档案" * 5000, encoding="utf-8")
    result = extract(p, "text/plain", ExtractOptions(max_chars=100))
    assert len(result.text) == 100 and result.metadata["truncated"]


def test_zip_bomb_is_refused_before_inflating(tmp_path):
    p = tmp_path / "bomb.docx"
    with zipfile.ZipFile(p, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
        zf.writestr("word/document.xml", b"\0" * (20 * 1024 * 1024))
    mime = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    result = extract_in_worker(p, mime, ExtractOptions(max_unzipped_bytes=10 * 1024 * 1024), timeout=30)
    assert result.status == "failed" and "zip bomb" in result.message


def test_page_cap_is_respected():
    result = extract(CORPUS / "pdf-cjk/issue-67-example.pdf", "application/pdf", ExtractOptions(max_pages=3))
    assert result.metadata["pages"] == 3 and "first 3 pages" in result.message


@pytest.mark.parametrize("text,expected", [
    ("档 案 管 理", "档案管理"),
    ("中 华 人 民 共 和 国 ， 档 案 法", "中华人民共和国，档案法"),
    ("the quick brown fox", "the quick brown fox"),
    ("档案 archive 管理", "档案 archive 管理"),
])
def test_cjk_spaces_removed(text, expected):
    assert clean_cjk_spaces(text) == expected


@pytest.mark.parametrize("text,encoding", [
    ("档案管理办法第一条", "gb18030"), ("檔案管理辦法第一條", "big5"), ("中華民國", "big5"),
    ("中华人民共和国档案法", "gb18030"), ("Größe über café", "cp1252"), ("档案 ✓", "utf-8"),
    ("档案管理", "utf-16"), ("档案管理", "utf-32"),
])
def test_decode_bytes(text, encoding):
    assert decode_bytes(text.encode(encoding))[0] == text


def test_extractors_are_plain_functions():
    assert all(callable(fn) and fn.__name__.startswith("extract_") for fn in EXTRACTORS)
