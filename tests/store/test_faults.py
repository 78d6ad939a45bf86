"""Bad input and faults: the whole corpus, hostile files, a full disk, concurrent writers."""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from conftest import CORPUS


def corpus_files() -> list[Path]:
    return sorted(p for p in CORPUS.rglob("*") if p.is_file() and "LICENSES" not in p.parts
                  and p.name not in ("MANIFEST.tsv", "README.md"))


def test_every_corpus_file_is_archived_or_refused_with_a_reason(cli, tmp_path):
    files = corpus_files()
    assert len(files) >= 121
    r = cli("ingest", *files, "--allow-duplicate", "--json", ok=False)
    assert r.exit_code in (0, 13), r.output[-2000:]          # 13: only empty files are refused (README exit codes)
    outcomes = [json.loads(line) for line in r.output.splitlines() if line.startswith("{")]
    # a batch scan's documents are outcomes of their own (barcode-fax-image.pdf has a PATCH-T sheet: issue 18.1)
    outcomes = [o for o in outcomes if " [part " not in o["source"]]
    assert len(outcomes) == len(files)
    for o in outcomes:
        assert o["status"] in ("archived", "refused"), o
        if o["status"] == "refused":
            assert o["message"], o
    refused = {Path(o["source"]).name for o in outcomes if o["status"] == "refused"}
    assert refused == {p.name for p in files if p.stat().st_size == 0}, "only empty files are refused"
    # everything archived comes back byte-identical
    for o in outcomes:
        if o["status"] == "archived":
            out = tmp_path / "out" / o["record_id"]
            cli("get", o["record_id"], "-o", out)
            src = Path(o["source"])
            assert hashlib.sha512((out / src.name).read_bytes()).digest() == hashlib.sha512(src.read_bytes()).digest()
    cli("check")


def test_disk_full_loses_nothing(tmp_path):
    """Ingest onto a 3 MiB filesystem until it is full: what was archived is intact, the rest is untouched."""
    if shutil.which("unshare") is None:
        pytest.fail("unshare (util-linux) is needed to mount a small filesystem for this test")
    script = tmp_path / "full.py"
    script.write_text(textwrap.dedent(f"""
        import json, os, subprocess, sys, hashlib
        sys.path.insert(0, {str(Path(__file__).parents[1])!r})
        from pathlib import Path
        from ocfl_helpers import assert_store_valid
        mnt = Path({str(tmp_path / 'mnt')!r}); mnt.mkdir()
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(mnt)], check=True)
        drop = Path({str(tmp_path / 'drop')!r}); drop.mkdir()
        for i in range(12):
            (drop / f"scan-{{i:02d}}.bin").write_bytes(os.urandom(400_000))
        def dangan(*a):
            return subprocess.run([sys.executable, "-m", "dangan", "--archive", str(mnt / "a"), "--as", "t", *a],
                                  capture_output=True, text=True)
        r = subprocess.run([sys.executable, "-m", "dangan", "init", str(mnt / "a"), "--fonds", "Z1"],
                           capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        r = dangan("ingest", str(drop), "--json")
        outcomes = [json.loads(l) for l in r.stdout.splitlines()]
        check = dangan("check")
        assert_store_valid(mnt / "a" / "store")
        got = []
        for o in outcomes:
            if o["status"] == "archived":
                g = dangan("get", o["record_id"], "-o", str(mnt / "a" / ".." / "out"))
                if g.returncode != 0:
                    got.append(("get-failed", g.stderr)); continue
        print(json.dumps({{"rc": r.returncode, "stderr": r.stderr, "outcomes": outcomes,
                          "check": check.returncode, "check_out": check.stdout + check.stderr,
                          "drop": sorted(os.listdir(drop))}}))
    """))
    argv = [sys.executable, str(script)]
    if os.geteuid() != 0:
        argv = ["unshare", "-rm"] + argv
    else:
        argv = ["unshare", "-m"] + argv
    p = subprocess.run(argv, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stdout + p.stderr
    res = json.loads(p.stdout.strip().splitlines()[-1])
    statuses = [o["status"] for o in res["outcomes"]]
    assert "archived" in statuses and "failed" in statuses, statuses
    failed = [o for o in res["outcomes"] if o["status"] == "failed"]
    assert all("disk full" in o["message"] for o in failed), failed
    assert "Traceback" not in res["stderr"]
    assert res["check"] == 0, res["check_out"]
    assert len(res["drop"]) == 12, "the originals stay where they were"


def test_parallel_ingests_from_processes_never_fail_or_duplicate(archive_root, tmp_path):
    drops = []
    for k in range(3):
        d = tmp_path / f"drop{k}"
        d.mkdir()
        for i in range(15):
            (d / f"f{i}.txt").write_text(f"process {k} file {i}", encoding="utf-8")
        drops.append(d)
    shared = tmp_path / "shared.txt"
    shared.write_text("the same file, given to three processes at once", encoding="utf-8")
    procs = [subprocess.Popen([sys.executable, "-m", "dangan", "--archive", str(archive_root), "ingest", str(d),
                               str(shared), "--json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for d in drops]
    results = [p.communicate(timeout=240) for p in procs]
    outcomes = [json.loads(line) for out, _ in results for line in out.splitlines()]
    assert all("Traceback" not in err and "locked" not in err for _, err in results), results
    assert sum(o["status"] == "archived" for o in outcomes) == 46
    shared_outcomes = [o for o in outcomes if o["source"] == str(shared)]
    assert sorted(o["status"] for o in shared_outcomes) == ["archived", "duplicate", "duplicate"]


def test_writers_to_one_object_are_serialised(archive):
    """Eight threads revise the same record at once: eight new versions, none lost."""
    from dangan.core.store.batch import ingest_batch
    from dangan.core.catalogue.fields import RecordFields
    from dangan.core.store.ingest import Ingestor
    from dangan.core.archive import Archive
    src = archive.root.parent / "base.txt"
    src.write_text("base", encoding="utf-8")
    rid = ingest_batch(archive, [src], RecordFields())[0].record_id
    errors = []

    def revise(i):
        a = Archive(archive.root, archive.actor)
        f = archive.root.parent / f"rev{i}.txt"
        f.write_text(f"revision {i}", encoding="utf-8")
        for _ in range(20):
            try:
                Ingestor(a).revise(rid, f, message=f"rev {i}")
                break
            except Exception as exc:  # the optimistic version check asks the loser to retry
                if "changed while revising" not in str(exc):
                    errors.append(exc)
                    break
        a.close()

    threads = [threading.Thread(target=revise, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert archive.record(rid).version == 9
    assert sorted(v["message"] for v in archive.versions(rid))[1:] == sorted(f"rev {i}" for i in range(8))
