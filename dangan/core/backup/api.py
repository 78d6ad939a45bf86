"""Versioned backups: the public API used by the CLI, destruction and ``dangan status``.

The parts, one concern each:

* ``repository/backup/target.py`` — where the files go (a folder now; S3 later);
* ``backup_repo.py`` — the repository format: keys, blob names, manifests;
* ``backup_lock.py`` — one operation at a time per repository;
* ``backup_create.py`` — taking a snapshot; ``backup_verify.py``;
  ``backup_restore.py``; ``backup_prune.py`` (policy, sweep);
  ``backup_purge.py`` — destruction reaching every snapshot.

Every operation that changes a repository runs under its lock; ``create``,
``restore`` and ``verify`` first carry out the purges this archive owes that
repository (destroyed records), so no snapshot can bring one back.
"""
from __future__ import annotations

import datetime as dt
import logging
import os
import sqlite3
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

from dangan.errors import DanganError, NotFound, UsageError
from dangan.repository.backup.target import BackupTarget, open_target
from dangan.core.backup import create as backup_create
from dangan.core.backup import prune as backup_prune
from dangan.core.backup import purge as backup_purge
from dangan.core.backup import restore as backup_restore
from dangan.core.backup import verify as backup_verify
from dangan.core.backup.lock import break_lock, repository_lock
from dangan.repository.backup.repo import Repository, init_repository, open_repository, read_config, utcnow
from dangan.core.kernel.clock import utc_now

if TYPE_CHECKING:
    from dangan.core.archive import Archive

log = logging.getLogger("dangan.backup")
PASSPHRASE_ENV = "DANGAN_BACKUP_PASSPHRASE"
DEFAULT_INTERVAL_HOURS = 24.0


# -- which repository ------------------------------------------------------------------
def configured_repo(archive: Archive | None) -> str | None:
    return (archive.config.raw.get("backup") or {}).get("repo") if archive is not None else None


def target_for(archive: Archive | None, spec: str | None) -> BackupTarget:
    if spec:                                     # from the command line: relative to the working directory
        return open_target(str(spec))
    spec = configured_repo(archive)
    if not spec or archive is None:
        raise UsageError("which backup repository? give --repo TARGET or set [backup] repo = \"...\" in dangan.toml")
    return open_target(str(spec), base=archive.root,          # from dangan.toml: relative to the archive
                       endpoint_url=(archive.config.raw.get("backup") or {}).get("endpoint_url"))


def register(archive: Archive, repo: Repository) -> None:
    """Remember the repository, so destruction knows to purge it (a catalogue row per repository)."""
    row = archive.conn.execute("SELECT location FROM backup_repos WHERE repo_id = ?", (repo.id,)).fetchone()
    if row is not None and row["location"] == repo.location:
        return
    with archive.transaction() as conn:
        conn.execute("INSERT INTO backup_repos (repo_id, location, added) VALUES (?, ?, ?) ON CONFLICT(repo_id)"
                     " DO UPDATE SET location = excluded.location", (repo.id, repo.location, utcnow()))


def init(archive: Archive | None, spec: str | None, passphrase: bytes) -> Repository:
    repo = init_repository(target_for(archive, spec), passphrase)
    if archive is not None:
        register(archive, repo)
    return repo


def open_repo(archive: Archive | None, spec: str | None, passphrase: bytes) -> Repository:
    repo = open_repository(target_for(archive, spec), passphrase)
    if archive is not None:
        register(archive, repo)
    return repo


@contextmanager
def _run(archive: Archive | None, repo: Repository, op: str) -> Iterator[dict]:
    """Hold the lock for ``op`` and record the run (success or failure) in ``backup_runs``."""
    started = utcnow()
    info: dict = {}
    try:
        with repository_lock(repo.target, op):
            yield info
    except DanganError as exc:
        _record_run(archive, repo, op, started, "failure", None, exc.message)
        raise
    _record_run(archive, repo, op, started, "success", info.get("snapshot"), info.get("message", ""))


