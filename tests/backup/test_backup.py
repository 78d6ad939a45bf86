"""Backups: round trip, incremental snapshots, verify, restore of one record, prune, locks, passphrases."""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from backup_helpers import PASS, open_repo, snapshots
from conftest import CORPUS, Cli
from ocfl_helpers import assert_store_valid


@pytest.fixture
def repo(tmp_path, monkeypatch, cli):
    monkeypatch.setenv("DANGAN_BACKUP_PASSPHRASE", PASS)
    path = tmp_path / "repo"
    cli("backup", "init", "--repo", path)
    return path


def ingest(cli, *files, date="2021-03-05"):
    out = cli("ingest", *files, "--category", "WS", "--dept", "BGS", "--retention", "D10", "--date", date,
              "--json").output
    return [json.loads(line)["record_id"] for line in out.splitlines() if json.loads(line).get("record_id")]


def corpus_files(*dirs: str) -> list[Path]:
    return [p for d in dirs for p in sorted((CORPUS / d).iterdir()) if p.is_file()]


def tree(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): hashlib.sha512(p.read_bytes()).hexdigest()
            for p in root.rglob("*") if p.is_file()}


def search_ids(cli, query: str) -> list[str]:
    return sorted(json.loads(line)["record_id"] for line in cli("search", query, "--json").output.splitlines())


def test_round_trip_is_byte_identical_and_a_working_archive(cli, archive_root, repo, samples, tmp_path):
    files = corpus_files("office", "email") + sorted(samples.iterdir())
    ingest(cli, *files)
    cli("backup", "create", "--repo", repo)
    dest = tmp_path / "restored"
    cli("backup", "restore", "latest", "--to", dest, "--repo", repo)
    assert tree(dest / "store") == tree(archive_root / "store"), "the store is restored byte for byte"
    assert (dest / "dangan.toml").read_bytes() == (archive_root / "dangan.toml").read_bytes()
    assert assert_store_valid(dest / "store") == len(files)
    restored = Cli(dest)
    restored("check")
    restored("audit", "verify")
    restored("reindex")
    for q in ("档案", "contract", "会议"):
        assert search_ids(restored, q) == search_ids(cli, q)
    assert search_ids(cli, "档案"), "the queries find something"
    later = tmp_path / "after-restore.txt"
    later.write_text("恢复之后 restoredlater", encoding="utf-8")
    restored("ingest", later)
    assert len(search_ids(restored, "restoredlater")) == 1, "the restored change log numbers on past its horizon"
    assert not list(tmp_path.glob(".restored.restoring-*")), "no work folder is left behind"


def test_restore_refuses_a_folder_that_is_not_empty(cli, repo, samples, tmp_path):
    ingest(cli, samples / "notes.md")
    cli("backup", "create", "--repo", repo)
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "x").write_text("x")
    r = cli("backup", "restore", "latest", "--to", tmp_path / "busy", "--repo", repo, ok=False)
    assert r.exit_code == 2 and "not empty" in r.output


def test_second_snapshot_of_an_unchanged_archive_stores_nothing(cli, repo, samples, tmp_path):
    ingest(cli, *sorted(samples.iterdir()))
    first = json.loads(cli("backup", "create", "--repo", repo, "--json").output)
    before = {n for n, _ in open_repo(repo).target.list("data/")}
    second = json.loads(cli("backup", "create", "--repo", repo, "--json").output)
    assert first["new_blobs"] > 0
    assert second["new_blobs"] == 0 and second["sizes"]["new"] == 0
    assert {n for n, _ in open_repo(repo).target.list("data/")} == before
    assert second["counts"] == first["counts"]


def test_one_new_record_costs_only_its_own_blobs(cli, archive_root, repo, samples, tmp_path):
    ingest(cli, samples / "notes.md", samples / "contract.txt")
    cli("backup", "create", "--repo", repo)
    before = {n for n, _ in open_repo(repo).target.list("data/")}
    (rid,) = ingest(cli, samples / "会议纪要.txt")
    cli("backup", "create", "--repo", repo)
    r = open_repo(repo)
    new = {n for n, _ in r.target.list("data/")} - before
    latest = r.load_snapshot(r.snapshot_ids()[-1])
    allowed = {r.blob_name(d) for _rel, d, _s in latest["objects"][rid]["files"]}
    allowed.add(r.blob_name(latest["catalogue"]["digest"]))
    allowed |= {r.blob_name(d) for rel, d, _s in latest["archive_files"] if rel == "audit-checkpoints.log"}
    assert new and new <= allowed, "only the new record's files, the new catalogue and audit log were written"
    assert r.blob_name(latest["catalogue"]["digest"]) in new


