"""The drop-folder watcher with a real watchdog observer on real files: pickup, completeness, hand-off."""
from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import pytest

from conftest import CORPUS
from watch_helpers import digests, folder, query, sha512, settled, wait_for, watching, write


@pytest.fixture
def drop(tmp_path) -> Path:
    d = tmp_path / "drop"
    d.mkdir()
    return d


def archived(root: Path, digest: str) -> list[str]:
    return [r[0] for r in query(root, "SELECT id FROM records WHERE main_sha512 = ?", digest)]


def test_a_dropped_file_is_archived_moved_to_done_and_searchable(archive_root, drop, cli):
    with watching(archive_root, folder(drop, category="WS", department="BGS", retention="permanent")) as w:
        f = write(drop / "会议纪要.txt", "2021年办公会议纪要：讨论档案管理制度。WATCHMARK")
        digest = sha512(f)
        wait_for(lambda: (drop / "done" / "会议纪要.txt").exists(), what="the file in done/")
        assert not f.exists()
        assert len(archived(archive_root, digest)) == 1
        wait_for(lambda: settled(w), what="extraction and indexing")
    assert sha512(drop / "done" / "会议纪要.txt") == digest
    rid = archived(archive_root, digest)[0]
    out = json.loads(cli("show", rid, "--json").output)
    assert out["category"] == "WS" and out["department"] == "BGS"
    assert out["extraction"]["status"] == "ok" and out["version"] == 2        # text added by a later version
    hits = [json.loads(line) for line in cli("search", "WATCHMARK", "--json").output.splitlines()]
    assert [h["record_id"] for h in hits if "record_id" in h] == [rid]
    cli("check")


def test_a_file_written_slowly_while_held_open_is_archived_once_and_complete(archive_root, drop):
    """A scanner writing page by page, pausing longer than the stability window with the file open."""
    target = drop / "scan.pdf"
    with watching(archive_root, folder(drop, settle_seconds=0.5)):
        with open(target, "wb") as fh:
            for i in range(5):
                fh.write(f"page {i} ".encode() * 2000)
                fh.flush()
                time.sleep(1.2)           # > settle_seconds: only the open file keeps it waiting
                assert not (drop / "done" / "scan.pdf").exists(), "a half-written file was taken"
        digest = sha512(target)
        wait_for(lambda: (drop / "done" / "scan.pdf").exists(), what="the complete file archived")
    assert archived(archive_root, digest) and len(query(archive_root, "SELECT id FROM records")) == 1


def test_a_file_appended_in_chunks_with_short_pauses_is_archived_once_complete(archive_root, drop):
    target = drop / "slow.txt"
    with watching(archive_root, folder(drop, settle_seconds=1.0)):
        for i in range(6):
            with open(target, "ab") as fh:          # opened and closed for every chunk
                fh.write(f"chunk {i} 档案 ".encode() * 500)
            time.sleep(0.3)
        digest = sha512(target)
        wait_for(lambda: (drop / "done" / "slow.txt").exists(), what="the file archived")
    assert digests(archive_root) == [digest]


def test_a_file_renamed_into_the_folder_is_taken(archive_root, drop, tmp_path):
    with watching(archive_root, folder(drop, settle_seconds=30)) as w:   # a rename needs no stability window
        part = write(drop / "report.pdf.part", "written under a temporary name " * 100)
        time.sleep(0.3)
        assert len(w.tracker) == 0
        os.rename(part, drop / "report.txt")
        outside = write(tmp_path / "elsewhere" / "moved.txt", "moved in from outside")
        os.rename(outside, drop / "moved.txt")
        # well before the 30 s window could pass: a rename (inside the folder or from outside) is complete
        wait_for(lambda: (drop / "done" / "report.txt").exists() and (drop / "done" / "moved.txt").exists(),
                 timeout=20, what="renamed files archived without waiting for the window")
    assert len(digests(archive_root)) == 2


def test_ignored_names_are_never_taken(archive_root, drop):
    ignored = ["a.part", "b.tmp", "~$c.docx", ".DS_Store", "Thumbs.db", ".hidden.txt", ".dir/inner.txt",
               "done/old.txt", "quarantine/bad.txt", "draft-1.txt"]
    for name in ignored:
        write(drop / name, f"ignored {name}")
    with watching(archive_root, folder(drop, exclude=("draft-*",))):
        write(drop / "marker.txt", "the one file to take")
        wait_for(lambda: (drop / "done" / "marker.txt").exists(), what="the marker archived")
    assert len(digests(archive_root)) == 1
    for name in ignored:
        assert (drop / name).exists(), name


