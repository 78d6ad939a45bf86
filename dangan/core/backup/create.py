"""Taking a snapshot: catalogue copy, store objects as content-addressed blobs, configuration.

Order (crash safety): blobs first, then ``target.sync()``, then the manifest
in one atomic put.  A run killed at any point leaves earlier snapshots as
they were and, at worst, blobs no manifest names yet — the next run reuses
them (a blob is taken as present only with its exact ciphertext size) and
prune/purge sweep the rest.

Consistency: the catalogue is copied first, through SQLite's online backup
API (in memory, never a plaintext temp file); the store is then walked and
each object is taken **at the version that copy knows**.  A writer publishes
to the store before it commits the catalogue, so the store can only be
ahead: a newer version is left out (the object is cut back to the copy's
version from that version's own inventory), an object being ingested
(intent row, no record row) is left out.  If the store is *behind* the copy
(a destruction between its purge and its commit), the copy is taken again.

Incremental: an object whose root inventory sidecar (the sha512 of its
inventory, written by OCFL) and version match the previous snapshot's entry
is reused as it is — no content is read, nothing is hashed.
"""
from __future__ import annotations

import hashlib
import json
import os
import socket
import sqlite3
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from contextlib import nullcontext
from typing import TYPE_CHECKING, Any, Callable, Iterator

from dangan.errors import LockTimeout
from dangan.repository.ocfl import vnum
from dangan.repository.backup.repo import SNAPSHOT_FORMAT, Repository, blob_refs, new_snapshot_id, failpoint_pause, utcnow

if TYPE_CHECKING:
    from dangan.core.archive import Archive

#: tables of the catalogue that describe backups of *this* copy (they change every run) or the search nodes
#: following it (a restored archive has no index yet: its node is new); left out of the copy
LOCAL_TABLES = ("backup_runs", "search_nodes")
WORKERS = max(1, min(4, os.cpu_count() or 1))


# -- the catalogue ----------------------------------------------------------------
def catalogue_copy(conn: sqlite3.Connection) -> tuple[sqlite3.Connection, dict]:
    """An in-memory copy of the live catalogue (online backup API) and what it says about the records."""
    from dangan.core.catalogue import db
    if db.dialect(conn) == "postgresql":                  # the same SQLite image, read from PostgreSQL
        from dangan.core.catalogue.transfer import snapshot_to_sqlite
        mem = snapshot_to_sqlite(conn)                     # type: ignore[arg-type]
    else:
        mem = sqlite3.connect(":memory:", isolation_level=None)
        mem.row_factory = sqlite3.Row
        conn.backup(mem)
    for table in LOCAL_TABLES:
        if mem.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)).fetchone():
            mem.execute(f"DELETE FROM {table}")
    records = {r["id"]: (r["version"], r["status"]) for r in mem.execute("SELECT id, version, status FROM records")}
    intents = {r[0] for r in mem.execute("SELECT object_id FROM ingest_intents")}
    head = mem.execute("SELECT * FROM audit_head WHERE id = 1").fetchone()
    checkpoint = {"seq": head["seq"], "hash": head["hash"]} if head else {"seq": 0, "hash": ""}
    if head is not None and "checkpoint" in head.keys():        # the keyed head (audit_anchor)
        checkpoint.update(checkpoint=head["checkpoint"], mac=head["mac"])
    info = {"records": records, "intents": intents, "audit": checkpoint}
    return mem, info


def serialize(mem: sqlite3.Connection) -> bytes:
    """The database image, vacuumed: no free page keeps deleted rows (and equal content gives equal bytes)."""
    mem.execute("PRAGMA secure_delete = ON")
    mem.execute("VACUUM")
    return mem.serialize()


