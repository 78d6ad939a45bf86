"""Issue 18.2: searchable PDF/A-2b copies of scans with OCRmyPDF, stored as a derivative in the
same OCFL version; the text search indexes comes from the same OCR run; sealed records only in a
memory-backed folder (or not at all)."""
from __future__ import annotations

import io
import json
import shutil
import subprocess

import pytest

from conftest import CORPUS
from scan_helpers import scanned_pdf

pytestmark = pytest.mark.skipif(shutil.which("gs") is None, reason="Ghostscript (OCRmyPDF's PDF/A) is not installed")

FIELDS = ("--category", "WS", "--dept", "BGS", "--retention", "permanent")


def ingest(cli, path, *extra):
    out = cli("ingest", str(path), *FIELDS, *extra, "--json").output
    return json.loads(out.splitlines()[0])["record_id"]


def stored(archive_root, rid):
    """(record from the store, {logical path: bytes} of its head version)."""
    from dangan.core.kernel.actor import Actor
    from dangan.core.archive import Archive
    a = Archive(archive_root, Actor("tester", "tester"))
    try:
        rec = a.record_from_store(rid)
        files = {f.logical_path: b"".join(a.store.read_chunks(rid, f)) for f in a.store.files(rid)}
        return rec, files
    finally:
        a.close()


def hits(cli, word):
    return {h["record_id"] for h in (json.loads(x) for x in cli("search", word, "--json").output.splitlines())
            if "record_id" in h}


def test_a_scanned_pdf_gets_a_checked_pdfa_copy_beside_the_untouched_original(archive_root, cli, tmp_path):
    from dangan.core.store.pdfa import verify
    pages = [("text", ["PDFA FOXTROT", "a scanned letter"]), ("text", ["SECOND PAGE GOLF"])]
    scan = scanned_pdf(pages, tmp_path / "letter.pdf")
    original = scan.read_bytes()
    rid = ingest(cli, scan)
    rec, files = stored(archive_root, rid)
    assert rec.version == 1 and files["letter.pdf"] == original        # the original stays the main file
    copy = files[".dangan/pdfa/letter.pdfa.pdf"]                        # in the same version as the text
    assert ".dangan/text/letter.pdf.txt" in files
    check = verify(copy)
    assert check["ok"], check["problems"]
    assert check["pdfa"] == "PDF/A-2B" and check["pages"] == 2
    import pikepdf
    with pikepdf.open(io.BytesIO(copy)) as pdf:
        meta = pdf.open_metadata()
        assert meta.get("pdfaid:part") == "2" and meta.get("pdfaid:conformance") == "B"
    from pypdf import PdfReader
    assert "FOXTROT" in PdfReader(io.BytesIO(copy)).pages[0].extract_text()
    (tmp_path / "copy.pdf").write_bytes(copy)
    text = subprocess.run(["pdftotext", str(tmp_path / "copy.pdf"), "-"], capture_output=True, text=True).stdout
    assert "FOXTROT" in text and "GOLF" in text
    # one OCR run: the indexed text is OCRmyPDF's sidecar, not a second Tesseract pass by the extractor
    assert rec.extraction["extractor"] == "ocrmypdf" and rec.extraction["ocr"]
    assert "FOXTROT" in files[".dangan/text/letter.pdf.txt"].decode()
    assert rec.metadata["x.pdfa"] == "PDF/A-2B" and rec.metadata["x.ocr_pages"] == "[1, 2]"
    assert hits(cli, "FOXTROT") == {rid}
    got = tmp_path / "got"
    cli("get", rid, "-o", str(got), "--with-text")
    assert (got / "letter.pdf").read_bytes() == original
    assert (got / ".dangan_pdfa_letter.pdfa.pdf").read_bytes() == copy
    cli("check")


def test_a_sideways_page_is_turned_upright_in_the_copy(archive_root, cli, tmp_path):
    from scan_helpers import compose, scanned_images
    lines = ["SIDEWAYS HOTEL"] + [f"line {i} of a long letter about records" for i in range(14)]
    im = scanned_images(compose([("text", lines)]))[0]
    im.rotate(90, expand=True).save(tmp_path / "turned.pdf", "PDF", resolution=150)
    rid = ingest(cli, tmp_path / "turned.pdf")
    _rec, files = stored(archive_root, rid)
    from pypdf import PdfReader
    page = PdfReader(io.BytesIO(files[".dangan/pdfa/turned.pdfa.pdf"])).pages[0]
    assert page.rotation % 180 == 90 or float(page.mediabox.width) < float(page.mediabox.height)
    assert "HOTEL" in page.extract_text()
    assert hits(cli, "HOTEL") == {rid}


def test_an_image_gets_a_pdfa_copy_and_a_text_pdf_does_not(archive_root, cli, tmp_path):
    rid = ingest(cli, CORPUS / "images" / "phototest.tif")
    rec, files = stored(archive_root, rid)
    assert ".dangan/pdfa/phototest.pdfa.pdf" in files and rec.metadata["x.pdfa"] == "PDF/A-2B"
    assert hits(cli, "quick") == {rid}                      # phototest: "This is a lot of 12 point text … quick brown"
    text_pdf = sorted((CORPUS / "pdf-text").glob("*.pdf"))[0]
    rid2 = ingest(cli, text_pdf)
    rec2, files2 = stored(archive_root, rid2)
    assert not any(p.startswith(".dangan/pdfa/") for p in files2) and "x.pdfa" not in rec2.metadata


