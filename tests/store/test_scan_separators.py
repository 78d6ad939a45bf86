"""Issue 18.1: batch scans split at separator sheets (QR / Code 128 DANGAN-SEP, PATCH-T), by
`dangan ingest` and by the watched drop folder; the batch file itself is archived untouched."""
from __future__ import annotations

import io
import json

import pytest

from pypdf import PdfReader

from scan_helpers import dead_transient_folders, scanned_pdf, scanned_tiff, three_documents
from watch_helpers import folder, query, settled, sha512, wait_for, watching

FIELDS = ("--category", "WS", "--dept", "BGS", "--retention", "permanent", "--date", "2021-03-04")


def _show(cli, rid):
    return json.loads(cli("show", rid, "--json").output)


def _hits(cli, word):
    return {h["record_id"] for h in (json.loads(x) for x in cli("search", word, "--json").output.splitlines())
            if "record_id" in h}


def _pdfa_off(root):
    with open(root / "dangan.toml", "a", encoding="utf-8") as f:
        f.write('\n[pdfa]\nenabled = "off"\n')          # these tests are about splitting: spare the PDF/A runs


def _content(cli, tmp_path, rid):
    out = tmp_path / "got" / rid
    cli("get", rid, "-o", str(out))
    (f,) = [p for p in out.rglob("*") if p.is_file()]
    return f.read_bytes()


def test_a_batch_pdf_becomes_one_record_per_document_and_the_batch_is_kept(archive_root, cli, tmp_path):
    batch = scanned_pdf(three_documents(), tmp_path / "batch-0301.pdf")
    out = cli("ingest", str(batch), *FIELDS, "--json").output
    lines = [json.loads(x) for x in out.splitlines()]
    head, parts = lines[0], lines[1:]
    assert head["status"] == "archived" and "split into 3 record(s)" in head["message"]
    assert [p["status"] for p in parts] == ["archived"] * 3 and head["parts"] == [p["record_id"] for p in parts]
    rec = _show(cli, head["record_id"])
    assert "batch-scan" in rec["tags"] and rec["files"][0]["sha512"] == sha512(batch)
    assert rec["metadata"]["scan.separators"] == "3,5" and rec["metadata"]["scan.parts"] == "3"
    pages = []
    for n, p in enumerate(parts, 1):
        shown = _show(cli, p["record_id"])
        assert shown["metadata"]["scan.batch"] == head["record_id"] and shown["metadata"]["scan.part"] == f"{n}/3"
        assert "scan-part" in shown["tags"] and shown["category"] == "WS" and shown["archival_code"]
        assert shown["extraction"]["status"] == "ok", shown["extraction"]
        assert shown["metadata"]["x.pdfa"] == "PDF/A-2B"          # each document has its searchable PDF/A copy
        pages.append(shown["metadata"]["scan.pages"])
    assert pages == ["1-2", "4", "6-7"]                # the separator pages 3 and 5 are dropped
    assert _show(cli, parts[2]["record_id"])["metadata"]["batchno"] == "B-17"     # a META: barcode
    assert _hits(cli, "BRAVO") == {parts[1]["record_id"]}         # each document found by its own text
    assert _hits(cli, "CHARLIE") == {parts[2]["record_id"]}
    assert _hits(cli, "ALPHA") == {parts[0]["record_id"]}
    counts = [len(PdfReader(io.BytesIO(_content(cli, tmp_path, p["record_id"]))).pages) for p in parts]
    assert counts == [2, 1, 2]
    cli("check")


def test_a_tiff_batch_with_a_patch_t_sheet_and_a_damaged_page_is_split_all_the_same(archive_root, cli, tmp_path):
    _pdfa_off(archive_root)
    pages = three_documents() + [("qr", "PATCHT", "PATCH T"), ("text", ["DELTA MEMO", "fourth"])]
    batch = scanned_tiff(pages, tmp_path / "feeder.tif", damaged={1})
    lines = [json.loads(x) for x in cli("ingest", str(batch), *FIELDS, "--json").output.splitlines()]
    assert [x["status"] for x in lines] == ["archived"] * 5
    shown = [_show(cli, x["record_id"]) for x in lines[1:]]
    assert [s["metadata"]["scan.pages"] for s in shown] == ["1-2", "4", "6-7", "9"]
    from PIL import Image
    frames = [Image.open(io.BytesIO(_content(cli, tmp_path, x["record_id"]))).n_frames for x in lines[1:]]
    assert frames == [2, 1, 2, 1]                       # the noise-only page 2 stays in part 1
    assert _hits(cli, "DELTA") == {lines[4]["record_id"]}


