"""Destruction reaches the backups: a destroyed record's content is purged from every snapshot.

For each snapshot that still holds the record's object (not its tombstone):

1. the object's entry is replaced by the entry of the live tombstone object
   (its blobs written first);
2. the snapshot's catalogue copy is rewritten so the record's rows are the
   tombstone's rows (copied from the live catalogue), then vacuumed with
   ``secure_delete`` so no free page keeps the old rows;
3. the manifest is replaced atomically.

A record moved into a confidential volume (``management.reseal``) is purged the same way: every snapshot
entry holding a blob of its replaced plaintext object (the digests its ``record.move`` event names) gets
the live sealed object's entry instead, and the catalogue copy its live (sealed) rows.

Then every blob no manifest names any more is deleted (``sweep``): a blob
the record shared with a live record stays, because another entry still
names it.  Each step is idempotent; the pending row (``backup_purges``) is
deleted only after the sweep, so a run killed half way is completed by the
next one.
"""
from __future__ import annotations

import json
import sqlite3
from typing import TYPE_CHECKING

from dangan.errors import UsageError
from dangan.core.backup.create import _Uploads, object_entry, serialize
from dangan.core.backup.prune import sweep
from dangan.repository.backup.repo import Repository, utcnow
from dangan.core.catalogue.outbox import queue_index

if TYPE_CHECKING:
    from dangan.core.archive import Archive

RECORD_TABLES = (("records", "id"), ("versions", "record_id"), ("files", "record_id"))


def _tombstone_entry(archive: Archive, rid: str, uploads: _Uploads, status: str = "destroyed") -> dict | None:
    """The live object's entry: a destroyed record's tombstone, a moved record's sealed object."""
    store = archive.store
    if not store.exists(rid):
        return None
    if store.remote:                               # a bucket's tombstone: read from a private local copy
        with store.local_object(rid) as root:
            entry = _tombstone_at(root.parents[3], root, uploads, status)
            uploads.flush()
            return entry
    return _tombstone_at(store.root, store.object_path(rid), uploads, status)


def _tombstone_at(store_root, root, uploads: _Uploads, status: str = "destroyed") -> dict:
    inv_bytes = (root / "inventory.json").read_bytes()
    side = (root / "inventory.json.sha512").read_bytes()
    version = int(json.loads(inv_bytes)["head"][1:])
    return object_entry(store_root, root, inv_bytes, side, version, status, uploads)


def replaced_digests(archive: Archive, rid: str) -> set[str]:
    """The stored digests of the plaintext objects that moves of ``rid`` into a confidential volume replaced."""
    from dangan.core.catalogue.audit import events
    out: set[str] = set()
    for e in events(archive.conn, obj=rid, action="record.move", outcome="success"):
        if e.details.get("sealed") is True:
            out |= set((e.details.get("replaced") or {}).get("stored_digests") or ())
    return out


def _columns(conn: sqlite3.Connection, table: str) -> list[str]:
    from dangan.core.catalogue.db import columns
    return columns(conn, table)


def _copy_volume(mem: sqlite3.Connection, live: sqlite3.Connection, rid: str) -> None:
    row = live.execute("SELECT volume FROM records WHERE id = ?", (rid,)).fetchone()
    if row is None or not row[0]:
        return
    cols = [c for c in _columns(mem, "volumes") if c in set(_columns(live, "volumes"))]
    names = ", ".join(cols)
    for r in live.execute(f"SELECT {names} FROM volumes WHERE name = ?", (row[0],)).fetchall():
        mem.execute(f"INSERT OR IGNORE INTO volumes ({names}) VALUES ({', '.join('?' * len(cols))})", tuple(r))


def rewrite_catalogue(data: bytes, live: sqlite3.Connection, rids: list[str],
                      upserts: frozenset[str] = frozenset()) -> bytes:
    mem = sqlite3.connect(":memory:", isolation_level=None)
    try:
        mem.deserialize(data)
        for rid in rids:
            for table, key in RECORD_TABLES:
                mem.execute(f"DELETE FROM {table} WHERE {key} = ?", (rid,))
            for table, key in RECORD_TABLES:
                cols = [c for c in _columns(mem, table) if c in set(_columns(live, table))]
                names = ", ".join(cols)
                rows = live.execute(f"SELECT {names} FROM {table} WHERE {key} = ?", (rid,)).fetchall()
                mem.executemany(f"INSERT INTO {table} ({names}) VALUES ({', '.join('?' * len(cols))})",
                                [tuple(r) for r in rows])
            if rid in upserts:        # a moved record's rows name its confidential volume: the snapshot needs it
                _copy_volume(mem, live, rid)
            queue_index(mem, rid, "upsert" if rid in upserts else "delete")
        return serialize(mem)
    finally:
        mem.close()