# -- objects ------------------------------------------------------------------------
class _Uploads:
    """Blobs to write in this run, deduplicated by digest, written by a few threads."""

    def __init__(self, repo: Repository, known: set[str]) -> None:
        self.repo = repo
        self.known = set(known)          # digests named by the previous snapshot: present
        self.pending: dict[str, tuple[Path | bytes, int]] = {}
        self.new_blobs = 0
        self.new_bytes = 0
        self.stored_bytes = 0

    def want(self, digest: str, source: Path | bytes, size: int) -> None:
        if digest not in self.known and digest not in self.pending:
            self.pending[digest] = (source, size)

    def _one(self, digest: str, source: Path | bytes, size: int) -> tuple[int, int]:
        failpoint_pause()
        if self.repo.has_blob(digest, size):
            return 0, 0
        if isinstance(source, bytes):
            import io
            return size, self.repo.put_blob(digest, io.BytesIO(source))
        with open(source, "rb") as fh:
            return size, self.repo.put_blob(digest, fh)

    def flush(self) -> None:
        items = list(self.pending.items())
        self.pending.clear()
        with ThreadPoolExecutor(WORKERS) as pool:
            for (digest, _), (plain, stored) in zip(items, pool.map(lambda it: self._one(it[0], *it[1]), items)):
                self.known.add(digest)
                if stored:
                    self.new_blobs += 1
                    self.new_bytes += plain
                    self.stored_bytes += stored


def object_entry(store_root: Path, obj_root: Path, inv_bytes: bytes, side_bytes: bytes, version: int,
                 status: str, uploads: _Uploads) -> dict:
    """The manifest entry of one object cut at ``version``: every file with its digest and size.

    Content digests come from the inventory (never rehashed); the small OCFL
    files (declaration, inventories, sidecars) are hashed here.
    """
    inv = json.loads(inv_bytes)
    content = {p: d for d, paths in inv["manifest"].items() for p in paths}
    files = []
    for dirpath, dirnames, filenames in os.walk(obj_root):
        dirnames.sort()
        rel_dir = Path(dirpath).relative_to(obj_root).as_posix()
        if rel_dir != "." and rel_dir.split("/")[0].startswith("v") and rel_dir.split("/")[0][1:].isdigit():
            if vnum(rel_dir.split("/")[0]) > version:
                dirnames[:] = []
                continue
        for f in sorted(filenames):
            rel = f if rel_dir == "." else f"{rel_dir}/{f}"
            path = Path(dirpath) / f
            if rel_dir == "." and f.endswith(".tmp"):
                continue                                  # a half-written inventory the store will recover
            if rel in content:
                size = path.stat().st_size
                uploads.want(content[rel], path, size)
                files.append([rel, content[rel], size])
                continue
            if "/content/" in f"/{rel}":
                continue                                  # not in this version's manifest (not ours to keep)
            data = inv_bytes if rel == "inventory.json" else side_bytes if rel == "inventory.json.sha512" \
                else path.read_bytes()
            digest = hashlib.sha512(data).hexdigest()
            uploads.want(digest, data, len(data))
            files.append([rel, digest, len(data)])
    return {"path": obj_root.relative_to(store_root).as_posix(), "inv": _sidecar_digest(side_bytes),
            "version": version, "status": status, "files": files}


def _sidecar_digest(side: bytes) -> str:
    return side.split(b" ", 1)[0].decode("ascii", "replace").strip()


class _Inconsistent(Exception):
    pass