def test_a_dh_barcode_files_the_document_into_that_volume(archive_root, cli, tmp_path):
    _pdfa_off(archive_root)
    cli("volume", "create", "Z109-WS·2021-Y-BGS-V7", "--secrecy", "public")
    pages = [("text", ["FIRST LETTER"]), ("qr", "DANGAN-SEP"), ("qr", "DH:Z109-WS·2021-Y-BGS-V7"),
             ("text", ["SECOND LETTER"])]
    lines = [json.loads(x) for x in cli("ingest", str(scanned_pdf(pages, tmp_path / "b.pdf")), *FIELDS,
                                        "--json").output.splitlines()]
    assert len(lines) == 3
    assert _show(cli, lines[1]["record_id"]).get("volume") != "Z109-WS·2021-Y-BGS-V7"
    assert _show(cli, lines[2]["record_id"])["volume"] == "Z109-WS·2021-Y-BGS-V7"


def test_a_scan_without_separators_stays_one_record(archive_root, cli, tmp_path):
    _pdfa_off(archive_root)
    pages = [("text", ["PLAIN ONE"]), ("text", ["PLAIN TWO"])]
    lines = [json.loads(x) for x in cli("ingest", str(scanned_pdf(pages, tmp_path / "p.pdf")), *FIELDS,
                                        "--json").output.splitlines()]
    assert len(lines) == 1 and lines[0]["parts"] == []
    assert "batch-scan" not in _show(cli, lines[0]["record_id"])["tags"]


def test_a_batch_dropped_into_a_watched_folder_is_split_and_searchable(archive_root, cli, tmp_path):
    drop = tmp_path / "drop"
    drop.mkdir()
    staged = scanned_pdf(three_documents(), tmp_path / "stack.pdf")
    digest = sha512(staged)
    with watching(archive_root, folder(drop, category="WS", department="BGS", retention="permanent",
                                       settle_seconds=0.3)) as w:
        staged.rename(drop / "stack.pdf")
        wait_for(lambda: (drop / "done" / "stack.pdf").exists(), what="the batch in done/")
        wait_for(lambda: settled(w), timeout=240, what="extraction and indexing of the parts")
        assert w.counts.archived == 4
    rows = query(archive_root, "SELECT id, main_sha512 FROM records ORDER BY rowid")
    assert len(rows) == 4 and rows[0][1] == digest
    batch_id = rows[0][0]
    parts = [r[0] for r in rows[1:]]
    assert all(_show(cli, p)["metadata"]["scan.batch"] == batch_id for p in parts)
    assert all(_show(cli, p)["metadata"]["x.pdfa"] == "PDF/A-2B" for p in parts)     # made by the deferred extractor
    assert _hits(cli, "BRAVO") == {parts[1]}
    assert query(archive_root, "SELECT outcome, record_id FROM watch_handoffs") == [("archived", batch_id)]


def test_paperless_ngx_patch_t_sample_is_split_at_its_separator_page(archive_root, cli, tmp_path):
    """The corpus's barcode-fax-image.pdf (paperless-ngx's own test sample): page 2 is a PATCH-T sheet."""
    from conftest import CORPUS
    _pdfa_off(archive_root)
    lines = [json.loads(x) for x in cli("ingest", str(CORPUS / "pdf-scanned" / "barcode-fax-image.pdf"), *FIELDS,
                                        "--json").output.splitlines()]
    assert len(lines) == 3 and lines[0]["parts"] == [lines[1]["record_id"], lines[2]["record_id"]]
    assert [_show(cli, x["record_id"])["metadata"]["scan.pages"] for x in lines[1:]] == ["1", "3"]
    assert _show(cli, lines[0]["record_id"])["metadata"]["scan.separators"] == "2"


def _parts_by_page(cli, archive_root, batch_sha):
    """The batch record's id and, for each of its parts, (scan.part, scan.pages)."""
    rows = query(archive_root, "SELECT id, main_sha512 FROM records ORDER BY rowid")
    (batch,) = [rid for rid, d in rows if d == batch_sha]
    parts = []
    for rid, _ in rows:
        meta = _show(cli, rid)["metadata"]
        if "scan.part" in meta:
            assert meta["scan.batch"] == batch
            parts.append((meta["scan.part"], meta["scan.pages"]))
    return batch, sorted(parts)


