"""An OCFL 1.1 storage root, written by dangan itself.

Layout: extension 0004-hashed-n-tuple (sha256 of the object id, 3 tuples of
3), inventories with sha512.  One record is one object.

Writing a version (``OcflStore.stage`` → ``VersionDraft.publish``):

1. files are copied (and hashed) into a private staging folder on the same
   filesystem, each file fsynced;
2. under the object's lock the next version number is fixed, content already
   in the object is deduplicated, the version's inventory and sidecar are
   written inside the staged version, and every staged folder is fsynced;
3. the staged ``vN`` is renamed into the object (a new object is renamed in
   whole, root inventory included), then the root inventory and, last, its
   sidecar are replaced atomically and fsynced.

A crash between 3's rename and the root inventory leaves a complete ``vN``
that the root inventory does not name yet; ``recover`` rolls it forward
(the version's own inventory is the truth).  Nothing is ever overwritten.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, BinaryIO, Iterator

from ..errors import IntegrityError, NotFound, UsageError
from .fsutil import (CHUNK, flocked, fsync_dir, fsync_tree, pid_alive, prune_empty, rename, rename_in, replace_durable,
                     subdirs, translate_oserror, write_durable)
from .paths import check_logical_path, check_no_conflicts

OBJECT_DECLARATION = "0=ocfl_object_1.1"
ROOT_DECLARATION = "0=ocfl_1.1"
INVENTORY_TYPE = "https://ocfl.io/1.1/spec/#inventory"
LAYOUT = {
    "extensionName": "0004-hashed-n-tuple-storage-layout",
    "digestAlgorithm": "sha256",
    "tupleSize": 3,
    "numberOfTuples": 3,
    "shortObjectRoot": False,
}


def now_rfc3339() -> str:
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def inventory_bytes(inventory: dict) -> bytes:
    return json.dumps(inventory, indent=1, ensure_ascii=False, sort_keys=True).encode("utf-8") + b"\n"


def sidecar_bytes(inv_bytes: bytes) -> bytes:
    return f"{hashlib.sha512(inv_bytes).hexdigest()}  inventory.json\n".encode()


def vnum(name: str) -> int:
    return int(name[1:])


@dataclass(frozen=True)
class PublishedVersion:
    object_id: str
    version: int
    inventory: dict


@dataclass(frozen=True)
class StoredFile:
    logical_path: str
    digest: str
    content_path: str   # relative to the object root
    size: int


class OcflStore:
    """The OCFL storage root at ``root``; ``work`` holds staging and lock files (``ocfl_s3``: in a bucket)."""

    remote = False       # True for a storage root in a bucket (no folders to hand to a tool)

    def __init__(self, root: Path, work: Path) -> None:
        self.root = Path(root)
        self.location = str(self.root)
        self.work = Path(work)
        self.staging = self.work / "staging"
        self.locks = self.work / "locks"
        self.doomed = self.work / "doomed"

    # -- storage root -------------------------------------------------------
    @classmethod
    def create(cls, root: Path, work: Path) -> "OcflStore":
        root = Path(root)
        root.mkdir(parents=True, exist_ok=False)
        write_durable(root / ROOT_DECLARATION, b"ocfl_1.1\n")
        write_durable(root / "ocfl_layout.json", json.dumps({
            "extension": "0004-hashed-n-tuple-storage-layout",
            "description": "Hashed Truncated N-tuple Trees with Object ID Encapsulating Directory",
        }, indent=1).encode() + b"\n")
        ext = root / "extensions" / "0004-hashed-n-tuple-storage-layout"
        ext.mkdir(parents=True)
        write_durable(ext / "config.json", json.dumps(LAYOUT, indent=1).encode() + b"\n")
        for d in (ext, ext.parent, root, root.parent):
            fsync_dir(d)
        store = cls(root, work)
        store.staging.mkdir(parents=True, exist_ok=True)
        store.locks.mkdir(parents=True, exist_ok=True)
        return store

    def object_path(self, object_id: str) -> Path:
        d = hashlib.sha256(object_id.encode("utf-8")).hexdigest()
        return self.root / d[0:3] / d[3:6] / d[6:9] / d

    @staticmethod
    def object_rel(object_id: str) -> str:
        """The object's place below the storage root (its folder, or its keys' prefix in a bucket)."""
        d = hashlib.sha256(object_id.encode("utf-8")).hexdigest()
        return f"{d[0:3]}/{d[3:6]}/{d[6:9]}/{d}"

    def exists(self, object_id: str) -> bool:
        return (self.object_path(object_id) / "inventory.json").is_file()

    def is_storage_root(self) -> bool:
        return self.root.is_dir()

    def count_objects(self) -> int:
        return sum(1 for _ in self.iter_object_roots())

    def object_ids(self) -> Iterator[str]:
        """The id of every object (read from its inventory)."""
        for obj in self.iter_object_roots():
            yield self.inventory_at_root(obj)["id"]

    def inventory_at_root(self, obj: Path) -> dict:
        try:
            return json.loads((obj / "inventory.json").read_bytes())
        except (OSError, ValueError) as exc:
            raise IntegrityError(f"cannot read the inventory of {obj}: {exc}") from None

    @contextmanager
    def local_object(self, object_id: str, *, trusted: bool = False) -> Iterator[Path]:
        """The object's folder, for tools that read files (``ocfl_s3``: a private local copy; ``trusted``: of the
        published state alone — a folder's version is published by a rename, so its folder is that already)."""
        yield self.object_path(object_id)

    @contextmanager
    def local_file(self, object_id: str, stored: "StoredFile") -> Iterator[Path]:
        """One stored file as a local path, for tools that read files (``ocfl_s3``: a private temporary copy)."""
        yield self.object_path(object_id) / stored.content_path

    def read_range(self, object_id: str, stored: "StoredFile", start: int, end: int) -> Iterator[bytes]:
        """Bytes ``start``..``end`` (inclusive) of a stored file, unverified (a range has no digest)."""
        with open(self.object_path(object_id) / stored.content_path, "rb") as fh:
            fh.seek(start)
            left = end - start + 1
            while left > 0 and (chunk := fh.read(min(CHUNK, left))):
                left -= len(chunk)
                yield chunk

    def iter_object_roots(self) -> Iterator[Path]:
        """Every object root in the storage root (walks the 3-level tuple tree)."""
        for a in sorted(subdirs(self.root)):
            if a.name == "extensions":
                continue
            for b in sorted(subdirs(a)):
                for c in sorted(subdirs(b)):
                    for obj in sorted(subdirs(c)):
                        if (obj / OBJECT_DECLARATION).exists():
                            yield obj

    # -- locking ------------------------------------------------------------
    @contextmanager
    def object_lock(self, object_id: str) -> Iterator[None]:
        """Serialise writers of one object (across threads and processes)."""
        self.locks.mkdir(parents=True, exist_ok=True)
        name = hashlib.sha256(object_id.encode()).hexdigest()[:32] + ".lock"
        with flocked(self.locks / name):
            yield

    # -- reading ------------------------------------------------------------
    @contextmanager
    def reading(self) -> Iterator[None]:
        """A moment's consistent view for several reads of the same objects (a bucket store reads each
        object's inventory and small files once inside it); on a folder every read is local: nothing to keep."""
        yield

    def inventory(self, object_id: str) -> dict:
        path = self.object_path(object_id) / "inventory.json"
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise NotFound(f"no object {object_id!r} in the store") from None
        try:
            return json.loads(data)
        except ValueError as exc:
            raise IntegrityError(f"object {object_id}: inventory.json is not valid JSON ({exc})") from None

    def files(self, object_id: str, version: int | None = None, inventory: dict | None = None) -> list[StoredFile]:
        inv = inventory or self.inventory(object_id)
        vname = inv["head"] if version is None else f"v{version}"
        if vname not in inv["versions"]:
            raise NotFound(f"object {object_id} has no version {vname}")
        root = self.object_path(object_id)
        out = []
        for digest, paths in inv["versions"][vname]["state"].items():
            content = inv["manifest"][digest][0]
            try:
                size = (root / content).stat().st_size
            except FileNotFoundError:
                size = -1
            for lp in paths:
                out.append(StoredFile(lp, digest, content, size))
        return sorted(out, key=lambda f: f.logical_path)

    def read_chunks(self, object_id: str, stored: StoredFile) -> Iterator[bytes]:
        """Yield the file's bytes; raise IntegrityError at the end if the digest differs."""
        path = self.object_path(object_id) / stored.content_path
        h = hashlib.sha512()
        try:
            fh = open(path, "rb")
        except FileNotFoundError:
            raise IntegrityError(f"object {object_id}: content file {stored.content_path} is missing") from None
        with fh:
            while chunk := fh.read(CHUNK):
                h.update(chunk)
                yield chunk
        if h.hexdigest() != stored.digest:
            raise IntegrityError(
                f"object {object_id}: {stored.logical_path} fails its sha512 check (content {stored.content_path})"
            )

    def read_bytes(self, object_id: str, logical_path: str, version: int | None = None) -> bytes:
        for f in self.files(object_id, version):
            if f.logical_path == logical_path:
                return b"".join(self.read_chunks(object_id, f))
        raise NotFound(f"object {object_id} has no file {logical_path!r}")

    # -- writing ------------------------------------------------------------
    def stage(self, object_id: str, *, durable: bool = True) -> "VersionDraft":
        """A draft of ``object_id``'s next version.  ``durable`` False: its files are not fsynced one by one;
        only ``ocfl_group.publish_new_objects`` may publish it (one filesystem sync for the whole group)."""
        return VersionDraft(self, object_id, durable=durable)

    def recover(self, object_id: str) -> bool:
        """Roll a half-published version forward; True if anything was repaired."""
        with self.object_lock(object_id):
            return self._recover_locked(object_id)

    def _recover_locked(self, object_id: str) -> bool:
        root = self.object_path(object_id)
        if not root.is_dir():
            return False
        repaired = False
        for tmp in root.glob("*.tmp"):
            tmp.unlink()
            repaired = True
        versions = sorted((p for p in root.iterdir() if p.is_dir() and p.name.startswith("v") and p.name[1:].isdigit()),
                          key=lambda p: vnum(p.name))
        if not versions:
            return repaired
        head_dir = versions[-1]
        inv = (head_dir / "inventory.json").read_bytes()
        root_inv = root / "inventory.json"
        side = sidecar_bytes(inv)
        current = root_inv.read_bytes() if root_inv.exists() else b""
        sidecar = root / "inventory.json.sha512"
        current_side = sidecar.read_bytes() if sidecar.exists() else b""
        if current != inv:
            replace_durable(root_inv, inv)
            repaired = True
        if current_side != side:
            replace_durable(sidecar, side)
            repaired = True
        return repaired

    def sweep_staging(self) -> int:
        """Remove staging folders whose writing process is gone (after a crash)."""
        removed = 0
        if not self.staging.is_dir():
            return 0
        for d in self.staging.iterdir():
            pid = d.name.split("-", 1)[0]
            if pid.isdigit() and pid_alive(int(pid)):
                continue
            shutil.rmtree(d, ignore_errors=True)
            removed += 1
        return removed

    # -- destruction: the object leaves in one rename; deleted once the destruction is committed --------------
    def doomed_path(self, object_id: str) -> Path:
        return self.doomed / hashlib.sha256(object_id.encode()).hexdigest()

    def set_aside(self, object_id: str) -> bool:
        """Rename the object out of the storage root to ``doomed_path`` (its tuple folders stay for the tombstone)."""
        with self.object_lock(object_id):
            root, doomed = self.object_path(object_id), self.doomed_path(object_id)
            if not root.exists():
                return False
            self.doomed.mkdir(parents=True, exist_ok=True)
            if doomed.exists():               # an earlier attempt's leftovers: keep both
                doomed = doomed.with_name(f"{doomed.name}-{uuid.uuid4().hex[:8]}")
            rename(root, doomed)
            fsync_dir(root.parent)
            fsync_dir(self.doomed)
            return True

    def discard_doomed(self, object_id: str) -> None:
        """Delete the set-aside object(s) of ``object_id``."""
        prefix = self.doomed_path(object_id).name
        for d in subdirs(self.doomed):
            if d.name.split("-", 1)[0] == prefix:
                shutil.rmtree(d, ignore_errors=True)     # (recovery may be deleting it too)