def walk_store(archive: Archive, info: dict, prev: dict | None, uploads: _Uploads, warnings: list[str]) -> dict:
    store = archive.store
    prev_by_path = {e["path"]: (rid, e) for rid, e in (prev or {}).get("objects", {}).items()}
    records = info["records"]
    objects: dict[str, dict] = {}
    for rel, read, local in _store_objects(store):
        try:
            side = read("inventory.json.sha512")
        except FileNotFoundError:
            raise _Inconsistent(rel) from None
        old = prev_by_path.get(rel)
        if old is not None:
            rid, entry = old
            cat = records.get(rid)
            if entry["inv"] == _sidecar_digest(side) and cat is not None and cat == (entry["version"],
                                                                                      entry["status"]):
                objects[rid] = entry                      # unchanged: costs nothing
                continue
        inv_bytes = read("inventory.json")
        if hashlib.sha512(inv_bytes).hexdigest() != _sidecar_digest(side):
            raise _Inconsistent(rel)                      # caught between inventory and sidecar: look again
        inv = json.loads(inv_bytes)
        rid, head = inv["id"], vnum(inv["head"])
        cat = records.get(rid)
        if cat is None:
            if rid in info["intents"]:
                continue                                  # being ingested: not in this snapshot
            warnings.append(f"object {rid} is in the store but not in the catalogue")
            objects[rid] = _entry(store, local, inv_bytes, side, head, "unknown", uploads)
            continue
        version, status = cat
        if version > head or (status == "destroyed") != _is_tombstone(inv):
            raise _Inconsistent(rid)                      # the catalogue copy is ahead of the store
        if version < head:                                # a newer version not committed yet: cut back
            inv_bytes = read(f"v{version}/inventory.json")
            side_v = read(f"v{version}/inventory.json.sha512")
            entry = _entry(store, local, inv_bytes, side_v, version, status, uploads)
            entry["inv"] = _sidecar_digest(side)
        else:
            entry = _entry(store, local, inv_bytes, side, version, status, uploads)
        objects[rid] = entry
    missing = [rid for rid, (v, status) in records.items() if rid not in objects and status != "destroyed"
               and rid not in info["intents"]]
    if missing:
        raise _Inconsistent(missing[0])
    return objects


def _store_objects(store) -> Iterator[tuple[str, Callable[[str], bytes], Callable[[], Any]]]:
    """(place, read one of its files, a local view of it) for every object of a folder or a bucket store."""
    from functools import partial
    if store.remote:
        for rel in store.object_rels():
            yield rel, partial(store.object_file, rel), partial(store.local_object_at, rel)
        return
    for obj_root in store.iter_object_roots():
        yield obj_root.relative_to(store.root).as_posix(), partial(_read_in, obj_root), partial(nullcontext, obj_root)


def _read_in(folder: Path, name: str) -> bytes:
    return (folder / name).read_bytes()


def _entry(store, local, inv_bytes: bytes, side: bytes, version: int, status: str, uploads: _Uploads) -> dict:
    """``object_entry`` of one object, read in place (a folder) or from a private local copy (a bucket: its
    blobs are sent before the copy is deleted)."""
    with local() as obj_root:
        root = store.root if not store.remote else obj_root.parents[3]
        entry = object_entry(root, obj_root, inv_bytes, side, version, status, uploads)
        if store.remote:
            uploads.flush()
    return entry


def _is_tombstone(inv: dict) -> bool:
    return inv["versions"][inv["head"]].get("message", "").startswith("tombstone")


def _small_files(root: Path, rels) -> list[tuple[str, bytes]]:
    out = []
    for rel in rels:
        p = root / rel
        if p.is_file():
            out.append((rel, p.read_bytes()))
    return out


def store_root_files(store_root: Path) -> list[tuple[str, bytes]]:
    rels = [e.name for e in os.scandir(store_root) if e.is_file()]
    ext = store_root / "extensions"
    for dirpath, _dirs, files in os.walk(ext):
        rels += [(Path(dirpath) / f).relative_to(store_root).as_posix() for f in files]
    return _small_files(store_root, sorted(rels))


def archive_files(root: Path) -> list[tuple[str, bytes]]:
    from dangan.core.kernel.config import CONFIG_NAME
    rels = [CONFIG_NAME]
    plugins = root / "plugins"
    for dirpath, dirnames, files in os.walk(plugins):
        dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
        rels += [(Path(dirpath) / f).relative_to(root).as_posix() for f in sorted(files) if not f.endswith(".pyc")]
    return _small_files(root, rels)


