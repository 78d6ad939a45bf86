"""Restoring: a whole archive into a new folder, or one record back into the live archive.

``restore_to`` writes into a hidden sibling folder and renames it to DIR
only when everything is written and synced, so an interrupted restore never
leaves a half archive under the name asked for.  Every file is checked
against its sha512 as it is written.  The catalogue is deserialised in
memory and written with SQLite's backup API.  The index is not in backups
(it is derived): run ``dangan reindex`` in the restored archive.  The
keystore is not in backups either: the restored archive keeps its archive id,
so the keystore exported with ``dangan volume export-key`` opens its volumes.

A destroyed record never comes back: destruction purges every snapshot (its
tombstone is restored instead), and when a live archive is at hand its
pending purges are carried out before anything is restored, and a record it
knows as destroyed is refused.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

from dangan.errors import IntegrityError, NotFound, UsageError
from dangan.repository.fsutil import fsync_dir
from dangan.repository.fsutil import rename_in
from dangan.repository.ocfl import vnum
from dangan.repository.backup.repo import BlobDamaged, Repository
from dangan.core.catalogue.outbox import queue_index

if TYPE_CHECKING:
    from dangan.core.archive import Archive

WORKERS = max(1, min(4, os.cpu_count() or 1))


def _write(repo: Repository, digest: str, path: Path) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    size = 0
    try:
        with open(path, "xb") as out:
            for chunk in repo.read_blob(digest):
                out.write(chunk)
                size += len(chunk)
    except BlobDamaged as exc:
        raise IntegrityError(f"cannot restore {path.name}: blob {exc.name} is {exc.kind} "
                             "(`dangan backup verify` names every record affected; restore an older snapshot)") from None
    return size


def _write_many(repo: Repository, jobs: list[tuple[str, Path]]) -> int:
    with ThreadPoolExecutor(WORKERS) as pool:
        return sum(pool.map(lambda j: _write(repo, *j), jobs))


def restore_to(repo: Repository, snap_id: str, dest: Path, *, actor=None) -> dict:
    """Restore snapshot ``snap_id`` as a complete archive at ``dest`` (new or empty)."""
    from dangan.core.catalogue import connection as catalogue
    from dangan.core.archive import Archive
    from dangan.core.kernel.permissions import make_root

    dest = Path(dest).expanduser().absolute()
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise UsageError(f"{dest} exists and is not empty: restore into a new or empty folder")
    manifest = repo.load_snapshot(snap_id)
    work = dest.parent / f".{dest.name}.restoring-{os.getpid()}-{uuid.uuid4().hex[:6]}"
    work.parent.mkdir(parents=True, exist_ok=True)
    make_root(work, None)                 # private (0700/0600) whatever the caller's umask
    try:
        jobs = [(d, work / rel) for rel, d, _s in manifest["archive_files"]]
        jobs += [(d, work / "store" / rel) for rel, d, _s in manifest["store_files"]]
        for entry in manifest["objects"].values():
            jobs += [(d, work / "store" / entry["path"] / rel) for rel, d, _s in entry["files"]]
        size = _write_many(repo, jobs)
        was_in = _store_into_folder(work)
        mem = sqlite3.connect(":memory:")
        mem.deserialize(repo.blob_bytes(manifest["catalogue"]["digest"]))
        disk = sqlite3.connect(work / "catalogue.sqlite")
        mem.backup(disk)
        disk.close()
        mem.close()
        catalogue.connect(work / "catalogue.sqlite").close()        # WAL mode, migrated to this dangan's schema
        for d in ("index", "plugins", ".work/staging", ".work/locks"):
            (work / d).mkdir(parents=True, exist_ok=True)
        os.sync()
        if dest.exists():
            dest.rmdir()
        os.rename(work, dest)
        fsync_dir(dest.parent)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    restored = Archive(dest, actor)
    details = {"snapshot": snap_id, "repository": repo.id, "snapshot_time": manifest["time"],
               "audit_seq": manifest["audit"]["seq"], "audit_hash": manifest["audit"]["hash"]}
    if was_in:
        details["store_was"] = was_in          # the copy keeps its store in its folder, never the live bucket
    try:
        try:
            restored.record_event("archive.restore", details=details)
        except IntegrityError as exc:     # e.g. restored where its audit key is not: a new key, audited
            from dangan.core.catalogue.audit_verify import acknowledge
            acknowledge(restored, f"restored from snapshot {snap_id}: {exc.message}", automatic=True)
            restored.record_event("archive.restore", details=details)
    finally:
        restored.close()
    return {"snapshot": snap_id, "to": str(dest), "objects": len(manifest["objects"]), "files": len(jobs),
            "bytes": size, "purged": [p["record_id"] for p in manifest.get("purged", [])]}


def _store_into_folder(work: Path) -> str | None:
    """A restored archive is a private copy: its store is the restored ``store/`` folder, so a ``[store]`` section
    naming the live bucket is taken out of its dangan.toml (returns the url it named, if any)."""
    import re
    import tomllib
    from dangan.core.kernel.config import CONFIG_NAME
    path = work / CONFIG_NAME
    if not path.is_file():
        return None
    text = path.read_text(encoding="utf-8")
    url = (tomllib.loads(text).get("store") or {}).get("url")
    if not url:
        return None
    kept = re.sub(r"(?ms)^\[store\][^\n]*\n.*?(?=^\[|\Z)", "", text)
    path.write_text(kept + f"\n# restored from a snapshot of an archive whose store was {url}\n", encoding="utf-8")
    return url


# -- one record -------------------------------------------------------------------------
def restore_record(archive: Archive, repo: Repository, snap_id: str, ref: str) -> dict:
    """Bring one record back from a snapshot: a missing object whole, a damaged one file by file.

    Nothing valid is overwritten: a file is replaced only where the live
    object itself says it must hold the snapshot's digest and it does not.
    """
    from dangan.core.store.recovery import adopt
    manifest = repo.load_snapshot(snap_id)
    rid = ref if ref in manifest["objects"] else _resolve(archive, ref)
    row = archive.conn.execute("SELECT status, version FROM records WHERE id = ?", (rid,)).fetchone()
    entry = manifest["objects"].get(rid)
    if (row is not None and row["status"] == "destroyed") or (entry is not None and entry["status"] == "destroyed"):
        raise UsageError(f"record {rid} was destroyed: a destroyed record is never restored")
    if entry is None:
        raise NotFound(f"record {rid} is not in snapshot {snap_id}")
    store = archive.store
    with store.object_lock(rid):
        root = store.object_path(rid)
        if not root.exists():
            _restore_object(repo, store, rid, entry)
            outcome, repaired = "restored", [f[0] for f in entry["files"]]
        else:
            repaired = _repair(repo, root, entry, store.staging)
            outcome = "repaired" if repaired else "intact"
    if outcome == "intact" and row is not None and row["version"] >= entry["version"]:
        return {"record_id": rid, "outcome": outcome, "files": []}
    head = vnum(store.inventory(rid)["head"])
    with archive.transaction() as conn:
        if row is None or row["version"] != head or outcome == "restored":
            adopt(archive, conn, rid)
            queue_index(conn, rid)
        archive.audit(conn, "record.restore", rid, details={"snapshot": snap_id, "repository": repo.id,
                                                            "outcome": outcome, "files": repaired})
    from dangan.core.search.indexing import drain
    drain(archive)
    return {"record_id": rid, "outcome": outcome, "files": repaired}


def _resolve(archive: Archive, ref: str) -> str:
    return archive.resolve(ref)


def _restore_object(repo: Repository, store, rid: str, entry: dict) -> None:
    rel = Path(entry["path"])
    staging = store.staging / f"{os.getpid()}-restore-{uuid.uuid4().hex}"
    tree = staging / "tree"
    try:
        _write_many(repo, [(d, tree / rel / f) for f, d, _s in entry["files"]])
        for dirpath, _dirs, files in os.walk(tree, topdown=False):
            for f in files:
                fd = os.open(os.path.join(dirpath, f), os.O_RDONLY)
                try:
                    os.fsync(fd)
                finally:
                    os.close(fd)
            fsync_dir(Path(dirpath))
        rename_in(tree, store.root, rel)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _sha512(path: Path) -> str | None:
    h = hashlib.sha512()
    try:
        with open(path, "rb") as fh:
            while chunk := fh.read(1 << 20):
                h.update(chunk)
    except FileNotFoundError:
        return None
    return h.hexdigest()


def _repair(repo: Repository, root: Path, entry: dict, staging: Path) -> list[str]:
    """Replace the files of a live object that the snapshot holds and the live object has lost or damaged."""
    try:
        inv = json.loads((root / "inventory.json").read_bytes())
        head = vnum(inv["head"])
        live = {p: d for d, paths in inv["manifest"].items() for p in paths}
    except (OSError, ValueError, KeyError):
        inv, head, live = None, entry["version"], {}
    repaired = []
    for rel, digest, _size in entry["files"]:
        top = rel.split("/")[0]
        if rel in live:
            should = live[rel] == digest                      # the live object names this content here
        elif "/content/" in f"/{rel}":
            should = inv is None
        elif top.startswith("v") and top[1:].isdigit():
            should = vnum(top) <= head                         # a version's own files never change
        else:
            should = head == entry["version"]                 # root inventory, sidecar, declaration
        if not should or _sha512(root / rel) == digest:
            continue
        path = root / rel
        tmp_dir = staging / f"{os.getpid()}-restore-{uuid.uuid4().hex}"     # swept by sweep_staging if we die
        _write(repo, digest, tmp_dir / "file")
        path.parent.mkdir(parents=True, exist_ok=True)
        os.replace(tmp_dir / "file", path)
        fsync_dir(path.parent)
        tmp_dir.rmdir()
        repaired.append(rel)
    return repaired
