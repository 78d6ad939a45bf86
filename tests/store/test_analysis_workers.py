"""Content analysis in worker processes (``store/analysis``): the parent's answers, and nothing lost under kill -9.

Real ``ingest_batch`` / ``dangan ingest`` runs of more files than ``analysis.MIN_FILES`` (the batch size from
which workers start), real libmagic, fido signatures and text extraction, real forkserver processes; the
stores are validated with ocfl-py.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from pathlib import Path

from dangan.core.store import analysis
from ocfl_helpers import assert_store_valid

DATA = Path(__file__).resolve().parents[1] / "data"


def make_folder(folder: Path, n: int) -> dict[str, Path]:
    folder.mkdir()
    out = {}
    for i in range(n):
        p = folder / f"函件-{i:04d}.txt"
        p.write_text(f"第{i}号函件 worker analysis {i} " + "借阅登记" * (i % 9), encoding="utf-8")
        out[hashlib.sha512(p.read_bytes()).hexdigest()] = p
    for extra in (DATA / "corpus" / "pdf-text" / "crazyones.pdf", *sorted(DATA.rglob("*.docx"))[:1],
                  *sorted(DATA.rglob("*.csv"))[:1], *sorted(DATA.rglob("*.html"))[:1]):
        shutil.copy(extra, folder / extra.name)
        out[hashlib.sha512(extra.read_bytes()).hexdigest()] = folder / extra.name
    return out


def set_workers(root: Path, n: int) -> None:
    with open(root / "dangan.toml", "a", encoding="utf-8") as fh:
        fh.write(f"\n[ingest]\nworkers = {n}\n")


def catalogue(root: Path) -> list[tuple]:
    conn = sqlite3.connect(root / "catalogue.sqlite")
    try:
        return conn.execute("SELECT r.title, f.path, f.role, f.size, f.sha512, f.mime, f.mime_by_extension, "
                            "f.mime_mismatch, f.puid, f.format_name, f.format_basis FROM records r "
                            "JOIN files f ON f.record_id = r.id ORDER BY r.title, f.path").fetchall()
    finally:
        conn.close()


def texts(archive) -> dict[str, tuple]:
    """Each record's extraction info and stored text, by title (from the store, as search indexes it)."""
    from dangan.core.store.layout import read_metadata, text_path
    out = {}
    for rid, title in archive.conn.execute("SELECT id, title FROM records").fetchall():
        rec = read_metadata(archive.store, rid)
        main = rec.files[0].path
        try:
            text = archive.store.read_bytes(rid, text_path(main))
        except Exception:  # noqa: BLE001 - a file with no text derivative
            text = None
        info = {k: v for k, v in rec.extraction.items() if k != "seconds"}     # how long the PDF took varies
        out[title] = (json.dumps(info, sort_keys=True, ensure_ascii=False), text)
    return out


def test_workers_answer_as_the_parent_does(tmp_path, monkeypatch):
    from dangan.core.kernel.actor import Actor
    from dangan.core.archive import Archive
    from dangan.core.catalogue.fields import RecordFields
    from dangan.core.store.batch import ingest_batch

    files = make_folder(tmp_path / "drop", analysis.MIN_FILES + 12)
    answered = []
    call = analysis.Analyser.__call__

    def spy(self, path, name, identify):
        got = call(self, path, name, identify)
        answered.append(got is not None)
        return got

    monkeypatch.setattr(analysis.Analyser, "__call__", spy)
    results = {}
    for workers in (0, 2):
        root = tmp_path / f"archive-{workers}"
        Archive.init(root, fonds="Z109", name="测试", actor=Actor("tester", "tester")).close()
        set_workers(root, workers)
        with Archive(root, Actor("tester", "tester")) as a:
            out = ingest_batch(a, [tmp_path / "drop"], RecordFields())
            assert [o.status for o in out] == ["archived"] * len(files)
            results[workers] = (catalogue(root), texts(a))
        assert_store_valid(root / "store")
        if workers == 0:
            assert answered == [], "workers = 0 started analysis workers"
    assert len(answered) == len(files) and all(answered), "the files were not analysed in the workers"
    assert results[2][0] == results[0][0]                         # derivatives (the texts) included
    assert len([r for r in results[0][0] if r[2] != "derivative"]) == len(files)
    assert results[2][1] == results[0][1]
    assert any(t is not None for _e, t in results[2][1].values())     # text was extracted, not only compared empty


