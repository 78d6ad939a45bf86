"""Forgetting snapshots (``backup prune``) and sweeping blobs no snapshot names.

The policy is a pure function (``keep``), as restic defines it: the last N
snapshots, and the newest snapshot of each of the last N days, months and
years that have one.  Pruning deletes the manifests that are not kept (each
deletion atomic), then sweeps.  A run killed at any point leaves every kept
snapshot whole: the sweep deletes only blobs that no remaining manifest
names, and it refuses to run at all if any manifest cannot be read (it would
otherwise delete the blobs of a snapshot it failed to see).
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from dangan.errors import UsageError
from dangan.repository.backup.repo import DATA, Repository, blob_refs, failpoint_pause


@dataclass(frozen=True)
class Policy:
    last: int = 0
    daily: int = 0
    monthly: int = 0
    yearly: int = 0

    def empty(self) -> bool:
        return not (self.last or self.daily or self.monthly or self.yearly)


def _parse(t: str) -> dt.datetime:
    return dt.datetime.fromisoformat(t.replace("Z", "+00:00"))


def keep(snapshots: list[tuple[str, str]], policy: Policy) -> dict[str, list[str]]:
    """Which snapshots the policy keeps: id -> the reasons (``last``, ``daily``...).

    ``snapshots`` are (id, RFC 3339 time) pairs in any order.
    """
    if policy.empty():
        raise UsageError("prune needs a policy: --keep-last, --keep-daily, --keep-monthly or --keep-yearly")
    ordered = sorted(snapshots, key=lambda s: (_parse(s[1]), s[0]), reverse=True)
    reasons: dict[str, list[str]] = {}
    for sid, _t in ordered[:policy.last]:
        reasons.setdefault(sid, []).append("last")
    for name, n, bucket in (("daily", policy.daily, lambda d: d.strftime("%Y-%m-%d")),
                            ("monthly", policy.monthly, lambda d: d.strftime("%Y-%m")),
                            ("yearly", policy.yearly, lambda d: d.strftime("%Y"))):
        seen: set[str] = set()
        for sid, t in ordered:
            if len(seen) >= n:
                break
            b = bucket(_parse(t))
            if b not in seen:
                seen.add(b)
                reasons.setdefault(sid, []).append(name)
    return reasons


def prune(repo: Repository, policy: Policy, *, dry_run: bool = False) -> dict:
    """Delete the snapshots the policy does not keep, then sweep (caller holds the lock)."""
    snaps = []
    for sid in repo.snapshot_ids():
        snaps.append((sid, repo.load_snapshot(sid)["time"]))
    kept = keep(snaps, policy)
    doomed = [sid for sid, _t in snaps if sid not in kept]
    result = {"kept": sorted(kept), "removed": doomed, "blobs_deleted": 0, "bytes_freed": 0}
    if dry_run:
        return result
    for sid in doomed:
        repo.delete_snapshot(sid)
        failpoint_pause()
    result.update(sweep(repo))
    return result


def sweep(repo: Repository) -> dict:
    """Delete every blob that no snapshot names (caller holds the lock)."""
    referenced: set[str] = set()
    for sid in repo.snapshot_ids():
        manifest = repo.load_snapshot(sid)          # raises if unreadable: then nothing is deleted
        referenced.update(repo.blob_name(d) for d, _s, _k, _o in blob_refs(manifest))
    deleted = freed = 0
    for name, size in list(repo.target.list(DATA)):
        if name not in referenced:
            repo.target.delete(name)
            failpoint_pause()
            deleted += 1
            freed += size
    sweep_temp = getattr(repo.target, "sweep_temp", None)
    if sweep_temp:
        sweep_temp()
    return {"blobs_deleted": deleted, "bytes_freed": freed}