def test_include_patterns_restrict_what_is_taken(archive_root, drop):
    with watching(archive_root, folder(drop, include=("*.pdf",), settle_seconds=0.3)):
        write(drop / "notes.txt", "not a pdf")
        write(drop / "scan.pdf", "%PDF-1.4 pretend")
        wait_for(lambda: (drop / "done" / "scan.pdf").exists(), what="the pdf taken")
    assert (drop / "notes.txt").exists()


def test_sub_folders_give_year_and_category(archive_root, drop, cli):
    with watching(archive_root, folder(drop, department="BGS", retention="permanent", pattern="{year}/{category}/",
                                       values={"category": {"文书": "WS"}})):
        f = write(drop / "2019" / "文书" / "通知.txt", "2019年的通知")
        digest = sha512(f)
        wait_for(lambda: (drop / "done" / "2019" / "文书" / "通知.txt").exists(), what="the file archived")
    rid = archived(archive_root, digest)[0]
    out = json.loads(cli("show", rid, "--json").output)
    assert (out["year"], out["category"]) == (2019, "WS")
    assert out["archival_code"].startswith("Z109-WS·2019-")


@pytest.mark.parametrize("name,content,reason", [
    ("empty.txt", b"", "empty file"),
    ("unknown.txt", b"a category nobody defines", "unknown category"),
])
def test_a_refused_file_is_quarantined_with_its_reason(archive_root, drop, name, content, reason):
    category = "ZZ" if name == "unknown.txt" else None
    with watching(archive_root, folder(drop, category=category, settle_seconds=0.3)):
        write(drop / name, content)
        write(drop / "sub" / "ok.txt", "fine") if category is None else None
        wait_for(lambda: (drop / "quarantine" / name).exists(), what="the file quarantined")
        error = (drop / "quarantine" / f"{name}.error.txt").read_text(encoding="utf-8")
        assert reason in error
        if category is None:
            wait_for(lambda: (drop / "done" / "sub" / "ok.txt").exists(), what="the watcher carrying on")
    assert not (drop / name).exists()
    assert query(archive_root, "SELECT count(*) FROM watch_handoffs WHERE outcome = 'refused'")[0][0] == 1


@pytest.mark.parametrize("mode", ["skip", "quarantine", "archive"])
def test_duplicates_per_mode(archive_root, drop, mode):
    with watching(archive_root, folder(drop, duplicates=mode, settle_seconds=0.3)):
        write(drop / "first.txt", "the same content")
        wait_for(lambda: (drop / "done" / "first.txt").exists(), what="the first copy archived")
        write(drop / "second.txt", "the same content")
        where = {"skip": "done", "quarantine": "quarantine", "archive": "done"}[mode]
        wait_for(lambda: (drop / where / "second.txt").exists(), what=f"the duplicate in {where}/")
    n = len(digests(archive_root))
    assert n == (2 if mode == "archive" else 1)
    if mode == "quarantine":
        assert "already archived as record" in (drop / "quarantine" / "second.txt.error.txt").read_text()


def test_files_waiting_at_start_are_caught_up(archive_root, drop):
    for i in range(20):
        write(drop / f"sub{i % 3}" / f"waiting-{i}.txt", f"waiting file {i}")
    with watching(archive_root, folder(drop)) as w:
        wait_for(lambda: len(digests(archive_root)) == 20 and not len(w.tracker), what="catch-up")
    assert not list((drop).glob("sub*/*.txt"))


def test_a_periodic_rescan_finds_files_whose_events_were_missed(archive_root, drop, monkeypatch):
    from dangan.core.watch.tracker import Events
    monkeypatch.setattr(Events, "dispatch", lambda self, event: None)        # every event is lost
    with watching(archive_root, folder(drop, settle_seconds=0.2), rescan_seconds=0.5):
        write(drop / "missed.txt", "an event nobody heard")
        wait_for(lambda: (drop / "done" / "missed.txt").exists(), what="the rescan")
    assert len(digests(archive_root)) == 1