def test_list_json_has_one_object_per_snapshot(cli, repo, samples):
    ingest(cli, samples / "notes.md")
    cli("backup", "create", "--repo", repo)
    cli("backup", "create", "--repo", repo)
    snaps = snapshots(cli, repo)
    assert len(snaps) == 2 and snaps[0]["id"] < snaps[1]["id"]
    for s in snaps:
        assert {"id", "time", "counts", "sizes"} <= set(s)
        assert s["counts"]["records"] == 1 and s["sizes"]["total"] > 0


def test_the_configured_repository_is_used_without_repo(cli, archive_root, repo, samples):
    with open(archive_root / "dangan.toml", "a", encoding="utf-8") as fh:
        fh.write(f'\n[backup]\nrepo = "{repo}"\ninterval_hours = 12\n')
    ingest(cli, samples / "notes.md")
    cli("backup", "create")
    assert len(snapshots(cli, repo)) == 1
    st = json.loads(cli("backup", "status", "--json").output)
    assert st["last_snapshot"] and st["overdue"] is False and st["interval_hours"] == 12


def test_status_warns_when_there_is_no_recent_backup(cli, archive_root, repo, samples):
    st = json.loads(cli("backup", "status", "--json").output)
    assert st["configured"] and st["overdue"] and st["last_success"] is None
    ingest(cli, samples / "notes.md")
    cli("backup", "create", "--repo", repo)
    from dangan.core.archive import Archive
    from dangan.core.backup.api import backup_status
    a = Archive(archive_root)
    with a.transaction() as conn:
        conn.execute("UPDATE backup_runs SET finished = '2000-01-01T00:00:00Z'")
    st = backup_status(a)
    a.close()
    assert st["overdue"] and st["age_hours"] > 24 * 365 and "older than the interval" in st["message"]


# -- verify -------------------------------------------------------------------------------
def _holder(manifest, logical: str) -> tuple[str, str]:
    """(record id, digest) of the record whose content includes ``logical``."""
    for rid, entry in manifest["objects"].items():
        for rel, d, _s in entry["files"]:
            if rel.endswith("/content/" + logical) or rel.endswith(f"/text/{logical}.txt"):  # text files: one copy
                return rid, d
    raise AssertionError(f"{logical} is in no record")


@pytest.fixture
def two_records(cli, repo, samples):
    ingest(cli, samples / "notes.md", samples / "contract.txt")
    cli("backup", "create", "--repo", repo)
    r = open_repo(repo)
    m = r.load_snapshot(r.snapshot_ids()[-1])
    return (_holder(m, "notes.md")[0], _holder(m, "contract.txt")[0]), r, m


def _content_blob(r, manifest, rid: str, logical: str) -> Path:
    holder, digest = _holder(manifest, logical)
    assert holder == rid
    return Path(r.target.location) / r.blob_name(digest)


@pytest.mark.parametrize("damage", ["delete", "truncate", "alter"])
def test_verify_names_the_record_of_a_damaged_blob(cli, repo, two_records, damage):
    (notes, contract), r, m = two_records
    blob = _content_blob(r, m, contract, "contract.txt")
    data = blob.read_bytes()
    if damage == "delete":
        blob.unlink()
    elif damage == "truncate":
        blob.write_bytes(data[:-7])
    else:
        blob.write_bytes(data[:100] + bytes([data[100] ^ 1]) + data[101:])
    quick = cli("backup", "verify", "--repo", repo, "--json", ok=False)
    full = cli("backup", "verify", "--repo", repo, "--read-data", "--json", ok=False)
    report = json.loads(full.output.splitlines()[0])
    assert full.exit_code == 6
    assert report["records_affected"] == [contract]
    kind = {"delete": "missing", "truncate": "truncated", "alter": "altered"}[damage]
    assert [p["kind"] for p in report["problems"]] == [kind]
    if damage == "alter":
        assert quick.exit_code == 0, "an altered blob of the right size needs --read-data"
    else:
        assert quick.exit_code == 6 and contract in quick.output


