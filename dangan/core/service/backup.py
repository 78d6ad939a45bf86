"""Backups as a user takes, checks, restores and prunes them (``core.backup.api`` is the machinery).

With an archive at hand the acting user is resolved first (registered users only, once any exist); the
repository-only operations (list, verify, prune, restore to a folder) also run without one, for the machine
that keeps the backups.  The backup passphrase arrives as bytes from the face, never on argv.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from dangan.core.policy.users import acting_user

if TYPE_CHECKING:
    from dangan.core.archive import Archive
    from dangan.core.backup.prune import Policy
    from dangan.repository.backup.repo import Repository


def _user(archive: Archive | None, action: str) -> None:
    if archive is not None:
        acting_user(archive, action=action)


def init(archive: Archive | None, spec: str | None, passphrase: bytes) -> Repository:
    """Set up an empty folder as a backup repository with its own backup key."""
    from dangan.core.backup import api
    _user(archive, "set up backups")
    return api.init(archive, spec, passphrase)


def open_repo(archive: Archive | None, spec: str | None, passphrase: bytes) -> Repository:
    """The repository ``spec`` names (default: ``[backup] repo``), opened with the backup passphrase."""
    from dangan.core.backup import api
    _user(archive, "open backups")
    return api.open_repo(archive, spec, passphrase)


def create(archive: Archive, repo: Repository) -> dict[str, Any]:
    """Take a snapshot of the archive (store, catalogue, configuration, audit checkpoint)."""
    from dangan.core.backup import api
    acting_user(archive, action="back up")
    return api.create(archive, repo)


def snapshots(repo: Repository) -> list[dict[str, Any]]:
    """The snapshots in the repository, oldest first."""
    from dangan.core.backup import api
    return api.list_snapshots(repo)


def verify(archive: Archive | None, repo: Repository, *, read_data: bool = False,
           sample: float | None = None) -> dict[str, Any]:
    """Check that every snapshot's blobs are there and whole; the records a damaged blob affects."""
    from dangan.core.backup import api
    _user(archive, "verify backups")
    return api.verify(archive, repo, read_data=read_data, sample=sample)


def restore_to(archive: Archive | None, repo: Repository, snapshot: str, dest: Path, actor: Any = None) -> dict[str, Any]:
    """Restore a whole snapshot into a new archive folder ``dest``."""
    from dangan.core.backup import api
    _user(archive, "restore backups")
    return api.restore_to(archive, repo, snapshot, Path(dest), actor=actor)


def restore_record(archive: Archive, repo: Repository, snapshot: str, ref: str) -> dict[str, Any]:
    """Restore one record from a snapshot into the archive."""
    from dangan.core.backup import api
    acting_user(archive, action="restore backups", obj=ref)
    return api.restore_record(archive, repo, snapshot, ref)


def prune(archive: Archive | None, repo: Repository, policy: Policy, *, dry_run: bool = False) -> dict[str, Any]:
    """Remove the snapshots the policy does not keep, and the blobs only they used."""
    from dangan.core.backup import api
    _user(archive, "prune backups")
    return api.prune(archive, repo, policy, dry_run=dry_run)


def purge(archive: Archive, repo: Repository, *, everything: bool = False) -> dict[str, Any] | None:
    """Carry out the destruction purges this archive owes the repository now."""
    from dangan.core.backup import api
    acting_user(archive, action="purge backups")
    return api.purge(archive, repo, everything=everything)


def unlock(archive: Archive | None, spec: str | None) -> dict[str, Any] | None:
    """Break the repository's lock; its holder, or None when it was not locked."""
    from dangan.core.backup import api
    _user(archive, "unlock backups")
    return api.unlock(archive, spec)


def status(archive: Archive) -> dict[str, Any]:
    """Age of the last good backup, and whether it is older than ``[backup] interval_hours``."""
    from dangan.core.backup import api
    return api.backup_status(archive)


__all__ = ["init", "open_repo", "create", "snapshots", "verify", "restore_to", "restore_record", "prune", "purge",
           "unlock", "status"]
