"""Issue 12.3: a missing, empty, foreign or damaged catalogue is never taken for a new archive.

Every command (the real ``dangan`` executable, so a traceback would show) exits 6 with one line;
``rebuild-catalogue`` sets the bad file aside and rebuilds; ``check`` passes afterwards and the next
ingest takes the next piece number, not one the store already holds.
"""
from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

PAGE = 4096


def dangan(root: Path, *args: str, input: str | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DANGAN_")}
    return subprocess.run([sys.executable, "-m", "dangan", "--archive", str(root), "--as", "tester", *args],
                          capture_output=True, text=True, env=env, input=input, timeout=300)


@pytest.fixture
def filled(archive_root, tmp_path):
    """An archive with one classified record (piece 0001), its catalogue checkpointed into the main file."""
    src = tmp_path / "first.txt"
    src.write_text("第一份文件 first record", encoding="utf-8")
    r = dangan(archive_root, "ingest", str(src), "--dept", "BGS", "--category", "WS", "--year", "2021")
    assert r.returncode == 0, r.stderr
    cat = archive_root / "catalogue.sqlite"
    conn = sqlite3.connect(cat)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    for suffix in ("-wal", "-shm"):
        Path(str(cat) + suffix).unlink(missing_ok=True)
    return archive_root


def zero_bytes(cat: Path) -> None:
    cat.write_bytes(b"")


def random_bytes(cat: Path) -> None:
    cat.write_bytes(os.urandom(8 * PAGE))


def damaged_pages(cat: Path) -> None:
    data = bytearray(cat.read_bytes())
    data[PAGE:] = os.urandom(len(data) - PAGE)          # page 1 (header + schema) intact, every table page noise
    cat.write_bytes(bytes(data))


def truncated(cat: Path) -> None:
    with open(cat, "r+b") as fh:
        fh.truncate(2 * PAGE)


def missing(cat: Path) -> None:
    cat.unlink()


DAMAGES = [zero_bytes, random_bytes, damaged_pages, truncated, missing]


def assert_refused(r: subprocess.CompletedProcess, what: str) -> None:
    assert r.returncode == 6, f"{what}: exit {r.returncode}\n{r.stdout}\n{r.stderr}"
    lines = [l for l in r.stderr.splitlines() if l.strip()]
    assert len(lines) == 1 and lines[0].startswith("dangan: error: "), f"{what}: {r.stderr}"
    assert "Traceback" not in r.stderr and "rebuild-catalogue" in lines[0], f"{what}: {r.stderr}"


@pytest.mark.parametrize("damage", DAMAGES, ids=lambda f: f.__name__)
def test_every_command_refuses_a_bad_catalogue_then_rebuild_repairs_it(filled, tmp_path, damage):
    cat = filled / "catalogue.sqlite"
    damage(cat)
    before = cat.read_bytes() if cat.exists() else None
    new = tmp_path / "second.txt"
    new.write_text("第二份文件 second record", encoding="utf-8")
    for args in (["ls"], ["audit", "verify"], ["check"], ["search", "文件"], ["versions", "x"],
                 ["ingest", str(new), "--dept", "BGS", "--category", "WS", "--year", "2021"]):
        assert_refused(dangan(filled, *args), " ".join(args))
    # nothing was written over the bad file (it is evidence, and the only copy of whatever survives)
    assert (cat.read_bytes() if cat.exists() else None) == before

    r = dangan(filled, "rebuild-catalogue", "--yes")
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stderr
    assert "catalogue rebuilt: 1 record(s)" in r.stdout
    aside = sorted(filled.glob("catalogue.sqlite.damaged-*"))
    if damage is missing:
        assert aside == []
    else:
        assert [p for p in aside if not p.name.endswith(("-wal", "-shm"))], "the bad file was not kept"
        assert aside[0].read_bytes() == before

    r = dangan(filled, "check")
    assert r.returncode == 0, r.stdout + r.stderr
    r = dangan(filled, "ingest", str(new), "--dept", "BGS", "--category", "WS", "--year", "2021")
    assert r.returncode == 0, r.stderr
    r = dangan(filled, "ls", "--json")
    codes = sorted(__import__("json").loads(l)["archival_code"] for l in r.stdout.splitlines() if l.strip())
    assert [c[-5:] for c in codes] == ["-0001", "-0002"], codes        # piece 0001 is not reused
    assert dangan(filled, "check").returncode == 0


def test_check_finds_damage_on_pages_that_listings_never_read(filled):
    cat = filled / "catalogue.sqlite"
    conn = sqlite3.connect(cat)
    (root_page,) = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = 'files_sha512'").fetchone()
    conn.close()
    data = bytearray(cat.read_bytes())
    data[(root_page - 1) * PAGE:root_page * PAGE] = os.urandom(PAGE)
    cat.write_bytes(bytes(data))
    assert dangan(filled, "ls").returncode == 0                      # the damage is out of the listing's way
    assert_refused(dangan(filled, "check"), "check")
    r = dangan(filled, "rebuild-catalogue", "--yes")
    assert r.returncode == 0 and "set aside" in r.stderr, r.stderr
    assert dangan(filled, "check").returncode == 0


def test_a_new_archive_still_opens_and_init_is_unchanged(archive_root):
    r = dangan(archive_root, "ls")
    assert r.returncode == 0, r.stderr
    r = dangan(archive_root, "audit", "verify")
    assert r.returncode == 0 and "intact" in r.stdout


def test_rebuild_of_a_healthy_catalogue_keeps_its_audit_trail(filled):
    r = dangan(filled, "rebuild-catalogue", "--yes")
    assert r.returncode == 0, r.stderr
    assert list(filled.glob("catalogue.sqlite.damaged-*")) == []
    conn = sqlite3.connect(filled / "catalogue.sqlite")
    actions = [a for (a,) in conn.execute("SELECT action FROM audit ORDER BY seq")]
    conn.close()
    assert actions[0] == "archive.init" and "record.ingest" in actions and actions[-1] == "catalogue.rebuild"