def test_verify_sample_reads_a_share_of_the_blobs(cli, repo, two_records):
    full = json.loads(cli("backup", "verify", "--repo", repo, "--read-data", "--json").output)
    half = json.loads(cli("backup", "verify", "--repo", repo, "--sample", "50%", "--json").output)
    none = json.loads(cli("backup", "verify", "--repo", repo, "--json").output)
    assert full["blobs_read"] == full["blobs"] and none["blobs_read"] == 0
    assert 0 < half["blobs_read"] < full["blobs"] and half["blobs_read"] >= full["blobs"] / 2
    bad = cli("backup", "verify", "--repo", repo, "--sample", "abc", ok=False)
    assert bad.exit_code == 2


# -- restore one record -----------------------------------------------------------------------
@pytest.mark.store_damaged
def test_restore_one_lost_record_into_the_live_archive(cli, archive_root, repo, two_records, samples, tmp_path):
    (notes, contract), r, m = two_records
    from dangan.core.archive import Archive
    a = Archive(archive_root)
    shutil.rmtree(a.store.object_path(contract))
    a.close()
    assert cli("check", ok=False).exit_code == 6
    out = cli("backup", "restore", "latest", "--record", contract, "--repo", repo).output
    assert "restored" in out
    cli("check")
    cli("get", contract, "-o", tmp_path / "out")
    assert (tmp_path / "out" / "contract.txt").read_bytes() == (samples / "contract.txt").read_bytes()
    assert_store_valid(archive_root / "store")


def test_restore_one_damaged_record_repairs_only_what_is_damaged(cli, archive_root, repo, two_records, samples):
    (notes, contract), r, m = two_records
    from dangan.core.archive import Archive
    a = Archive(archive_root)
    content = next(a.store.object_path(notes).rglob("notes.md*"))
    a.close()
    content.write_bytes(b"tampered")
    assert cli("check", ok=False).exit_code == 6
    out = cli("backup", "restore", "latest", "--record", notes, "--repo", repo).output
    assert "repaired (1 files)" in out
    cli("check")
    assert content.read_bytes() == (samples / "notes.md").read_bytes()
    again = cli("backup", "restore", "latest", "--record", notes, "--repo", repo).output
    assert "intact" in again


# -- prune ---------------------------------------------------------------------------------
def test_keep_policy_is_restics():
    from dangan.core.backup.prune import Policy, keep
    snaps = [("a", "2023-12-31T10:00:00Z"), ("b", "2024-01-01T09:00:00Z"), ("c", "2024-01-01T18:00:00Z"),
             ("d", "2024-02-10T08:00:00Z"), ("e", "2024-02-11T08:00:00Z"), ("f", "2024-02-11T09:00:00Z")]
    assert set(keep(snaps, Policy(last=2))) == {"f", "e"}
    assert set(keep(snaps, Policy(daily=3))) == {"f", "d", "c"}
    assert set(keep(snaps, Policy(monthly=2))) == {"f", "c"}
    assert set(keep(snaps, Policy(yearly=5))) == {"f", "a"}
    assert keep(snaps, Policy(last=1, yearly=2)) == {"f": ["last", "yearly"], "a": ["yearly"]}
    from dangan.errors import UsageError
    with pytest.raises(UsageError):
        keep(snaps, Policy())


def test_prune_removes_snapshots_and_only_the_blobs_they_alone_used(cli, repo, samples, tmp_path):
    ingest(cli, samples / "notes.md")
    cli("backup", "create", "--repo", repo)
    (rid,) = ingest(cli, samples / "contract.txt")
    cli("backup", "create", "--repo", repo)
    cli("backup", "create", "--repo", repo)
    r = open_repo(repo)
    before = {n for n, _ in r.target.list("data/")}
    dry = json.loads(cli("backup", "prune", "--keep-last", "1", "--dry-run", "--repo", repo, "--json").output)
    assert len(dry["removed"]) == 2 and len(snapshots(cli, repo)) == 3
    res = json.loads(cli("backup", "prune", "--keep-last", "1", "--repo", repo, "--json").output)
    assert res["removed"] == dry["removed"] and res["blobs_deleted"] == 2, \
        "the first catalogue copy and the first audit checkpoint log only"
    assert len(snapshots(cli, repo)) == 1
    assert len({n for n, _ in r.target.list("data/")}) == len(before) - 2
    cli("backup", "verify", "--repo", repo, "--read-data")
    assert cli("backup", "prune", "--repo", repo, ok=False).exit_code == 2


