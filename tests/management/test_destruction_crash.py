"""kill -9 after every rename of `disposition execute`: the next command completes the destruction.

The crash windows are deterministic: ``DANGAN_TEST_CRASH_AFTER=rename:N`` makes the
N-th rename of the process SIGKILL it (``repository/fsutil.crash_point``).  N runs
from 1 until `execute` finishes without being killed, so every rename of the
destruction (keystore shred, set-aside, tombstone staging and publishing) is a
window.  After each kill one other command runs (a new process: recovery) and
then the record must be destroyed exactly once: tombstone and certificate in the
store, one ``record.destroy`` event, the list executed, `check`, `audit verify`
and ocfl-py all passing, and no content left anywhere under the archive.
"""
from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest

from destruction_helpers import run, set_up_office
from ocfl_helpers import assert_store_valid


@pytest.fixture
def office(cli, monkeypatch, tmp_path):
    return set_up_office(cli, monkeypatch, tmp_path)


def approved_list(cli, tmp_path: Path, keys: list[str], *, sealed: bool = False) -> tuple[list[str], str]:
    """Records (one per key, its content marked with the key) on an approved destruction list."""
    rids = []
    for key in keys:
        p = tmp_path / f"{key}.txt"
        p.write_text(f"到期销毁 {key} CRASHMARK{key}", encoding="utf-8")
        extra = ("--volume", "V") if sealed else ()
        out = cli("ingest", p, "--category", "WS", "--dept", "BGS", "--retention", "D10", "--date", "2010-01-01",
                  "--title", f"文件{key}", *extra, "--json", user="arch").output
        rids.append(json.loads(out.splitlines()[0])["record_id"])
    lid = json.loads(cli("disposition", "propose", *rids, "--json", user="arch").output)["list"]
    cli("disposition", "approve", lid, user="mgr")
    return rids, lid


def tombstone_certificate(root: Path, rid: str) -> dict:
    from dangan.core.archive import Archive
    from dangan.core.store.layout import METADATA_PATH, parse_metadata
    a = Archive(root)
    try:
        rec, _names, cat = parse_metadata(a.store.read_bytes(rid, METADATA_PATH), rid)
        assert a.store.files(rid)[0].logical_path == METADATA_PATH and len(a.store.files(rid)) == 1
    finally:
        a.close()
    assert rec.status == "destroyed"
    return cat["destruction"]


def assert_destroyed_once(cli, root: Path, rid: str, lid: str, key: str, *, sealed: bool = False) -> None:
    rec = json.loads(cli("show", rid, "--json", user="arch").output)
    assert rec["status"] == "destroyed" and rec["files"] == []
    cert = tombstone_certificate(root, rid)
    events = [json.loads(x) for x in cli("audit", "log", "--json", "--action", "record.destroy",
                                         user="boss").output.splitlines()]
    mine = [e for e in events if e["object"] == rid]
    assert len(mine) == 1, mine
    assert mine[0]["details"]["certificate_sha256"] == cert["certificate_sha256"]
    assert cert["crypto_shredded"] is sealed and cert["approved_by"] == "mgr"
    lst = json.loads(cli("disposition", "show", lid, "--json", user="arch").output)
    assert lst["status"] == "executed"
    item = {i["record_id"]: i for i in lst["items"]}[rid]
    assert item["outcome"] == "destroyed" and item["certificate_sha256"] == cert["certificate_sha256"]
    assert any(i["certificate_sha256"] == cert["certificate_sha256"] for i in lst["certificate"]["items"])
    cli("check", user="arch")
    cli("audit", "verify", user="boss")
    assert_store_valid(root / "store")
    mark = f"CRASHMARK{key}".encode()
    for p in root.rglob("*"):                                # store, .work, index, catalogue
        if p.is_file():
            assert mark not in p.read_bytes(), p
    assert not any((root / ".work" / "doomed").glob("*")), "the set-aside object was deleted after the commit"
    if sealed:
        from dangan.core.archive import Archive
        from dangan.core.catalogue.volumes import open_keystore
        a = Archive(root)
        try:
            assert rid not in open_keystore(a)._current()["records"]
        finally:
            a.close()


