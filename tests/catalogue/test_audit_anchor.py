"""The audit trail anchored outside the catalogue (issue 12 item 7).

Three rewrites from the inside passed `audit verify` before: the last event deleted and the head
rolled back, an event edited and the chain re-hashed, the WAL truncated.  Each is now detected by
`audit verify` and by `check`, and writers refuse to append to such a trail until an administrator
acknowledges it.  A missing audit key and a rolled-back checkpoint log are detected too; the notary
command gets every checkpoint; backups keep a checkpoint that `audit verify --backups` compares.
"""
from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from catalogue_helpers import raw_catalogue

LOG = "audit-checkpoints.log"


@pytest.fixture
def busy(cli, samples, tmp_path):
    """Init, two ingests, a revision, a retrieval and a check: several transactions, several checkpoints."""
    out = cli("ingest", samples / "contract.txt", samples / "notes.md", "--json").output
    rid = json.loads(out.splitlines()[0])["record_id"]
    new = tmp_path / "v2.txt"
    new.write_text("v2", encoding="utf-8")
    cli("revise", rid, new)
    cli("get", rid, "-o", tmp_path / "out")
    cli("check")
    return rid


def sql(root: Path, *statements: tuple) -> None:
    conn = raw_catalogue(root)
    for st in statements:
        conn.execute(*st) if isinstance(st, tuple) else conn.execute(st)
    conn.commit()
    conn.close()


def verify_problems(cli) -> list[str]:
    r = cli("audit", "verify", "--json", ok=False)
    assert r.exit_code == 6, r.output
    return json.loads(r.output)["problems"]


def check_audit_problems(cli) -> list[str]:
    r = cli("check", "--json", ok=False)
    assert r.exit_code == 6, r.output
    return [p["message"] for p in map(json.loads, r.output.splitlines()) if p["record_id"] == "audit"]


def assert_writers_refuse(cli, tmp_path):
    f = tmp_path / "later.txt"
    f.write_text("written after the tampering", encoding="utf-8")
    r = cli("ingest", f, ok=False)
    assert r.exit_code == 6 and "audit trail is broken" in r.output and "acknowledge" in r.output, r.output
    assert "Traceback" not in r.output


def rollback_last_event(root: Path) -> None:
    """The two SQL statements of the red team: delete the last event, move the head back one."""
    sql(root, "DELETE FROM audit WHERE seq = (SELECT max(seq) FROM audit)",
        "UPDATE audit_head SET seq = seq - 1, hash = (SELECT hash FROM audit WHERE seq = "
        "(SELECT max(seq) FROM audit))")


def test_a_new_archive_has_its_key_outside_and_a_checkpoint_per_transaction(cli, busy, archive_root, tmp_path):
    from dangan.core.archive import Archive
    from dangan.core.catalogue.audit_anchor import key_path
    with Archive(archive_root) as a:
        key = key_path(a)
    assert key.exists() and not key.resolve().is_relative_to(archive_root.resolve())
    assert (key.stat().st_mode & 0o777) == 0o600
    lines = [json.loads(x) for x in (archive_root / LOG).read_text().splitlines()]
    assert [x["n"] for x in lines] == list(range(len(lines)))
    assert lines[-1]["seq"] == 6                       # the check's event, the last of the trail
    r = cli("audit", "verify")
    assert "intact: 6 events" in r.output


def test_the_deleted_last_event_with_its_head_rolled_back_is_detected(cli, busy, archive_root, tmp_path):
    rollback_last_event(archive_root)
    assert any("seal" in p for p in verify_problems(cli))
    assert any("seal" in p or "behind" in p for p in check_audit_problems(cli))
    assert_writers_refuse(cli, tmp_path)


def test_an_edited_event_with_the_chain_rehashed_is_detected(cli, busy, archive_root, tmp_path):
    from dangan.core.catalogue.audit import event_hash
    conn = raw_catalogue(archive_root)
    conn.execute("UPDATE audit SET actor = 'mallory' WHERE seq = 2")
    prev = conn.execute("SELECT hash FROM audit WHERE seq = 1").fetchone()[0]
    for seq, time, actor, action, obj, outcome, details in conn.execute(
            "SELECT seq, time, actor, action, object, outcome, details FROM audit WHERE seq >= 2 ORDER BY seq"
    ).fetchall():
        h = event_hash(seq, time, actor, action, obj, outcome, details, prev)
        conn.execute("UPDATE audit SET prev_hash = ?, hash = ? WHERE seq = ?", (prev, h, seq))
        prev = h
    conn.execute("UPDATE audit_head SET hash = ?", (prev,))
    conn.commit()
    conn.close()
    from dangan.core.catalogue.audit import verify
    c = raw_catalogue(archive_root)
    c.row_factory = sqlite3.Row
    assert verify(c) == []                              # the chain alone is fooled
    c.close()
    problems = verify_problems(cli)
    assert any("seal" in p for p in problems) and any("rewritten" in p for p in problems)
    assert any("rewritten" in p for p in check_audit_problems(cli))
    assert_writers_refuse(cli, tmp_path)