# -- keys and locks -----------------------------------------------------------------------------
def test_wrong_passphrase_is_a_clear_error(cli, repo, monkeypatch):
    monkeypatch.setenv("DANGAN_BACKUP_PASSPHRASE", "not it")
    r = cli("backup", "list", "--repo", repo, ok=False)
    assert r.exit_code == 12 and "wrong passphrase for the backup repository" in r.output


def test_passphrase_from_a_descriptor_and_never_argv(cli, archive_root, tmp_path, monkeypatch):
    monkeypatch.delenv("DANGAN_BACKUP_PASSPHRASE", raising=False)
    rfd, wfd = os.pipe()
    os.write(wfd, b"from a pipe\n")
    os.close(wfd)
    cli("backup", "init", "--repo", tmp_path / "r2", "--passphrase-fd", rfd)
    os.close(rfd)
    r = cli("backup", "list", "--repo", tmp_path / "r2", input="from a pipe\n")
    assert r.exit_code == 0
    config = (tmp_path / "r2" / "config").read_text()
    assert "from a pipe" not in config and json.loads(config)["kdf"]["name"] == "scrypt"


def test_the_repository_leaks_no_digest_and_no_plaintext(cli, archive_root, repo, samples):
    ingest(cli, samples / "会议纪要.txt")
    cli("backup", "create", "--repo", repo)
    from dangan.core.archive import Archive
    a = Archive(archive_root)
    digests = {f.digest for rid in [r["id"] for r in a.conn.execute("SELECT id FROM records")]
               for f in a.store.files(rid)}
    a.close()
    blob = b"".join(p.read_bytes() + p.name.encode() for p in repo.rglob("*") if p.is_file())
    assert "档案管理制度".encode() not in blob
    for d in digests:
        assert d.encode() not in blob and d[:64].encode() not in blob


def _lock(repo: Path, **holder) -> None:
    (repo / "locks").mkdir(exist_ok=True)
    (repo / "locks" / "repo").write_text(json.dumps({"op": "create", "time": "2024-01-01T00:00:00Z", **holder}))


def test_a_lock_held_by_a_live_process_is_refused(cli, repo, samples):
    ingest(cli, samples / "notes.md")
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        _lock(repo, pid=sleeper.pid, host=socket.gethostname())
        r = cli("backup", "create", "--repo", repo, ok=False)
        assert r.exit_code == 9 and f"pid {sleeper.pid}" in r.output and "busy" in r.output
    finally:
        sleeper.kill()
        sleeper.wait()


def test_a_stale_lock_of_a_dead_pid_is_broken_with_a_log_line(repo, archive_root, samples, cli):
    ingest(cli, samples / "notes.md")
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    _lock(repo, pid=dead.pid, host=socket.gethostname())
    env = {**os.environ, "DANGAN_BACKUP_PASSPHRASE": PASS}
    r = subprocess.run([sys.executable, "-m", "dangan", "--archive", str(archive_root), "backup", "create",
                        "--repo", str(repo)], capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stderr
    assert "breaking the stale lock" in r.stderr and f"pid {dead.pid}" in r.stderr
    assert not (repo / "locks" / "repo").exists()


def test_a_torn_lock_file_is_stale_not_a_live_holder(repo, archive_root, samples, cli):
    """A lock file cut short (or not ours) names no process: it is broken, never read as pid -1 alive."""
    ingest(cli, samples / "notes.md")
    (repo / "locks").mkdir(exist_ok=True)
    (repo / "locks" / "repo").write_text('{"pid": 12')
    env = {**os.environ, "DANGAN_BACKUP_PASSPHRASE": PASS}
    r = subprocess.run([sys.executable, "-m", "dangan", "--archive", str(archive_root), "backup", "create",
                        "--repo", str(repo)], capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stderr
    assert "breaking the stale lock" in r.stderr
    assert not (repo / "locks" / "repo").exists()


def test_a_lock_from_another_host_is_never_broken_silently(cli, repo, samples):
    ingest(cli, samples / "notes.md")
    _lock(repo, pid=1, host="another-host.example")
    r = cli("backup", "create", "--repo", repo, ok=False)
    assert r.exit_code == 9 and "another-host.example" in r.output and "backup unlock" in r.output
    assert (repo / "locks" / "repo").exists()
    assert "removed" in cli("backup", "unlock", "--repo", repo).output
    cli("backup", "create", "--repo", repo)
