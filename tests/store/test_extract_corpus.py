"""Text extraction on the real corpus (tests/data/corpus), through the worker.

Every corpus file goes through ``ExtractionWorker`` once (two workers side by
side, module-scoped), then each test checks one file's result: a status for
every file, the manifest's phrases in the extracted text, passwords, tags.
"""
from __future__ import annotations

import importlib.util
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from dangan.core.store.extraction import ExtractionWorker
from dangan.plugins.builtin.extractors import ExtractOptions

from conftest import CORPUS  # noqa: E402
from corpus_helpers import (BY_PATH, KNOWN_MISSES, NEEDS_PASSWORD, ROWS, normalise,  # noqa: F401
                            password, phrases)

STATUSES = {"ok", "empty", "not-ocred", "encrypted", "unsupported", "failed"}
TIMEOUT = 60

def options_for(row: dict, with_password: bool = False) -> ExtractOptions:
    langs = "chi_tra+chi_sim" if "chi_tra" in row["notes"] else "chi_sim+eng"    # as the manifest says
    return ExtractOptions(ocr_languages=langs, password=password(row) if with_password else None)


@pytest.fixture(scope="module")
def results() -> dict:
    """Every corpus file once through a worker, plus the encrypted PDFs with their password."""
    jobs = [(r["path"], r, False) for r in ROWS]
    jobs += [(r["path"] + "#password", r, True) for r in ROWS if Path(r["path"]).name in NEEDS_PASSWORD]
    halves = [jobs[0::2], jobs[1::2]]

    def run(batch):
        out = {}
        with ExtractionWorker(timeout=TIMEOUT, memory_mb=1024) as worker:
            for key, row, with_pw in batch:
                out[key] = worker.extract(CORPUS / row["path"], row["mime_expected"], options_for(row, with_pw))
        return out

    with ThreadPoolExecutor(2) as pool:
        merged: dict = {}
        for part in pool.map(run, halves):
            merged.update(part)
    return merged


@pytest.mark.parametrize("path", [r["path"] for r in ROWS])
def test_every_file_ends_with_a_status(results, path):
    result = results[path]
    assert result.status in STATUSES
    if result.status in ("failed", "unsupported", "encrypted", "not-ocred"):
        assert result.message, f"{path}: {result.status} without a message"
    if result.status == "failed":
        assert result.message.startswith("extraction failed: ")


PHRASE_CASES = [(r["path"], p) for r in ROWS for p in phrases(r) if Path(r["path"]).name not in NEEDS_PASSWORD]


@pytest.mark.parametrize("path,phrase", PHRASE_CASES, ids=[f"{p}:{q[:20]}" for p, q in PHRASE_CASES])
def test_manifest_phrase_is_extracted(results, path, phrase):
    if path in KNOWN_MISSES:
        pytest.xfail(KNOWN_MISSES[path])
    if path.endswith(".msg") and importlib.util.find_spec("olefile") is None:
        pytest.skip("olefile is not installed: .msg is reported unsupported")
    result = results[path]
    assert result.status == "ok", f"{path}: {result.status} {result.message}"
    assert normalise(phrase) in normalise(result.text), f"{phrase!r} not in {result.text[:300]!r}"


@pytest.mark.parametrize("name", sorted(NEEDS_PASSWORD))
def test_encrypted_pdf_needs_its_password(results, name):
    path = f"pdf-encrypted/{name}"
    assert results[path].status == "encrypted"
    assert "password" in results[path].message
    with_password = results[path + "#password"]
    if password(BY_PATH[path]):
        assert with_password.status == "ok", with_password.message
        assert with_password.metadata["encrypted"] is True
        for phrase in phrases(BY_PATH[path]):
            assert normalise(phrase) in normalise(with_password.text)
    else:
        assert with_password.status == "encrypted"      # no published password: stays closed


def test_scans_are_flagged_as_ocr(results):
    assert results["pdf-scanned/linn.pdf"].ocr and results["pdf-scanned/linn.pdf"].metadata["ocr_pages"] == [1]
    assert results["images/multi-line_cn1.png"].ocr
    assert not results["pdf-text/crazyones.pdf"].ocr


def test_chinese_ocr_has_no_spaces_between_hanzi(results):
    text = results["images/multi-line_cn1.png"].text
    assert not re.search(r"[\u4e00-\u9fff] [\u4e00-\u9fff]", text)


def test_hostile_files_fail_with_a_reason(results):
    assert results["odd/decompression_bomb.gif"].status == "failed"
    assert "too large" in results["odd/decompression_bomb.gif"].message
    assert results["odd/poppler-85140-0.pdf"].status in ("failed", "empty")
    assert results["odd/empty.pdf"].status == "empty"
    assert results["images/sample.heic"].status == "unsupported"
    assert results["office/password_protected.xlsx"].status == "encrypted"
    assert results["odd/hugemono.pdf"].status in ("ok", "empty", "failed")


def test_media_metadata(results):
    mp3 = results["audio/chinese_id3.mp3"].metadata
    assert mp3["tag.artist"] == "苏云" and mp3["tag.title"] == "角落之歌" and mp3["tag.album"] == "角落之歌"
    ogg = results["audio/composer.ogg"].metadata
    assert ogg["samplerate"] == 44100 and ogg["channels"] == 2 and 3 < ogg["duration"] < 4
    mp4 = results["video/sample.mp4"].metadata
    assert (mp4["width"], mp4["height"]) == (190, 240) and (mp4["codec"], mp4["codec_id"]) == ("MPEG-4 Visual", "mp4v-20")
    assert results["video/png.mov"].metadata["width"] == 320
    assert results["video/sample.avi"].metadata["height"] == 60


def test_pdf_metadata_and_page_limits(results):
    meta = results["pdf-cjk/issue-67-example.pdf"].metadata
    assert meta["pages"] == 22 and meta["creator"] == "WPS Office" and meta["encrypted"] is False
    assert results["odd/pages-loop.pdf"].metadata["pages"] == 1


def test_email_metadata(results):
    meta = results["email/chinese_gb2312_encoding.eml"].metadata
    assert meta["subject"] == "Greeting in Chinese" and meta["date_iso"].startswith("2023-03-06")
    assert results["email/fake-email-attachment.eml"].metadata["attachments"] == ["fake-attachment.txt"]
    assert results["email/fake-email-utf-16-le.eml"].metadata["subject"] == "Test Email"