HOLD_WAL = """
import os, signal, sqlite3, sys, time
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
print("connected", flush=True)
sys.stdin.readline()                 # the first ingest is done: pin the WAL as it is now
conn.execute("BEGIN")
conn.execute("SELECT count(*) FROM audit").fetchone()
print("reading", flush=True)
sys.stdin.readline()
os.kill(os.getpid(), signal.SIGKILL)  # dies holding the read: no checkpoint, the WAL stays as written
"""


@pytest.mark.sqlite_only                  # the SQLite file itself is damaged or replaced
def test_a_truncated_wal_that_lost_committed_records_is_detected(cli, archive_root, samples, tmp_path):
    db = archive_root / "catalogue.sqlite"
    holder = subprocess.Popen([sys.executable, "-c", HOLD_WAL, str(db)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "connected"
        cli("ingest", samples / "contract.txt")
        holder.stdin.write("\n")
        holder.stdin.flush()
        assert holder.stdout.readline().strip() == "reading"
        wal = Path(f"{db}-wal")
        size = wal.stat().st_size
        cli("ingest", samples / "notes.md")            # committed into the WAL after the pinned point
        assert wal.stat().st_size > size
        holder.stdin.write("\n")
        holder.stdin.flush()
        holder.wait(timeout=30)
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()
    with open(wal, "r+b") as fh:                       # lose the commits after the pinned point
        fh.truncate(size)
    Path(f"{db}-shm").unlink(missing_ok=True)
    conn = sqlite3.connect(db)
    assert conn.execute("SELECT count(*) FROM records").fetchone()[0] == 1    # the second record is gone
    conn.close()
    from dangan.core.catalogue.audit import verify
    c = sqlite3.connect(db)
    c.row_factory = sqlite3.Row
    assert verify(c) == []                              # the chain alone is fooled
    c.close()
    assert any("behind its checkpoints" in p for p in verify_problems(cli))
    assert any("behind its checkpoints" in p for p in check_audit_problems(cli))
    assert_writers_refuse(cli, tmp_path)


def test_a_missing_audit_key_is_detected(cli, busy, archive_root, tmp_path):
    from dangan.core.archive import Archive
    from dangan.core.catalogue.audit_anchor import key_path
    with Archive(archive_root) as a:
        key_path(a).unlink()
    assert any("audit key" in p and "missing" in p for p in verify_problems(cli))
    assert any("audit key" in p for p in check_audit_problems(cli))
    assert_writers_refuse(cli, tmp_path)


def test_a_rolled_back_checkpoint_log_is_detected(cli, busy, archive_root, tmp_path):
    log = archive_root / LOG
    lines = log.read_text().splitlines(keepends=True)
    log.write_text("".join(lines[:3]))
    assert any("rolled back" in p for p in verify_problems(cli))
    assert any("rolled back" in p for p in check_audit_problems(cli))
    assert_writers_refuse(cli, tmp_path)


def test_a_forged_checkpoint_line_is_detected(cli, busy, archive_root):
    log = archive_root / LOG
    lines = [json.loads(x) for x in log.read_text().splitlines()]
    lines[2]["hash"] = "f" * 64
    log.write_text("".join(json.dumps(x) + "\n" for x in lines))
    assert any("checkpoint 2" in p and "seal" in p for p in verify_problems(cli))


def test_a_checkpoint_lost_to_a_crash_after_commit_is_restored_by_the_next_writer(cli, busy, archive_root, samples):
    log = archive_root / LOG
    lines = log.read_text().splitlines(keepends=True)
    log.write_text("".join(lines[:-1]))               # what a kill between commit and log write leaves
    r = cli("audit", "verify")
    assert "intact" in r.output and "not in" in r.output
    cli("ingest", samples / "会议纪要.txt")
    after = log.read_text().splitlines(keepends=True)
    assert after[:len(lines) - 1] == lines[:-1]
    lost, restored = json.loads(lines[-1]), json.loads(after[len(lines) - 1])
    assert (restored["n"], restored["seq"], restored["hash"]) == (lost["n"], lost["seq"], lost["hash"])
    assert "intact" in cli("audit", "verify").output


def test_an_acknowledgement_lets_writers_go_on_and_is_audited(cli, busy, archive_root, tmp_path):
    rollback_last_event(archive_root)
    r = cli("audit", "acknowledge", ok=False)
    assert r.exit_code == 2                            # --reason is required
    r = cli("audit", "acknowledge", "--reason", "事故调查: the check event was deleted by a test")
    assert "acknowledged" in r.output
    r = cli("audit", "verify")
    assert "intact" in r.output
    evs = [json.loads(x) for x in cli("audit", "log", "--json").output.splitlines()]
    assert evs[-1]["action"] == "audit.acknowledge" and evs[-1]["details"]["problems"]
    f = tmp_path / "after.txt"
    f.write_text("after the acknowledgement", encoding="utf-8")
    cli("ingest", f)
    cli("check")
    # an earlier event changed after the acknowledgement is a problem again
    sql(archive_root, "UPDATE audit SET actor = 'mallory' WHERE seq = 2")
    assert any("acknowledgement" in p or "edited" in p for p in verify_problems(cli))


def test_a_lost_key_is_replaced_only_by_an_acknowledgement(cli, busy, archive_root, tmp_path):
    from dangan.core.archive import Archive
    from dangan.core.catalogue.audit_anchor import key_path
    with Archive(archive_root) as a:
        key_path(a).unlink()
    r = cli("audit", "acknowledge", "--reason", "the key was lost with the old server")
    assert "new audit key" in r.output
    assert "intact" in cli("audit", "verify").output
    cli("check")


def test_the_notarise_command_gets_every_checkpoint(cli, archive_root, samples, tmp_path):
    notary = tmp_path / "notary.jsonl"
    cfg = archive_root / "dangan.toml"
    cfg.write_text(cfg.read_text(encoding="utf-8").replace("[audit]\n", f'[audit]\nnotarise_command = "cat >> {notary}"\n'),
                   encoding="utf-8")
    cli("ingest", samples / "contract.txt", samples / "notes.md")
    cli("check")
    got = [json.loads(x) for x in notary.read_text().splitlines()]
    log = [json.loads(x) for x in (archive_root / LOG).read_text().splitlines()]
    assert got and got == log[-len(got):]
    assert got[-1]["seq"] == 4 and all(x["mac"] for x in got)


@pytest.mark.sqlite_only                  # the SQLite file itself is damaged or replaced
def test_rebuilding_a_lost_catalogue_starts_a_new_acknowledged_chain(cli, busy, archive_root):
    for suffix in ("", "-wal", "-shm"):
        (archive_root / f"catalogue.sqlite{suffix}").unlink(missing_ok=True)
    cli("rebuild-catalogue", "--yes")
    evs = [json.loads(x) for x in cli("audit", "log", "--json").output.splitlines()]
    assert [e["action"] for e in evs] == ["audit.acknowledge", "catalogue.rebuild"]
    assert "intact" in cli("audit", "verify").output
    cli("check")


@pytest.mark.sqlite_only                  # the SQLite file itself is damaged or replaced
def test_backups_keep_a_checkpoint_that_verify_compares(cli, busy, archive_root, tmp_path, monkeypatch):
    """A rollback of catalogue and checkpoint log together is invisible inside the archive; the backup
    taken before it is not."""
    import shutil
    monkeypatch.setenv("DANGAN_BACKUP_PASSPHRASE", "correct horse battery 档案")
    repo = tmp_path / "repo"
    cli("backup", "init", "--repo", repo)
    saved = tmp_path / "saved"
    saved.mkdir()
    for name in ("catalogue.sqlite", LOG):
        shutil.copy2(archive_root / name, saved / name)
    f = tmp_path / "later.txt"
    f.write_text("after the copy", encoding="utf-8")
    cli("ingest", f)
    cli("backup", "create", "--repo", repo)
    for suffix in ("-wal", "-shm"):
        (archive_root / f"catalogue.sqlite{suffix}").unlink(missing_ok=True)
    for name in ("catalogue.sqlite", LOG):               # the whole archive put back as it was
        shutil.copy2(saved / name, archive_root / name)
    assert "intact" in cli("audit", "verify").output
    r = cli("audit", "verify", "--backups", "--repo", repo, "--json", ok=False)
    assert r.exit_code == 6
    assert any("snapshot" in p and "no longer holds" in p for p in json.loads(r.output)["problems"])


@pytest.mark.parametrize("damage", ["rolled back", "deleted"])
def test_an_acknowledgement_continues_after_a_log_that_lost_lines(cli, busy, archive_root, tmp_path, damage):
    log = archive_root / LOG
    if damage == "deleted":
        log.unlink()
    else:
        log.write_text("".join(log.read_text().splitlines(keepends=True)[:2]))
    assert verify_problems(cli)
    cli("audit", "acknowledge", "--reason", f"the checkpoint log was {damage} by a test")
    assert "intact" in cli("audit", "verify").output
    f = tmp_path / "after.txt"
    f.write_text("after the acknowledgement", encoding="utf-8")
    cli("ingest", f)
    assert "intact" in cli("audit", "verify").output


def test_every_process_finds_the_key_whatever_its_home(cli, busy, archive_root, tmp_path, monkeypatch):
    """init writes the key's absolute place into dangan.toml: another $HOME (a service, a shell of another
    session) seals and verifies with the same key instead of finding none."""
    monkeypatch.setenv("HOME", str(tmp_path / "elsewhere"))
    f = tmp_path / "from-elsewhere.txt"
    f.write_text("written with another HOME", encoding="utf-8")
    cli("ingest", f)
    assert "intact" in cli("audit", "verify").output
    assert not (tmp_path / "elsewhere").exists()