def crash_every_rename(cli, root: Path, tmp_path: Path, *, sealed: bool, recover_with=("ls",),
                       per_list: int = 1, resume: bool = False) -> int:
    """Kill `execute` after its 1st, 2nd, ... rename until one run finishes; returns the windows crashed."""
    crashed = 0
    n = 1
    while True:
        keys = [f"{'S' if sealed else 'P'}{n}x{i}" for i in range(per_list)]
        rids, lid = approved_list(cli, tmp_path, keys, sealed=sealed)
        r = run(root, "disposition", "execute", lid, "--yes", crash=n)
        if r.returncode == 0:
            break
        assert r.returncode == -signal.SIGKILL, r.stdout + r.stderr
        crashed += 1
        for args in recover_with:
            args = (args,) if isinstance(args, str) else args
            rr = run(root, *(a.format(lid=lid) for a in args))
            assert rr.returncode == 0, rr.stdout + rr.stderr
        if resume and json.loads(cli("disposition", "show", lid, "--json", user="arch").output)["status"] != "executed":
            r = run(root, "disposition", "execute", lid, "--yes")              # the rest of the list
            assert r.returncode == 0, r.stdout + r.stderr
        for rid, key in zip(rids, keys):
            assert_destroyed_once(cli, root, rid, lid, key, sealed=sealed)
        n += 1
        assert n < 40, "execute never finished"
    for rid, key in zip(rids, keys):
        assert_destroyed_once(cli, root, rid, lid, key, sealed=sealed)
    return crashed


def test_a_kill_after_any_rename_of_a_destruction_is_completed_by_the_next_command(office, archive_root, tmp_path):
    assert crash_every_rename(office, archive_root, tmp_path, sealed=False) >= 3


def test_a_sealed_record_killed_after_any_rename_is_shredded_and_tombstoned(office, archive_root, tmp_path):
    assert crash_every_rename(office, archive_root, tmp_path, sealed=True) >= 4   # the keystore's rename too


def test_a_kill_after_the_commit_leaves_no_content_behind(office, archive_root, tmp_path):
    """Killed between the destruction's commit and the deletion of the set-aside object (and the index drain)."""
    (rid,), lid = approved_list(office, tmp_path, ["C1"])
    r = run(archive_root, "disposition", "execute", lid, "--yes", crash="commit:1")
    assert r.returncode == -signal.SIGKILL, r.stdout + r.stderr
    assert any((archive_root / ".work" / "doomed").iterdir()), "the crash came before the deletion"
    assert run(archive_root, "ls").returncode == 0
    assert_destroyed_once(office, archive_root, rid, lid, "C1")


def test_rebuild_catalogue_after_a_kill_keeps_the_tombstone(office, archive_root, tmp_path):
    assert crash_every_rename(office, archive_root, tmp_path, sealed=False,
                              recover_with=(("rebuild-catalogue", "--yes"),)) >= 3


@pytest.mark.slow
def test_crash_windows_of_longer_lists_resume_with_execute(office, archive_root, tmp_path):
    """Three records a list, plain and sealed: every rename of the run a window; `execute` again resumes."""
    for sealed in (False, True):
        assert crash_every_rename(office, archive_root, tmp_path, sealed=sealed, per_list=3,
                                  recover_with=(("check",),), resume=True) >= 9


def test_check_names_a_destruction_it_cannot_complete(office, archive_root, tmp_path):
    """An intent of another machine is not rolled forward here (its process may be alive there): check says so."""
    (rid,), _lid = approved_list(office, tmp_path, ["X1"])
    from dangan.core.archive import Archive
    a = Archive(archive_root)
    with a.transaction() as conn:
        conn.execute("INSERT INTO destruction_intents (record_id, status, tombstone, certificate, event, actor,"
                     " created, pid, host) VALUES (?, 'destroyed', x'00', '{}', '{}', 'arch', '2026-01-01T00:00:00Z',"
                     " 1, 'another-host')", (rid,))
    a.close()
    r = office("check", user="arch", ok=False)
    assert r.exit_code == 6 and f"{rid}: destruction begun 2026-01-01T00:00:00Z by arch on another-host" in r.output
    assert json.loads(office("show", rid, "--json", user="arch").output)["status"] == "active"