@pytest.mark.parametrize("crash", ["exit-after-publish", "rename:3", "rename:4", "rename:6"])
def test_a_kill_mid_batch_is_finished_by_recovery_each_page_in_exactly_one_part(archive_root, cli, tmp_path,
                                                                                  crash):
    """kill -9 after the batch record is published (before its catalogue rows), or while a part is published,
    or between two parts: the next command's recovery adopts what was published and makes the missing parts,
    once — every page of the scan ends in exactly one part record, and a second recovery makes nothing more."""
    import os
    import subprocess
    import sys
    _pdfa_off(archive_root)
    batch = scanned_pdf(three_documents(), tmp_path / "stack.pdf")
    env = {k: v for k, v in os.environ.items() if not k.startswith("DANGAN_")}
    if crash == "exit-after-publish":
        env["DANGAN_TEST_EXIT_AFTER_PUBLISH"] = "1"
    else:
        env["DANGAN_TEST_CRASH_AFTER"] = crash
    r = subprocess.run([sys.executable, "-m", "dangan", "--archive", str(archive_root), "--as", "tester", "ingest",
                        str(batch), *FIELDS], env=env, capture_output=True, timeout=600)
    assert r.returncode in (137, -9), r.stderr
    before = query(archive_root, "SELECT count(*) FROM records")[0][0]
    assert before < 4                                          # the crash left parts unmade
    cli("check")                                               # recovery: adopt, then make the missing parts
    assert dead_transient_folders() == []                      # the killed process's parts folder in /dev/shm is gone
    batch_id, parts = _parts_by_page(cli, archive_root, sha512(batch))
    assert parts == [("1/3", "1-2"), ("2/3", "4"), ("3/3", "6-7")]       # each page once; separators dropped
    assert "batch-scan" in _show(cli, batch_id)["tags"]
    assert query(archive_root, "SELECT count(*) FROM scan_splits") == [(0,)]
    cli("check")
    assert query(archive_root, "SELECT count(*) FROM records") == [(4,)]      # a second recovery adds nothing
    assert _hits(cli, "BRAVO") == {rid for (rid,) in query(
        archive_root, "SELECT id FROM records WHERE json_extract(metadata, '$.\"scan.part\"') = '2/3'")}
    r = cli("ingest", str(batch), *FIELDS, ok=False)
    assert r.exit_code == 5                                    # the same scan again: a duplicate, not lost


def test_a_batch_that_may_be_sealed_is_resumed_by_the_next_ingest_from_its_own_fields(archive_root, cli, tmp_path,
                                                                                      monkeypatch):
    """With a confidential volume in the archive a batch may be sealed: its split row keeps neither its name nor
    its fields; the next `dangan ingest` (of another file) resumes it with the batch record's own fields."""
    import os
    import subprocess
    import sys
    _pdfa_off(archive_root)
    monkeypatch.setenv("DANGAN_PASSPHRASE", "correct horse battery staple")
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "run"))
    cli("volume", "create", "SEALED", "--secrecy", "秘密")
    batch = scanned_pdf(three_documents(), tmp_path / "机密批次.pdf")
    env = {k: v for k, v in os.environ.items() if not k.startswith("DANGAN_")}
    env["DANGAN_TEST_CRASH_AFTER"] = "rename:4"                # the batch and part 1 published, part 1 not committed
    r = subprocess.run([sys.executable, "-m", "dangan", "--archive", str(archive_root), "--as", "tester", "ingest",
                        str(batch), *FIELDS, "--tag", "批次"], env=env, capture_output=True, timeout=600)
    assert r.returncode in (137, -9), r.stderr
    assert query(archive_root, "SELECT source_name, fields FROM scan_splits") == [("batch.pdf", "null")]
    other = tmp_path / "note.txt"
    other.write_text("an unrelated note", encoding="utf-8")
    cli("ingest", str(other), *FIELDS)                         # the next ingest run recovers first
    batch_id, parts = _parts_by_page(cli, archive_root, sha512(batch))
    assert parts == [("1/3", "1-2"), ("2/3", "4"), ("3/3", "6-7")]
    for rid, in query(archive_root, "SELECT id FROM records WHERE json_extract(metadata, '$.\"scan.batch\"') = ?",
                      batch_id):
        shown = _show(cli, rid)
        assert shown["category"] == "WS" and shown["department"] == "BGS" and shown["retention"] == "permanent"
        assert {"scan-part", "批次"} <= set(shown["tags"]) and "batch-scan" not in shown["tags"]
        assert not any(k.startswith("scan.") and k not in ("scan.batch", "scan.pages", "scan.part")
                       for k in shown["metadata"])
    assert query(archive_root, "SELECT count(*) FROM scan_splits") == [(0,)]