def _marked(marker: str) -> list[int]:
    """Processes (dangan, its forkserver, the analysis workers) whose environment carries ``marker``."""
    found = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                if marker.encode() in (d / "environ").read_bytes():
                    found.append(int(d.name))
            except OSError:
                continue
    return found


def test_kill_9_with_analysis_workers_loses_nothing_and_leaves_no_worker(tmp_path, archive_root):
    digests = make_folder(tmp_path / "drop", analysis.MIN_FILES + 30)
    set_workers(archive_root, 2)
    marker = f"DANGAN_TEST_MARK={uuid.uuid4().hex}"
    env = {**os.environ, marker.split("=")[0]: marker.split("=")[1], "DANGAN_TEST_CRASH_AFTER": "rename:80"}
    cmd = [sys.executable, "-m", "dangan", "--archive", str(archive_root), "--as", "tester", "ingest",
           str(tmp_path / "drop"), "--json"]
    r = subprocess.run(cmd, capture_output=True, text=True, env=env)
    assert r.returncode == -signal.SIGKILL, r.stdout + r.stderr      # killed inside the second group's publish
    deadline = time.monotonic() + 15
    while _marked(marker) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _marked(marker) == [], "analysis workers outlived the killed dangan"
    assert_store_valid(archive_root / "store")

    r = subprocess.run(cmd[:-1] + ["--json"], capture_output=True, text=True,
                       env={k: v for k, v in env.items() if k != "DANGAN_TEST_CRASH_AFTER"})
    assert r.returncode == 0, r.stdout + r.stderr
    statuses = [json.loads(line)["status"] for line in r.stdout.splitlines()]
    assert set(statuses) <= {"archived", "duplicate"} and len(statuses) == len(digests)
    conn = sqlite3.connect(archive_root / "catalogue.sqlite")
    rows = conn.execute("SELECT main_sha512, count(*) FROM records GROUP BY main_sha512").fetchall()
    conn.close()
    assert {d for d, _ in rows} == set(digests) and all(n == 1 for _, n in rows)   # each exactly once
    assert subprocess.run(cmd[:5] + ["check"], capture_output=True).returncode == 0
    assert not any((archive_root / ".work" / "staging").iterdir())


def test_one_file_ingest_loads_no_process_pool(tmp_path, archive_root):
    """A one-file ``dangan ingest`` is below MIN_FILES and its text is extracted in-process: it must not pay
    for importing concurrent.futures.process and multiprocessing (issue 15's one-file start-up), and the
    record is still archived with its text."""
    one = tmp_path / "一份后来的文件.txt"
    one.write_text("一份后来的文件：借阅登记。A late file.", encoding="utf-8")
    probe = ("import runpy, sys\n"
             "sys.argv = ['dangan', '--archive', sys.argv[1], '--as', 'tester', 'ingest', sys.argv[2], '--json']\n"
             "try:\n    runpy.run_module('dangan', run_name='__main__')\n"
             "except SystemExit as e:\n    assert not e.code, e.code\n"
             "print('MODULES', ' '.join(sorted(sys.modules)))\n")
    r = subprocess.run([sys.executable, "-c", probe, str(archive_root), str(one)], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    lines = r.stdout.splitlines()
    assert json.loads(lines[0])["status"] == "archived"
    loaded = set(lines[-1].split()[1:])
    assert "dangan.core.store.ingest" in loaded                 # the probe saw the ingest path itself
    assert not loaded & {"concurrent.futures.process", "multiprocessing"}, loaded & {
        "concurrent.futures.process", "multiprocessing"}
    from dangan.core.archive import Archive
    a = Archive.open(archive_root)
    try:
        (info, text), = texts(a).values()
    finally:
        a.close()
    assert "借阅登记" in text.decode("utf-8"), info             # extracted in-process, stored as before