def test_a_periodic_rescan_that_meets_a_busy_lock_does_not_stop_the_watcher(archive_root, drop, monkeypatch, caplog):
    import logging
    from dangan.core.store import recovery
    from dangan.errors import LockTimeout
    real, calls = recovery.recover_interrupted, []

    def busy(archive):
        calls.append(1)
        if len(calls) > 1:                       # the catch-up's recovery runs; every periodic one meets a busy lock
            raise LockTimeout("the catalogue is busy (test)")
        return real(archive)
    monkeypatch.setattr(recovery, "recover_interrupted", busy)
    caplog.set_level(logging.WARNING, logger="dangan.watch")
    with watching(archive_root, folder(drop, settle_seconds=0.2), rescan_seconds=0.3):
        wait_for(lambda: len(calls) >= 4, what="a few periodic rescans")
        write(drop / "after.txt", "filed after the rescans failed")
        wait_for(lambda: (drop / "done" / "after.txt").exists(), what="the file archived")
    assert len(digests(archive_root)) == 1
    assert "periodic rescan postponed" in caplog.text


def test_once_processes_what_is_waiting_and_exits(archive_root, drop, cli):
    for i in range(5):
        write(drop / f"f{i}.txt", f"once file {i} ONCEMARK")
    write(drop / "empty.txt", b"")
    r = cli("watch", str(drop), "--once", "--category", "WS", "--dept", "BGS", "--retention", "permanent")
    assert r.exit_code == 0
    assert len(digests(archive_root)) == 5 and (drop / "quarantine" / "empty.txt").exists()
    status = json.loads(cli("status", "--json").output)
    assert status["watcher"]["running"] is False and status["watcher"]["stale"] is False
    assert status["queues"]["to_extract"] == 0 and status["queues"]["to_index"] == 0
    assert status["errors"]["quarantined"] == 1
    assert "empty file" in status["errors"]["last_errors"][0]["reason"]
    hits = [json.loads(line) for line in cli("search", "ONCEMARK", "--json").output.splitlines()]
    assert len([h for h in hits if "record_id" in h]) == 5


def test_status_json_while_running(archive_root, drop, cli):
    with watching(archive_root, folder(drop)) as w:
        write(drop / "a.txt", "status file")
        wait_for(lambda: (drop / "done" / "a.txt").exists() and settled(w), what="archived")
        wait_for(lambda: json.loads(cli("status", "--json").output)["watcher"]["counts"].get("archived") == 1,
                 what="the heartbeat")
        status = json.loads(cli("status", "--json").output)
        assert status["watcher"]["running"] is True and status["watcher"]["pid"] == os.getpid()
        assert status["queues"]["folders"] == [{"path": str(drop.resolve()), "waiting": 0}]
        assert "watcher running" in cli("status").output
    assert json.loads(cli("status", "--json").output)["watcher"]["running"] is False


def test_a_second_watcher_is_refused(archive_root, drop, cli):
    with watching(archive_root, folder(drop)):
        r = cli("watch", str(drop), "--once", ok=False)
        assert r.exit_code == 9 and "already running" in r.output


def test_hostile_corpus_files_end_archived_or_quarantined_and_the_watcher_keeps_running(archive_root, drop):
    names = ["pdf-broken/bad1.pdf", "pdf-broken/append-xref-loop.pdf", "odd/pages-loop.pdf", "odd/empty.pdf",
             "odd/null", "images/balloon_trunc2.jp2", "pdf-cjk/multilang.pdf"]
    present = [n for n in names if (CORPUS / n).exists()]
    with watching(archive_root, folder(drop, settle_seconds=0.3)) as w:
        for n in present:
            shutil.copy(CORPUS / n, drop / Path(n).name)
        wait_for(lambda: all((drop / "done" / Path(n).name).exists() or (drop / "quarantine" / Path(n).name).exists()
                             for n in present), what="every hostile file handled", timeout=300)
        wait_for(lambda: settled(w), what="extraction of the hostile files", timeout=600)
        write(drop / "after.txt", "still running")
        wait_for(lambda: (drop / "done" / "after.txt").exists(), what="the watcher after the hostile files")
    for n in present:
        q = drop / "quarantine" / Path(n).name
        assert (drop / "done" / Path(n).name).exists() or Path(str(q) + ".error.txt").exists()
    assert all(r[0] is not None for r in query(archive_root, "SELECT extraction_status FROM records"))


def test_a_burst_of_small_files_is_archived_completely(archive_root, drop):
    n = 200
    with watching(archive_root, folder(drop, settle_seconds=0.3)) as w:
        expected = {sha512(write(drop / f"b{i // 50}" / f"burst-{i:04d}.txt", f"burst file {i} 档案")) for i in range(n)}
        wait_for(lambda: len(digests(archive_root)) >= n and settled(w), what="the burst", timeout=300)
    got = digests(archive_root)
    assert len(got) == n and set(got) == expected