def checkpoint_log(archive: Archive, checkpoint: dict) -> list[tuple[str, bytes]]:
    """The audit checkpoint log as far as the catalogue copy goes (a restore gets log and trail that agree);
    the snapshot's checkpoint names the audit key it is sealed with."""
    from dangan.core.catalogue import audit_anchor
    try:
        key = audit_anchor.load_key(archive)
    except Exception:  # noqa: BLE001 - a damaged key is `audit verify`'s finding, not a reason to skip a backup
        key = None
    if key is not None and checkpoint.get("mac"):
        checkpoint["key"] = audit_anchor.key_id(key)
    data = audit_anchor.lines_upto(archive, int(checkpoint.get("checkpoint") or 0))
    return [(audit_anchor.LOG_NAME, data)] if data else []


# -- the snapshot ---------------------------------------------------------------------
def create_snapshot(archive: Archive, repo: Repository, *, retries: int = 8,
                    progress: Callable[[str], None] | None = None) -> dict:
    """Take one snapshot of the archive into ``repo`` (the caller holds the repository lock)."""
    started = time.monotonic()
    prev = repo.latest
    known = {d for d, _s, _k, _o in blob_refs(prev)} if prev else set()
    uploads = _Uploads(repo, known)
    for attempt in range(retries):
        warnings: list[str] = []
        mem, info = catalogue_copy(archive.conn)
        try:
            objects = walk_store(archive, info, prev, uploads, warnings)
            break
        except _Inconsistent:
            mem.close()
            uploads.pending.clear()
            time.sleep(0.05 * (attempt + 1))
    else:
        raise LockTimeout("the archive kept changing while the snapshot was taken (a destruction or an "
                          "ingest in progress); try again")
    if progress:
        progress(f"{len(uploads.pending)} new files to back up")
    uploads.flush()
    cat_bytes = serialize(mem)
    mem.close()
    cat_digest = hashlib.sha512(cat_bytes).hexdigest()
    small: dict[str, list[list[Any]]] = {}
    from dangan.repository.ocfl_s3 import S3OcflStore
    store = archive.store
    root_files = store.root_files() if isinstance(store, S3OcflStore) else store_root_files(store.root)
    for kind, pairs in (("store_files", root_files),
                        ("archive_files", archive_files(archive.root) + checkpoint_log(archive, info["audit"]))):
        small[kind] = []
        for rel, data in pairs:
            digest = hashlib.sha512(data).hexdigest()
            uploads.want(digest, data, len(data))
            small[kind].append([rel, digest, len(data)])
    uploads.want(cat_digest, cat_bytes, len(cat_bytes))
    uploads.flush()
    total = sum(size for e in objects.values() for _r, _d, size in e["files"])
    distinct = {d for e in objects.values() for _r, d, _s in e["files"]}
    statuses = [e["status"] for e in objects.values()]
    manifest = {
        "format": SNAPSHOT_FORMAT, "id": new_snapshot_id(), "time": utcnow(), "host": socket.gethostname(),
        "archive_id": archive.config.archive_id, "fonds": archive.config.fonds,
        "catalogue": {"digest": cat_digest, "size": len(cat_bytes)}, "audit": info["audit"],
        "store_files": small["store_files"], "archive_files": small["archive_files"], "objects": objects,
        "counts": {"objects": len(objects), "records": sum(s != "destroyed" for s in statuses),
                   "destroyed": statuses.count("destroyed"), "files": len(distinct)},
        "sizes": {"total": total, "new": uploads.new_bytes, "stored_new": uploads.stored_bytes,
                  "catalogue": len(cat_bytes)},
        "new_blobs": uploads.new_blobs, "warnings": warnings, "purged": [],
    }
    repo.save_snapshot(manifest)
    manifest["seconds"] = round(time.monotonic() - started, 3)
    return manifest


def summary(manifest: dict) -> dict:
    """What ``backup list --json`` shows of a snapshot."""
    return {"id": manifest["id"], "time": manifest["time"], "host": manifest.get("host"),
            "counts": manifest["counts"], "sizes": manifest["sizes"], "new_blobs": manifest.get("new_blobs", 0),
            "purged": [p["record_id"] for p in manifest.get("purged", [])],
            "audit_seq": manifest.get("audit", {}).get("seq")}