def test_pdfa_off_keeps_the_ordinary_extractor(archive_root, cli, tmp_path):
    with open(archive_root / "dangan.toml", "a", encoding="utf-8") as f:
        f.write('\n[pdfa]\nenabled = "off"\n')
    rid = ingest(cli, scanned_pdf([("text", ["PLAIN INDIA"])], tmp_path / "s.pdf"))
    rec, files = stored(archive_root, rid)
    assert not any(p.startswith(".dangan/pdfa/") for p in files) and rec.extraction["extractor"] == "pdf"
    assert hits(cli, "INDIA") == {rid}


def _sealed_volume(cli, monkeypatch, tmp_path):
    monkeypatch.setenv("DANGAN_PASSPHRASE", "correct horse battery staple")
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "run"))
    cli("volume", "create", "SEALED", "--secrecy", "秘密")


def test_a_sealed_scan_without_a_memory_folder_gets_no_copy_and_says_so(archive_root, cli, tmp_path, monkeypatch):
    _sealed_volume(cli, monkeypatch, tmp_path)
    monkeypatch.setenv("DANGAN_MEMORY_TMP", str(tmp_path / "no-such-folder"))
    rid = ingest(cli, scanned_pdf([("text", ["SEALED JULIET"])], tmp_path / "secret.pdf"), "--volume", "SEALED")
    _rec, files = stored(archive_root, rid)
    assert not any(p.startswith(".dangan/pdfa/") for p in files)
    cli("volume", "unlock", "SEALED")
    try:
        shown = json.loads(cli("show", rid, "--json").output)
        assert "memory-backed folder" in shown["extraction"]["message"]
        assert shown["extraction"]["status"] == "ok"          # still OCR'd, through pipes, by the extractor
        assert hits(cli, "JULIET") == {rid}
    finally:
        cli("volume", "lock")


def test_a_sealed_scan_gets_an_encrypted_copy_made_in_memory(archive_root, cli, tmp_path, monkeypatch):
    _sealed_volume(cli, monkeypatch, tmp_path)
    memory = tmp_path / "memory"                              # stands in for /dev/shm: the only folder used
    memory.mkdir()
    disk = tmp_path / "disk-tmp"
    disk.mkdir()
    monkeypatch.setenv("DANGAN_MEMORY_TMP", str(memory))
    monkeypatch.setenv("TMPDIR", str(disk))
    import tempfile
    monkeypatch.setattr(tempfile, "tempdir", None)
    rid = ingest(cli, scanned_pdf([("text", ["SEALED KILO"])], tmp_path / "secret.pdf"), "--volume", "SEALED")
    assert list(disk.iterdir()) == [] and list(memory.iterdir()) == []     # nothing left behind, nothing on disk
    _rec, files = stored(archive_root, rid)
    (copy,) = [p for p in files if p.startswith(".dangan/pdfa/")]
    assert not files[copy].startswith(b"%PDF") and b"KILO" not in files[copy]     # ciphertext in the store
    cli("volume", "unlock", "SEALED")
    try:
        shown = json.loads(cli("show", rid, "--json").output)
        assert shown["metadata"]["x.pdfa"] == "PDF/A-2B" and shown["extraction"]["status"] == "ok"
        assert hits(cli, "KILO") == {rid}
    finally:
        cli("volume", "lock")


def test_revising_a_record_with_an_image_only_scan_makes_its_pdfa_copy_in_the_new_version(archive_root, cli,
                                                                                         tmp_path):
    """`dangan revise ID NEWSCAN`: the new version gets the scan's PDF/A copy and its OCR text, as ingest does;
    the first version (a born-digital text) keeps what it had."""
    from dangan.core.store.pdfa import verify
    first = tmp_path / "memo.txt"
    first.write_text("first draft of the memo", encoding="utf-8")
    rid = ingest(cli, first)
    scan = scanned_pdf([("text", ["REVISED HOTEL", "the signed memo"])], tmp_path / "memo-signed.pdf")
    cli("revise", rid, str(scan), "-m", "the signed paper copy")
    rec, files = stored(archive_root, rid)
    assert rec.version == 2
    copies = [p for p in files if p.startswith(".dangan/pdfa/")]
    assert copies == [".dangan/pdfa/memo-signed.pdfa.pdf"], sorted(files)
    check = verify(files[copies[0]])
    assert check["ok"], check["problems"]
    shown = json.loads(cli("show", rid, "--json").output)
    assert shown["metadata"]["x.pdfa"] == "PDF/A-2B" and rec.extraction["extractor"] == "ocrmypdf"
    assert hits(cli, "HOTEL") == {rid}                         # the new version's OCR text is searched
    _, v1 = stored_version(archive_root, rid, 1)
    assert not any(p.startswith(".dangan/pdfa/") for p in v1)
    cli("check")


def stored_version(archive_root, rid, version):
    from dangan.core.kernel.actor import Actor
    from dangan.core.archive import Archive
    a = Archive(archive_root, Actor("tester", "tester"))
    try:
        return None, {f.logical_path: f for f in a.store.files(rid, version)}
    finally:
        a.close()