@pytest.mark.slow
def test_a_burst_of_1000_small_files_none_lost_none_duplicated(archive_root, drop):
    n = 1000
    with watching(archive_root, folder(drop, settle_seconds=0.5)) as w:
        expected = {sha512(write(drop / f"burst-{i:04d}.txt", f"burst file {i} 档案 scan")) for i in range(n)}
        wait_for(lambda: len(digests(archive_root)) >= n and settled(w), what="the burst", timeout=900)
    got = digests(archive_root)
    assert len(got) == n and set(got) == expected
    assert not list(drop.glob("*.txt"))


def test_writers_and_readers_alongside_the_watcher_never_meet_lock_errors(archive_root, drop, tmp_path):
    import subprocess
    from watch_helpers import dangan
    other = tmp_path / "other"
    for i in range(30):
        write(other / f"cli-{i}.txt", f"cli file {i} 并行")
    watcher = subprocess.Popen(dangan(archive_root, "watch", str(drop), "--settle", "0.2"),
                               stderr=subprocess.PIPE, text=True)
    try:
        for i in range(60):
            write(drop / f"w-{i}.txt", f"watched file {i} 并行")
        ingest = subprocess.Popen(dangan(archive_root, "ingest", str(other)), stdout=subprocess.DEVNULL,
                                  stderr=subprocess.PIPE, text=True)
        searches = [subprocess.run(dangan(archive_root, "search", "并行", "--json"), capture_output=True, text=True)
                    for _ in range(5)]
        _, err = ingest.communicate(timeout=300)
        assert ingest.returncode == 0, err
        for s in searches:
            assert s.returncode == 0, s.stderr
        wait_for(lambda: len(digests(archive_root)) == 90, what="all 90 files archived", timeout=300)
    finally:
        watcher.terminate()
        _, werr = watcher.communicate(timeout=120)
    assert watcher.returncode == 0, werr
    assert "busy" not in werr and "Traceback" not in werr


def test_the_watcher_runs_its_thread_safely(archive_root, drop):
    """The deferred extractor has its own catalogue connection: ingest and extraction interleave freely."""
    with watching(archive_root, folder(drop, settle_seconds=0.1)) as w:
        for i in range(30):
            write(drop / f"t{i}.txt", f"interleaved {i}")
            time.sleep(0.02)
        wait_for(lambda: len(digests(archive_root)) == 30 and settled(w), what="all extracted")
    assert {r[0] for r in query(archive_root, "SELECT extraction_status FROM records")} == {"ok"}


def test_a_confidential_drop_folder_logs_no_names_and_extracts_at_archive_time(archive_root, drop, cli, monkeypatch,
                                                                               tmp_path, caplog):
    import logging
    monkeypatch.setenv("DANGAN_PASSPHRASE", "correct horse battery staple")
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "run"))
    cli("volume", "create", "V", "--secrecy", "秘密")
    caplog.set_level(logging.INFO, logger="dangan.watch")
    name = "FNAMEMARK-机密.txt"
    try:
        with watching(archive_root, folder(drop, volume="V", settle_seconds=0.3)) as w:
            assert w.folders[0].confidential
            write(drop / name, "SECRETWORDMARK 机密内容")
            write(drop / "EMPTYMARK.txt", b"")
            wait_for(lambda: (drop / "done" / name).exists() and (drop / "quarantine" / "EMPTYMARK.txt").exists(),
                     what="archived and quarantined")
            wait_for(lambda: settled(w), what="indexing")
        rows = query(archive_root, "SELECT sealed, extraction_status FROM records")
        assert len(rows) == 1 and rows[0][0] is not None
        assert not query(archive_root, "SELECT * FROM extraction_queue")
        assert query(archive_root, "SELECT path, sha512 FROM watch_handoffs WHERE outcome = 'archived'") == [("", None)]
        assert "MARK" not in caplog.text and "机密" not in caplog.text
        assert "archived a file as record" in caplog.text and "quarantined a file" in caplog.text
        reasons = " ".join(r[0] or "" for r in query(archive_root, "SELECT reason FROM watch_handoffs"))
        assert "MARK" not in reasons
        def found():
            return [h for h in (json.loads(line) for line in cli("search", "SECRETWORDMARK", "--json").output
                                .splitlines()) if "record_id" in h]
        assert not found()                                   # locked: no sealed text is searchable
        cli("volume", "unlock", "V")
        assert len(found()) == 1                             # unlocked: its text was extracted when archived
    finally:
        cli("volume", "lock")