def test_a_sealed_batch_cut_short_by_a_kill_keeps_every_page_in_its_batch_record(archive_root, cli, tmp_path,
                                                                                  monkeypatch):
    """A sealed batch is not split again by recovery (its parts' links are sealed too): recovery settles the
    split all the same, says so in the audit trail, and the batch record holds every page."""
    import os
    import subprocess
    import sys
    _pdfa_off(archive_root)
    monkeypatch.setenv("DANGAN_PASSPHRASE", "correct horse battery staple")
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "run"))
    cli("volume", "create", "SEALED", "--secrecy", "秘密")
    batch = scanned_pdf(three_documents(), tmp_path / "secret-stack.pdf")
    env = {k: v for k, v in os.environ.items() if not k.startswith("DANGAN_")}
    env["DANGAN_TEST_CRASH_AFTER"] = "rename:4"
    r = subprocess.run([sys.executable, "-m", "dangan", "--archive", str(archive_root), "--as", "tester", "ingest",
                        str(batch), *FIELDS, "--volume", "SEALED"], env=env, capture_output=True, timeout=600)
    assert r.returncode in (137, -9), r.stderr
    cli("check")
    assert query(archive_root, "SELECT count(*) FROM scan_splits") == [(0,)]
    events = query(archive_root, "SELECT object, outcome, details FROM audit WHERE action = 'scan.split.resume'")
    assert len(events) == 1 and events[0][1] == "failure" and "sealed" in events[0][2]
    cli("volume", "unlock", "SEALED")
    try:
        out = tmp_path / "got"
        cli("get", events[0][0], "-o", str(out))
        (got,) = [p for p in out.rglob("*") if p.is_file()]
        assert got.read_bytes() == batch.read_bytes()          # every page, in the batch record
    finally:
        cli("volume", "lock")


@pytest.mark.parametrize("crash", ["rename:2", "rename:5"])
def test_a_watcher_killed_mid_batch_finishes_it_when_it_runs_again(archive_root, cli, tmp_path, crash):
    """`dangan watch --once` killed while the batch (rename:2) or its second part (rename:5) is written: the next
    watcher run adopts what was published, makes the missing parts once and moves the batch to done/."""
    import os
    import subprocess
    from watch_helpers import dangan
    _pdfa_off(archive_root)
    drop = tmp_path / "drop"
    drop.mkdir()
    batch = scanned_pdf(three_documents(), drop / "stack.pdf")
    digest = sha512(batch)
    run = dangan(archive_root, "watch", str(drop), "--once", "--category", "WS", "--dept", "BGS",
                 "--retention", "permanent", "--settle", "0.2")
    env = {k: v for k, v in os.environ.items() if not k.startswith("DANGAN_")}
    r = subprocess.run(run, env={**env, "DANGAN_TEST_CRASH_AFTER": crash}, capture_output=True, timeout=600)
    assert r.returncode in (137, -9), r.stderr
    assert query(archive_root, "SELECT count(*) FROM records")[0][0] < 4 and batch.exists()
    r = subprocess.run(run, env=env, capture_output=True, timeout=600)
    assert r.returncode == 0, r.stderr
    batch_id, parts = _parts_by_page(cli, archive_root, digest)
    assert parts == [("1/3", "1-2"), ("2/3", "4"), ("3/3", "6-7")]
    assert query(archive_root, "SELECT count(*) FROM records") == [(4,)]
    assert (drop / "done" / "stack.pdf").exists() and not batch.exists()
    assert "batch-scan" in _show(cli, batch_id)["tags"]        # not extracted: its parts carry the text
    assert _hits(cli, "CHARLIE") == {rid for (rid,) in query(
        archive_root, "SELECT id FROM records WHERE json_extract(metadata, '$.\"scan.part\"') = '3/3'")}


def test_a_split_under_way_in_a_live_process_is_left_to_it(archive_root, cli, tmp_path):
    """Recovery resumes only the splits of dead processes: a live one's row (here: this process) is left alone."""
    import os
    import socket
    _pdfa_off(archive_root)
    import sqlite3
    db = sqlite3.connect(archive_root / "catalogue.sqlite")
    with db:
        db.execute("INSERT INTO scan_splits (token, batch_id, source_name, fields, pid, host, started)"
                   " VALUES ('t1', NULL, 'x.pdf', '{}', ?, ?, '2026-01-01T00:00:00Z')",
                   (os.getpid(), socket.gethostname()))
    db.close()
    cli("check")
    assert query(archive_root, "SELECT token FROM scan_splits") == [("t1",)]


def test_a_batch_whose_ingest_failed_after_it_was_archived_is_left_to_recovery(archive_root, cli, tmp_path):
    """The batch's ingest raised, yet its record exists (a commit that failed after publishing was adopted): the
    split row is handed to recovery (pid 0), not forgotten; a batch that was never archived leaves no row."""
    from dangan.core.archive import Archive
    from dangan.core.catalogue.fields import RecordFields
    from dangan.core.kernel.actor import Actor
    from dangan.core.store import scan_resume
    a = Archive(archive_root, Actor("tester", "tester"))
    try:
        kept = scan_resume.begin(a, "x.pdf", RecordFields())
        gone = scan_resume.begin(a, "y.pdf", RecordFields())
        note = tmp_path / "note.txt"
        note.write_text("stands in for the adopted batch record", encoding="utf-8")
        cli("ingest", str(note), *FIELDS, "--meta", f"scan.split={kept}")
        scan_resume.batch_failed(a, kept)
        scan_resume.batch_failed(a, gone)
    finally:
        a.close()
    assert query(archive_root, "SELECT token, pid FROM scan_splits") == [(kept, 0)]
