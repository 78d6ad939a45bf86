"""Piece counters (件号) that fall behind the records never wedge the archive (issue 12 item 4).

A counter behind the highest piece number is named by `check`; allocation never goes below the
records; a code already in use is a clear error before anything is published; an interrupted ingest
whose object holds a code taken meanwhile is adopted and reported, never a crash loop.
"""
from __future__ import annotations

import json
import os
from catalogue_helpers import raw_catalogue
import subprocess
import sys
from pathlib import Path

CODE = ["--category", "WS", "--dept", "BGS", "--retention", "Y", "--date", "2021-03-01", "--json"]
PREFIX = "Z109-WS·2021-Y-BGS-"


def note(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def ingest(cli, path: Path, ok: bool = True):
    r = cli("ingest", path, *CODE, ok=ok)
    lines = [json.loads(line) for line in r.output.splitlines() if line.startswith("{")]
    return r, lines


def sql(root: Path, statement: str, *params) -> list:
    conn = raw_catalogue(root)
    try:
        rows = conn.execute(statement, params).fetchall()
        conn.commit()
        return rows
    finally:
        conn.close()


def check_problems(cli) -> list[dict]:
    r = cli("check", "--json", ok=False)
    assert r.exit_code == 6, r.output
    return [json.loads(line) for line in r.output.splitlines() if line.startswith("{")]


def test_a_counter_behind_the_records_is_reported_and_never_reused(cli, archive_root, tmp_path):
    for i in range(7):
        ingest(cli, note(tmp_path, f"{i}.txt", f"第{i}件"))
    sql(archive_root, "UPDATE piece_counters SET last = 5")

    problems = check_problems(cli)
    assert any("piece counter" in p["message"] and "5" in p["message"] and "7" in p["message"] for p in problems)

    r, out = ingest(cli, note(tmp_path, "next.txt", "第八件"))
    assert out[0]["archival_code"] == PREFIX + "0008"
    codes = [c for (c,) in sql(archive_root, "SELECT archival_code FROM records ORDER BY archival_code")]
    assert codes == [PREFIX + f"{n:04d}" for n in range(1, 9)]
    assert sql(archive_root, "SELECT last FROM piece_counters") == [(8,)]
    cli("check")                                  # the allocation brought the counter back in line
    cli("rebuild-catalogue", "--yes")
    cli("check")


def test_a_code_already_in_use_is_refused_before_anything_is_published(cli, archive_root, tmp_path):
    """A catalogue whose record holds the code the counter would give next (its piece number lost)."""
    _, a = ingest(cli, note(tmp_path, "a.txt", "甲"))
    _, b = ingest(cli, note(tmp_path, "b.txt", "乙"))
    # b's row still holds code …0002 but no piece number: the counter and max(piece) both say 1
    sql(archive_root, "UPDATE records SET piece = NULL WHERE id = ?", b[0]["record_id"])
    sql(archive_root, "UPDATE piece_counters SET last = 1")
    objects_before = sorted(p.name for p in (archive_root / "store").rglob("0=ocfl_object_1.1"))

    r, out = ingest(cli, note(tmp_path, "c.txt", "丙"), ok=False)
    assert r.exit_code != 0 and out[0]["status"] == "refused", r.output
    assert "Traceback" not in r.output and PREFIX + "0002" in r.output and b[0]["record_id"] in r.output
    assert len(sorted(p.name for p in (archive_root / "store").rglob("0=ocfl_object_1.1"))) == len(objects_before)
    assert sql(archive_root, "SELECT count(*) FROM ingest_intents") == [(0,)]


def crash_after_publish(root: Path, path: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "DANGAN_TEST_EXIT_AFTER_PUBLISH": "1"}
    return subprocess.run([sys.executable, "-m", "dangan", "--archive", str(root), "--as", "tester", "ingest",
                           str(path), *CODE], capture_output=True, text=True, env=env, timeout=120)


def test_adopting_an_object_whose_code_was_taken_meanwhile_renumbers_it_once(cli, archive_root, tmp_path):
    """Its piece number went back with the rolled-back transaction and another writer took it: the adopted
    record gets the next one, in a new version whose metadata.json carries it (core/store/renumber.py)."""
    from dangan.core.kernel.actor import Actor
    from dangan.core.archive import Archive
    from dangan.core.catalogue.fields import RecordFields
    from dangan.core.store.ingest import Ingestor
    from dangan.core.kernel.pipeline import pipeline_for
    from dangan.core.store.layout import METADATA_PATH, parse_metadata

    ingest(cli, note(tmp_path, "a.txt", "甲"))
    proc = crash_after_publish(archive_root, note(tmp_path, "b.txt", "乙"))
    assert proc.returncode == 137, proc.stderr
    (intent,) = sql(archive_root, "SELECT object_id FROM ingest_intents")
    crashed = intent[0]

    # a writer whose recovery ran before the crash (another process of the batch) takes …0002 meanwhile
    a = Archive(archive_root, Actor("tester", "tester"))
    try:
        rec = Ingestor(a, **pipeline_for(a)).ingest(note(tmp_path, "c.txt", "丙"),
                                                   RecordFields(category="WS", department="BGS", retention="Y",
                                                                date="2021-03-01"))
    finally:
        a.close()
    assert rec.archival_code == PREFIX + "0002"

    import time
    deadline = time.monotonic() + 90                # on PostgreSQL the dead writer's lease ends first
    while sql(archive_root, "SELECT count(*) FROM ingest_intents") != [(0,)] and time.monotonic() < deadline:
        cli("check", "--json", ok=False)
        time.sleep(1)
    cli("check")                                    # nothing to report: renumbered, not left without a code
    assert sql(archive_root, "SELECT archival_code, piece, version FROM records WHERE id = ?", crashed) == \
        [(PREFIX + "0003", 3, 2)]
    assert sql(archive_root, "SELECT count(*) FROM records") == [(3,)]      # the crashed file is archived once
    events = sql(archive_root, "SELECT action, details FROM audit WHERE object = ? AND action IN"
                               " ('record.recover', 'record.renumber') ORDER BY seq", crashed)
    assert [e[0] for e in events] == ["record.recover", "record.renumber"]
    assert PREFIX + "0002" in events[1][1] and PREFIX + "0003" in events[1][1]
    a = Archive(archive_root, Actor("tester", "tester"))
    try:
        _rec, _names, cat = parse_metadata(a.store.read_bytes(crashed, METADATA_PATH), crashed)
    finally:
        a.close()
    assert (cat["piece_class"], cat["piece"]) == (sql(archive_root, "SELECT piece_class FROM records WHERE id = ?",
                                                      crashed)[0][0], 3)     # the store says so too

    _, d = ingest(cli, note(tmp_path, "d.txt", "丁"))
    assert d[0]["archival_code"] == PREFIX + "0004"
    r = cli("rebuild-catalogue", "--yes")
    assert "Traceback" not in r.output
    assert sql(archive_root, "SELECT count(*) FROM records") == [(4,)]
    assert sorted(r[0] for r in sql(archive_root, "SELECT piece FROM records")) == [1, 2, 3, 4]
    cli("check")