def base_inventory(store, object_id: str, new_object: bool, where: object) -> tuple[dict[str, Any], str]:
    """The inventory the next version of ``object_id`` starts from (a new object's empty one, or the head's,
    whose id must match) and that version's name; ``where`` names the object in the error."""
    if new_object:
        inv: dict[str, Any] = {"id": object_id, "type": INVENTORY_TYPE, "digestAlgorithm": "sha512", "head": "v0",
                               "manifest": {}, "versions": {}}
    else:
        inv = store.inventory(object_id)
        if inv.get("id") != object_id:
            raise IntegrityError(f"object at {where} holds id {inv.get('id')!r}, not {object_id!r}")
    return inv, f"v{vnum(inv['head']) + 1}"


def head_version(inv: dict[str, Any], vname: str, state: dict[str, list[str]], message: str, user_name: str,
                 user_address: str | None, created: str) -> tuple[bytes, bytes]:
    """Add version ``vname`` with ``state`` to ``inv`` as its head; the inventory's bytes and its sidecar's."""
    user = {"name": user_name}
    if user_address:
        user["address"] = user_address
    inv["versions"][vname] = {"created": created, "message": message, "user": user, "state": state}
    inv["head"] = vname
    data = inventory_bytes(inv)
    return data, sidecar_bytes(data)