def purge_records(archive: Archive, repo: Repository, rids: set[str]) -> dict:
    """Purge destroyed records ``rids`` from every snapshot of ``repo`` (caller holds the lock); and the
    replaced plaintext objects of records moved into a confidential volume."""
    live = archive.conn
    moved: dict[str, set[str]] = {}
    statuses: dict[str, str] = {}
    for rid in rids:
        row = live.execute("SELECT status FROM records WHERE id = ?", (rid,)).fetchone()
        if row is not None and row["status"] != "destroyed":
            moved[rid] = replaced_digests(archive, rid)
        if row is None or (row["status"] != "destroyed" and not moved[rid]):
            raise UsageError(f"record {rid} is not destroyed: nothing to purge from the backups")
        statuses[rid] = row["status"]
    uploads = _Uploads(repo, set())
    tombs = {rid: _tombstone_entry(archive, rid, uploads, statuses[rid]) for rid in sorted(rids)}
    uploads.flush()

    def stale(rid: str, entry: dict) -> bool:
        if rid in moved:          # holds a blob of the plaintext object the move replaced
            return any(digest in moved[rid] for _path, digest, _size in entry["files"])
        return entry["status"] != "destroyed"
    rewritten = []
    for sid in repo.snapshot_ids():
        manifest = repo.load_snapshot(sid)
        doomed = sorted(rid for rid in rids if rid in manifest["objects"] and stale(rid, manifest["objects"][rid]))
        if not doomed:
            continue
        for rid in doomed:
            if tombs[rid] is None:
                del manifest["objects"][rid]
            else:
                manifest["objects"][rid] = tombs[rid]
        cat = manifest["catalogue"]
        new_cat = rewrite_catalogue(repo.blob_bytes(cat["digest"]), live, doomed, frozenset(moved))
        digest, size = repo.put_blob_bytes(new_cat)
        manifest["catalogue"] = {"digest": digest, "size": size}
        kinds = [e["status"] for e in manifest["objects"].values()]
        manifest["counts"].update({"objects": len(manifest["objects"]),
                                   "records": sum(s != "destroyed" for s in kinds),
                                   "destroyed": kinds.count("destroyed"),
                                   "files": len({d for e in manifest["objects"].values() for _r, d, _s in e["files"]})})
        manifest.setdefault("purged", []).extend({"record_id": rid, "time": utcnow()} for rid in doomed)
        repo.save_snapshot(manifest)
        rewritten.append(sid)
    result = {"records": sorted(rids), "snapshots": rewritten}
    result.update(sweep(repo))
    return result


def pending(archive: Archive, repo_id: str) -> set[str]:
    return {r[0] for r in archive.conn.execute("SELECT record_id FROM backup_purges WHERE repo_id = ?", (repo_id,))}


def destroyed_records(archive: Archive) -> set[str]:
    return {r[0] for r in archive.conn.execute("SELECT id FROM records WHERE status = 'destroyed'")}


def run_pending(archive: Archive, repo: Repository, *, everything: bool = False) -> dict | None:
    """Carry out this repository's pending purges (``everything``: every destroyed record of the archive)."""
    was_pending = pending(archive, repo.id)
    rids = set(was_pending)
    if everything:
        rids |= destroyed_records(archive)
    if not rids:
        return None
    result = purge_records(archive, repo, rids)
    with archive.transaction() as conn:
        for rid in sorted(rids):
            conn.execute("DELETE FROM backup_purges WHERE repo_id = ? AND record_id = ?", (repo.id, rid))
            if rid in was_pending or result["snapshots"]:
                archive.audit(conn, "backup.purge", rid, details={"repository": repo.id,
                                                                   "snapshots": result["snapshots"]})
    return result

