"""The cached signature table (``pronom_table``): fido's answers without parsing fido's XML in each process.

Real files (every file of tests/data), fido's real signatures; the reference is fido loaded in full
(``pronom._identify_with_fido``).  The cache file is real JSON in a temporary ``XDG_CACHE_HOME``.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from dangan.core.store import pronom, pronom_table

DATA = Path(__file__).resolve().parents[1] / "data"


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    pronom_table.signature_table.cache_clear()
    yield tmp_path / "xdg" / "dangan"
    pronom_table.signature_table.cache_clear()


def test_every_corpus_file_is_identified_as_fido_identifies_it(cache):
    files = sorted(p for p in DATA.rglob("*") if p.is_file())
    assert len(files) > 300
    kinds = set()
    for path in files:
        ours = pronom.identify(path)
        assert ours == pronom._identify_with_fido(path, path.name), path
        kinds.add(ours.basis)
    assert {"signature", "container", "extension"} <= kinds
    assert len(list(cache.glob("pronom-*.json"))) == 1


def test_a_second_process_reads_the_table_and_never_parses_fido(cache, tmp_path):
    text = tmp_path / "note.txt"
    text.write_text("借阅登记 a plain note\n", encoding="utf-8")
    first = pronom.identify(text)
    assert first.puid == "x-fmt/111"
    pronom_table.signature_table.cache_clear()
    pronom.identifier.cache_clear()                 # as in a new process
    assert pronom.identify(text) == first
    assert pronom.identifier.cache_info().currsize == 0, "fido's XML was parsed although the table was cached"


def test_a_damaged_or_foreign_table_is_rebuilt(cache, tmp_path):
    text = tmp_path / "note.txt"
    text.write_text("plain\n", encoding="utf-8")
    expected = pronom.identify(text)
    (table,) = cache.glob("pronom-*.json")
    for damage in (b"{not json", json.dumps({"key": "another", "formats": []}).encode()):
        table.write_bytes(damage)
        pronom_table.signature_table.cache_clear()
        assert pronom.identify(text) == expected
        assert json.loads(table.read_text(encoding="utf-8"))["key"] == pronom_table.table_key()


def test_an_unwritable_cache_is_no_error(cache, tmp_path):
    if os.geteuid() == 0:
        cache.parent.mkdir(parents=True)
        cache.write_text("a file where the folder would be")     # root ignores permissions: block it so
    else:
        cache.parent.mkdir(parents=True)
        cache.parent.chmod(0o500)
    text = tmp_path / "note.txt"
    text.write_text("plain\n", encoding="utf-8")
    assert pronom.identify(text).puid == "x-fmt/111"
    assert not any(p.name.startswith("pronom-") for p in cache.parent.rglob("*"))