class VersionDraft:
    """A version being staged; ``publish`` makes it the object's new head."""

    def __init__(self, store: OcflStore, object_id: str, *, durable: bool = True) -> None:
        if not object_id:
            raise UsageError("an object needs an id")
        self.store = store
        self.object_id = object_id
        self.durable = durable
        self.dir = store.staging / f"{os.getpid()}-{uuid.uuid4().hex}"
        # A draft for group publishing (``ocfl_group``: always a new object's v1) is staged in its object's
        # tree from the start (``tree/<tuples>/<object>/v1``, with its declaration), so the group's commit
        # only writes the inventories and renames; a durable draft stages ``ver`` and moves it at publish.  A
        # bucket's drafts (not durable either: the upload is the durable write) have no tree to be renamed into.
        self._tree_obj: Path | None = None if durable or store.remote else (
            self.dir / "tree" / store.object_path(object_id).relative_to(store.root))
        self.ver_dir = self.dir / "ver" if self._tree_obj is None else self._tree_obj / "v1"
        self.content = self.ver_dir / "content"
        self.state: dict[str, str] = {}          # logical path -> digest
        self.sizes: dict[str, int] = {}
        self._staged: dict[str, Path] = {}       # logical path -> staged file
        self._alias: set[str] = set()            # logical paths whose bytes are another path's staged file
        self._left: list[Path] = []              # empty folders a group publish leaves (removed by discard)
        try:
            levels = [store.staging / d for d in reversed(self.content.relative_to(store.staging).parents[:-1])]
            try:                                 # top down, one mkdir a level, no failed tries
                os.mkdir(levels[0])
            except FileNotFoundError:            # no staging folder yet (a node folder that never wrote)
                os.makedirs(levels[0])
            for d in levels[1:]:
                os.mkdir(d)
            os.mkdir(self.content)
            if self._tree_obj is not None:
                _write(self._tree_obj / OBJECT_DECLARATION, b"ocfl_object_1.1\n", False)
        except OSError as exc:
            raise translate_oserror(exc, "staging a new version") from exc

    def __enter__(self) -> "VersionDraft":
        return self

    def __exit__(self, *exc) -> None:
        self.discard()

    def discard(self) -> None:
        if self._left:          # published in a group: only the staged tree's empty folders are left
            try:
                for d in self._left:
                    os.rmdir(d)
                return
            except OSError:
                pass
            finally:
                self._left = []
        shutil.rmtree(self.dir, ignore_errors=True)

    def _target(self, logical_path: str) -> Path:
        check_logical_path(logical_path)
        if logical_path in self.state:
            raise UsageError(f"logical path {logical_path!r} given twice")
        target = self.content / logical_path
        target.parent.mkdir(parents=True, exist_ok=True)
        return target

    def add_stream(self, logical_path: str, src: BinaryIO) -> tuple[int, str]:
        """Copy ``src`` into the version, hashing as it goes; returns (size, sha512)."""
        from .copying import copy_hashed
        target = self._target(logical_path)
        try:
            with open(target, "xb") as out:
                size, digest = copy_hashed(src, out)
                out.flush()
                if self.durable:
                    os.fsync(out.fileno())
        except OSError as exc:
            raise translate_oserror(exc, f"staging {logical_path}") from exc
        self.state[logical_path] = digest
        self.sizes[logical_path] = size
        self._staged[logical_path] = target
        return size, digest

    def add_file(self, logical_path: str, source: Path) -> tuple[int, str]:
        with open(source, "rb") as src:
            return self.add_stream(logical_path, src)

    def add_bytes(self, logical_path: str, data: bytes) -> tuple[int, str]:
        """Add ``data``; bytes already staged in this draft (a text file's extracted text) are not written twice:
        the new path shares the staged file, as OCFL's manifest shares one content path among logical ones."""
        digest = hashlib.sha512(data).hexdigest()
        same = next((lp for lp, d in self.state.items() if d == digest and lp in self._staged
                     and lp not in self._alias), None)
        if same is None:
            import io
            return self.add_stream(logical_path, io.BytesIO(data))
        check_logical_path(logical_path)
        if logical_path in self.state:
            raise UsageError(f"logical path {logical_path!r} given twice")
        self.state[logical_path] = digest
        self.sizes[logical_path] = len(data)
        self._staged[logical_path] = self._staged[same]
        self._alias.add(logical_path)
        return len(data), digest

    def staged_file(self, logical_path: str) -> Path | None:
        """The staged copy of a file added to this draft (None for one kept from the previous version)."""
        return self._staged.get(logical_path)

    def keep(self, logical_path: str, digest: str) -> None:
        """Carry a file of the previous version over unchanged (no copy)."""
        check_logical_path(logical_path)
        self.state[logical_path] = digest

    def publish(self, *, message: str, user_name: str, user_address: str | None = None,
                created: str | None = None) -> PublishedVersion:
        if not self.durable:
            raise UsageError("a draft staged without fsyncs is published only with ocfl_group.publish_new_objects")
        check_no_conflicts(list(self.state))
        store = self.store
        try:
            with store.object_lock(self.object_id):
                store._recover_locked(self.object_id)
                return self._publish_locked(message, user_name, user_address, created or now_rfc3339())
        except OSError as exc:
            raise translate_oserror(exc, "publishing a version") from exc
        finally:
            self.discard()

    def _publish_locked(self, message: str, user_name: str, user_address: str | None, created: str) -> PublishedVersion:
        store = self.store
        obj = store.object_path(self.object_id)
        new_object = not (obj / "inventory.json").exists()
        inv, data, side, n = self._version_inventory(new_object, message, user_name, user_address, created)
        ver_dir = self.ver_dir
        vname = f"v{n}"
        fsync_tree(ver_dir)
        if new_object:
            rel = self._stage_object_tree(vname, data, side)
            fsync_tree(self.dir / "tree")
            rename_in(self.dir / "tree", store.root, rel)
        else:
            rename(ver_dir, obj / vname)
            fsync_dir(obj)
            replace_durable(obj / "inventory.json", data)
            replace_durable(obj / "inventory.json.sha512", side)
        return PublishedVersion(self.object_id, n, inv)

    def _stage_object_tree(self, vname: str, data: bytes, side: bytes) -> Path:
        """A new object, whole, in ``staging/…/tree`` (declaration, ``vN``, root inventory); returns its path
        below the storage root."""
        obj = self.store.object_path(self.object_id)
        rel = obj.relative_to(self.store.root)
        if self._tree_obj is not None:          # staged in its tree from the start (a group's draft)
            if vname != "v1":
                raise UsageError(f"object {self.object_id} exists: only new objects are published in a group")
            _write(self._tree_obj / "inventory.json", data, self.durable)
            _write(self._tree_obj / "inventory.json.sha512", side, self.durable)
            return rel
        staged_obj = self.dir / "tree"
        os.mkdir(staged_obj)
        for part in rel.parts:                  # one mkdir a level, no failed tries
            staged_obj = staged_obj / part
            os.mkdir(staged_obj)
        _write(staged_obj / OBJECT_DECLARATION, b"ocfl_object_1.1\n", self.durable)
        rename(self.dir / "ver", staged_obj / vname)
        _write(staged_obj / "inventory.json", data, self.durable)
        _write(staged_obj / "inventory.json.sha512", side, self.durable)
        return rel

    def _version_inventory(self, new_object: bool, message: str, user_name: str, user_address: str | None,
                           created: str) -> tuple[dict, bytes, bytes, int]:
        """The next version's inventory (and its sidecar) written into the staged ``ver``; content already in
        the object deduplicated."""
        store = self.store
        inv, vname = base_inventory(store, self.object_id, new_object, store.object_path(self.object_id))
        n = vnum(vname)
        ver_dir = self.ver_dir
        state: dict[str, list[str]] = {}
        unlinked = False
        for lp, digest in sorted(self.state.items()):
            state.setdefault(digest, []).append(lp)
        for lp, digest in sorted(self.state.items()):
            staged = self._staged.get(lp)
            if lp in self._alias:
                continue                     # its bytes are another logical path's staged file
            if digest in inv["manifest"]:
                if staged is not None:
                    staged.unlink()          # already stored: deduplicate
                    unlinked = True
            elif staged is not None:
                inv["manifest"][digest] = [f"{vname}/content/{lp}"]
            else:
                raise IntegrityError(f"cannot keep {lp!r}: digest not in object {self.object_id}")
        if unlinked or not self._staged:
            prune_empty(self.content)
        data, side = head_version(inv, vname, state, message, user_name, user_address, created)
        _write(ver_dir / "inventory.json", data, self.durable)
        _write(ver_dir / "inventory.json.sha512", side, self.durable)
        return inv, data, side, n


def _write(path: Path, data: bytes, durable: bool) -> None:
    if durable:
        write_durable(path, data)
    else:
        path.write_bytes(data)
