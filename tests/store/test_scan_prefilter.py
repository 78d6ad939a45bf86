"""The batch-scan check asks libmagic only about files that could be a PDF or a TIFF: every corpus file libmagic
calls one passes the byte pre-check, so no batch scan is missed by it."""
from __future__ import annotations

from pathlib import Path

from dangan.core.store import mime as mimes
from dangan.core.store.scan_batch import _may_be_scan

DATA = Path(__file__).resolve().parents[1] / "data"


def test_every_pdf_and_tiff_libmagic_names_passes_the_pre_check():
    scans = others = 0
    for path in sorted(p for p in DATA.rglob("*") if p.is_file()):
        head = path.read_bytes()[:1024 * 1024]
        if mimes.by_bytes(head) in ("application/pdf", "image/tiff"):
            assert _may_be_scan(head), path
            scans += 1
        elif not _may_be_scan(head):
            others += 1
    assert scans > 10 and others > 100       # PDFs and TIFFs were met, and most other files skip libmagic
