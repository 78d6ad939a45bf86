"""`dangan check` names an active sealed record whose key is gone (issue 12 item 12).

A crash between crypto-shredding and purging leaves the record active in store and catalogue with its
key destroyed: its content can never be read again, so `check` must say so (and destruction then
resumes as it already does).
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

PASS = "correct horse battery staple"


@pytest.fixture
def keyed(cli, monkeypatch, tmp_path):
    monkeypatch.setenv("DANGAN_PASSPHRASE", PASS)
    run_dir = Path(os.environ.get("TMPDIR", "/tmp")) / f"dk{os.getpid()}{abs(hash(str(tmp_path))) % 10**6}"
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(run_dir))
    cli("volume", "create", "V", "--secrecy", "秘密", "--title", "机要卷")
    yield cli
    cli("volume", "lock")


def sealed_record(cli, tmp_path, name: str) -> str:
    src = tmp_path / name
    src.write_text(f"机密正文 {name}", encoding="utf-8")
    return json.loads(cli("ingest", src, "--volume", "V", "--json").output.splitlines()[0])["record_id"]


def test_an_active_sealed_record_whose_key_was_shredded_is_reported(keyed, archive_root, tmp_path):
    from dangan.core.archive import Archive
    from dangan.core.catalogue.volumes import open_keystore

    doomed = sealed_record(keyed, tmp_path, "a.txt")
    kept = sealed_record(keyed, tmp_path, "b.txt")
    keyed("check")
    with Archive(archive_root) as a:                 # what a kill right after shredding leaves behind
        open_keystore(a).shred_record(doomed)

    r = keyed("check", "--json", ok=False)
    assert r.exit_code == 6, r.output
    problems = [json.loads(line) for line in r.output.splitlines() if line.startswith("{")]
    assert [p["record_id"] for p in problems] == [doomed], problems
    assert "shredded" in problems[0]["message"] and "active" in problems[0]["message"]
    assert kept not in r.output