def _record_run(archive: Archive | None, repo, op, started, outcome, snapshot, message) -> None:
    if archive is None:
        return
    with archive.transaction() as conn:
        conn.execute("INSERT INTO backup_runs (repo_id, location, op, started, finished, outcome, snapshot, message)"
                     " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                     (repo.id, repo.location, op, started, utcnow(), outcome, snapshot, message[:500]))


def _settle_purges(archive: Archive | None, repo: Repository) -> dict | None:
    return backup_purge.run_pending(archive, repo) if archive is not None else None


# -- operations --------------------------------------------------------------------------
def _local_store_only(archive: Archive, what: str) -> None:
    """Restoring one record into the live store needs a folder store; a bucket's is refused clearly (not built:
    restore the snapshot with ``--to DIR`` and take the record from there)."""
    if archive.store.remote:
        raise UsageError(f"{what}: this archive's store is in a bucket ({archive.store.location}); restoring one "
                         "record into a bucket is not built yet: restore the snapshot with --to DIR (a folder "
                         "archive) and take the record from there")


def create(archive: Archive, repo: Repository) -> dict:
    """Carry out owed purges, then take a snapshot; returns the manifest (with ``purge`` if any ran)."""
    from dangan.core.store.recovery import recover_interrupted
    recover_interrupted(archive)
    with _run(archive, repo, "create") as info:
        purged = _settle_purges(archive, repo)
        manifest = backup_create.create_snapshot(archive, repo)
        info["snapshot"] = manifest["id"]
    manifest["purge"] = purged
    return manifest


def list_snapshots(repo: Repository) -> list[dict]:
    return [backup_create.summary(repo.load_snapshot(sid)) for sid in repo.snapshot_ids()]


def verify(archive: Archive | None, repo: Repository, *, read_data: bool = False, sample: float | None = None) -> dict:
    if sample is not None and not 0 < sample <= 100:
        raise UsageError("--sample takes a percentage between 0 and 100, e.g. 10%")
    with _run(archive, repo, "verify") as info:
        report = backup_verify.verify(repo, read_data=read_data, sample=sample)
        info["message"] = f"{len(report['problems'])} problems"
    return report


def restore_to(archive: Archive | None, repo: Repository, snapshot: str, dest: Path, actor=None) -> dict:
    with _run(archive, repo, "restore") as info:
        _settle_purges(archive, repo)
        if archive is not None:
            _refuse_unpurged(archive, repo, snapshot)
        sid = repo.resolve_snapshot(snapshot)
        info["snapshot"] = sid
        return backup_restore.restore_to(repo, sid, dest, actor=actor or (archive.actor if archive else None))


def _refuse_unpurged(archive: Archive, repo: Repository, snapshot: str) -> None:
    """Belt and braces: purge any record the archive knows as destroyed that the snapshot still holds."""
    manifest = repo.load_snapshot(repo.resolve_snapshot(snapshot))
    destroyed = backup_purge.destroyed_records(archive)
    leftover = {rid for rid, e in manifest["objects"].items() if rid in destroyed and e["status"] != "destroyed"}
    if leftover:
        backup_purge.purge_records(archive, repo, leftover)


def restore_record(archive: Archive, repo: Repository, snapshot: str, ref: str) -> dict:
    _local_store_only(archive, "backup restore --record")
    with _run(archive, repo, "restore-record") as info:
        _settle_purges(archive, repo)
        sid = repo.resolve_snapshot(snapshot)
        info["snapshot"] = sid
        return backup_restore.restore_record(archive, repo, sid, ref)


def prune(archive: Archive | None, repo: Repository, policy: backup_prune.Policy, *, dry_run: bool = False) -> dict:
    with _run(archive, repo, "prune") as info:
        result = backup_prune.prune(repo, policy, dry_run=dry_run)
        info["message"] = f"removed {len(result['removed'])}"
    return result


def purge(archive: Archive, repo: Repository, *, everything: bool = False) -> dict | None:
    with _run(archive, repo, "purge"):
        return backup_purge.run_pending(archive, repo, everything=everything)


def unlock(archive: Archive | None, spec: str | None) -> dict | None:
    target = target_for(archive, spec)
    read_config(target)
    holder = break_lock(target)
    if holder is not None:
        log.warning("dangan: lock of %s broken by hand: it was held by pid %s on %s (%s since %s)",
                    target.location, holder.get("pid"), holder.get("host"), holder.get("op"), holder.get("time"))
    return holder


# -- the destruction hook --------------------------------------------------------------------
def note_destruction(archive: Archive, conn: sqlite3.Connection, record_id: str, certificate: dict) -> int:
    """Owe every known backup repository a purge of ``record_id``; call inside the destruction transaction.

    Returns the number of repositories that now owe a purge.  Nothing leaves
    the transaction: the purge itself runs after the commit
    (``purge_after_destruction``) or at the next backup run.
    """
    repos = [r[0] for r in conn.execute("SELECT repo_id FROM backup_repos")]
    now = utcnow()
    conn.executemany(
        "INSERT INTO backup_purges (repo_id, record_id, queued, certificate_sha256) VALUES (?, ?, ?, ?)"
        " ON CONFLICT(repo_id, record_id) DO NOTHING",
        [(rid, record_id, now, str(certificate.get("certificate_sha256", ""))) for rid in repos])
    return len(repos)


def purge_after_destruction(archive: Archive, passphrase: bytes | None = None) -> dict[str, str]:
    """Purge owed records from every repository we can reach now; the rest stays owed.

    The key is ``passphrase`` or ``$DANGAN_BACKUP_PASSPHRASE``.  Returns
    repository location -> ``purged`` or why it is still pending (no key,
    unreachable, busy...).  Never raises for a repository it cannot reach.
    """
    passphrase = passphrase or os.environ.get(PASSPHRASE_ENV, "").encode() or None
    rows = archive.conn.execute(
        "SELECT DISTINCT p.repo_id, r.location FROM backup_purges p JOIN backup_repos r USING (repo_id)").fetchall()
    out: dict[str, str] = {}
    for row in rows:
        where = f"{row['location']} ({row['repo_id'][:12]})"
        if passphrase is None:
            out[where] = "pending: no backup key available now; purged at the next backup run"
            continue
        try:
            repo = open_repository(open_target(row["location"]), passphrase)
            if repo.id != row["repo_id"]:
                raise NotFound(f"{row['location']} now holds another backup repository")
            purge(archive, repo)
            out[where] = "purged"
        except DanganError as exc:
            out[where] = f"pending: {exc.message}"
    return out


# -- status --------------------------------------------------------------------------------------
def backup_status(archive: Archive) -> dict:
    """Age of the last good backup and whether it is older than ``[backup] interval_hours`` (default 24)."""
    cfg = archive.config.raw.get("backup") or {}
    interval = float(cfg.get("interval_hours", DEFAULT_INTERVAL_HOURS))
    conn = archive.conn
    good = conn.execute("SELECT * FROM backup_runs WHERE op = 'create' AND outcome = 'success'"
                        " ORDER BY finished DESC LIMIT 1").fetchone()
    failed = conn.execute("SELECT * FROM backup_runs WHERE op = 'create' AND outcome = 'failure'"
                          " AND finished > ? ORDER BY finished DESC LIMIT 1",
                          (good["finished"] if good else "",)).fetchone()
    repos = conn.execute("SELECT COUNT(*) FROM backup_repos").fetchone()[0]
    pending = conn.execute("SELECT COUNT(*) FROM backup_purges").fetchone()[0]
    age = None
    if good is not None:
        finished = dt.datetime.fromisoformat(good["finished"].replace("Z", "+00:00"))
        age = (utc_now() - finished).total_seconds() / 3600
    configured = bool(cfg.get("repo")) or repos > 0
    overdue = configured and (age is None or age > interval)
    if good is None:
        message = "no backup yet" + (": run `dangan backup create`" if configured else " (no backup repository set up)")
    else:
        message = f"last good backup {age:.1f} hours ago ({good['snapshot']} in {good['location']})"
    if overdue and good is not None:
        message += f": older than the interval of {interval:g} hours"
    if failed is not None:
        message += f"; the last attempt failed: {failed['message']}"
    if pending:
        message += f"; {pending} destruction purge(s) owed to backup repositories"
    return {"configured": configured, "repo": cfg.get("repo"), "last_success": good["finished"] if good else None,
            "last_snapshot": good["snapshot"] if good else None, "location": good["location"] if good else None,
            "age_hours": None if age is None else round(age, 2), "interval_hours": interval, "overdue": overdue,
            "last_failure": failed["message"] if failed else None, "pending_purges": pending, "message": message}
