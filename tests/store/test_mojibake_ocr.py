"""Issue 18.3: a PDF page whose text layer is mojibake (a CID font without a usable map) is OCR'd
instead, and the record says which pages were (``x.ocr_pages``; ``dangan show`` prints them)."""
from __future__ import annotations

import json
import os
import subprocess
import sys

from conftest import CORPUS


def dangan(root, *args, env=None):
    return subprocess.run([sys.executable, "-m", "dangan", "--archive", str(root), "--as", "tester", *map(str, args)],
                          capture_output=True, text=True, env=env, timeout=600)


def test_a_mojibake_page_is_ocrd_and_the_record_names_it(archive_root, tmp_path):
    # pdftotext as on a machine without poppler-data's CMaps: it gives nothing, so pypdf's mojibake is all the
    # text layer offers; pdftoppm still renders the page, so the page is OCR'd instead
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "pdftotext").write_text("#!/bin/sh\nexit 0\n")
    (bin_dir / "pdftotext").chmod(0o755)
    env = {k: v for k, v in os.environ.items() if not k.startswith("DANGAN_")}
    env["PATH"] = f"{bin_dir}{os.pathsep}{env['PATH']}"
    r = dangan(archive_root, "ingest", CORPUS / "pdf-cjk" / "issue3521.pdf", "--json", env=env)
    assert r.returncode == 0, r.stderr
    rid = json.loads(r.stdout.splitlines()[0])["record_id"]
    shown = json.loads(dangan(archive_root, "show", rid, "--json").stdout)
    assert shown["metadata"]["x.ocr_pages"] == "[1]" and shown["extraction"]["status"] == "ok"
    assert "OCR'd pages" in dangan(archive_root, "show", rid).stdout
    text = json.loads(dangan(archive_root, "search", "黑体字", "--json").stdout.splitlines()[0])
    assert text["record_id"] == rid                      # found by the OCR'd text (Traditional 黑體字 read)
