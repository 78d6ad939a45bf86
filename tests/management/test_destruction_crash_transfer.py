"""kill -9 after every rename of a transfer's `disposition execute --to DIR`: the next command completes it.

A transfer takes destruction's path (intent, set aside, tombstone of status
``transferred``, commit), after the BagIt bag was written.  After each kill one
other command runs; then the record is transferred exactly once, its tombstone
names the bag, and the list (certified by recovery) carries the same bag.
"""
from __future__ import annotations

import hashlib
import json
import signal

import pytest

from destruction_helpers import run, set_up_office
from ocfl_helpers import assert_store_valid

TRANSFER_PLUGIN = (
    "from dangan.plugins import hookimpl\n"
    "from dangan.plugins.types import RetentionRule\n"
    "@hookimpl\n"
    "def dangan_retention_for(record, category):\n"
    "    if 'to-transfer' in record.tags:\n"
    "        return RetentionRule(years=10, action='transfer')\n")


@pytest.fixture
def office(cli, monkeypatch, tmp_path):
    return set_up_office(cli, monkeypatch, tmp_path)


def test_a_kill_after_any_rename_of_a_transfer_is_completed_by_the_next_command(office, archive_root, tmp_path):
    cli = office
    (archive_root / "plugins" / "transfer_rule.py").write_text(TRANSFER_PLUGIN, encoding="utf-8")
    crashed, n = 0, 1
    while True:
        p = tmp_path / f"t{n}.txt"
        p.write_text(f"移交 t{n} TRANSMARK{n}", encoding="utf-8")
        rid = json.loads(cli("ingest", p, "--category", "WS", "--dept", "BGS", "--retention", "D10", "--date",
                             "2010-01-01", "--tag", "to-transfer", "--json", user="arch").output)["record_id"]
        lid = json.loads(cli("disposition", "propose", rid, "--json", user="arch").output)["list"]
        cli("disposition", "approve", lid, user="mgr")
        dest = tmp_path / f"bag{n}"
        r = run(archive_root, "disposition", "execute", lid, "--yes", "--to", dest, crash=n)
        if r.returncode != 0:
            assert r.returncode == -signal.SIGKILL, r.stdout + r.stderr
            crashed += 1
            assert run(archive_root, "ls").returncode == 0
        assert json.loads(cli("show", rid, "--json", user="arch").output)["status"] == "transferred"
        events = [json.loads(x) for x in cli("audit", "log", "--json", "--action", "record.transfer",
                                             user="boss").output.splitlines()]
        assert [e["object"] for e in events].count(rid) == 1
        lst = json.loads(cli("disposition", "show", lid, "--json", user="arch").output)
        assert lst["status"] == "executed" and lst["items"][0]["outcome"] == "transferred"
        manifest = hashlib.sha512((dest / "manifest-sha512.txt").read_bytes()).hexdigest()
        assert lst["certificate"]["transfer"]["manifest_sha512"] == manifest
        cli("check", user="arch")
        cli("audit", "verify", user="boss")
        assert_store_valid(archive_root / "store")
        for f in archive_root.rglob("*"):
            if f.is_file():
                assert f"TRANSMARK{n}".encode() not in f.read_bytes(), f
        if r.returncode == 0:
            break
        n += 1
        assert n < 40, "execute never finished"
    assert crashed >= 3
