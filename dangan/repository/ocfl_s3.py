"""The OCFL 1.1 storage root in an S3 bucket (``[store] url = "s3://bucket/prefix"``).

The same storage root as :mod:`.ocfl` writes to a folder, key for key (``prefix/0=ocfl_1.1``,
``prefix/abc/def/ghi/<sha256>/v1/content/…``), so ocfl-py validates it through fsspec/s3fs and a
``aws s3 sync`` of the prefix is a valid folder storage root.

S3 has no rename, so a version is published in an order a reader can trust at every step:

1. the content files of ``vN`` (each streamed from the local staging folder, multipart when large);
2. ``vN/inventory.json``, then ``vN/inventory.json.sha512``;
3. the root ``inventory.json``;
4. last, the root ``inventory.json.sha512`` — the *sidecar* is the commit point.

A version is published by :class:`~.ocfl_s3_draft.S3VersionDraft`; a batch's new objects together, their
requests overlapped, by :mod:`.ocfl_s3_group` (the same order per object).

Readers trust the sidecar: :meth:`S3OcflStore.inventory` returns the inventory whose sha512 the root
sidecar names (the root inventory, or — if a writer died between 3 and 4 — the version inventory the
sidecar still names).  An object without a root sidecar does not exist.  Recovery (run under the
object's lock before every publish, and by ``settle_intent``) rolls a complete ``vN`` (2 done) forward
and deletes what a dead writer left of an incomplete one (content without its version inventory and
sidecar, unfinished multipart uploads).  Nothing trusted is ever overwritten: the only keys put twice
are the root inventory and its sidecar, as in the folder store's atomic replace.

Staging, the per-object lock and the extraction of a staged file are the folder store's (``.work`` on
local disk), so ingest, revise and sealing run unchanged: confidential files are already encrypted
when they are staged (``core.confidential.sealing``), so only ciphertext leaves the process.  The lock
serialises writers of one object on one machine; writers on several machines are serialised by the shared
catalogue's intent lease on the object (``core.catalogue.leases``: a try-lock, the second told to try again).
"""
from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from ..errors import IntegrityError, NotFound, UsageError
from .ocfl import (LAYOUT, ROOT_DECLARATION, OcflStore, StoredFile, VersionDraft, sidecar_bytes, vnum)
from . import s3_published
from .s3client import S3

INV, SIDE = "inventory.json", "inventory.json.sha512"
#: the largest file a reading() view keeps once read (metadata.json, extracted text)
MEMO_FILE_BYTES = 1024 * 1024
#: trusted inventories by their sha512, shared by the process's stores (a batch's group commit has an archive
#: of its own): the sidecar is read every time, and the bytes it names never change
_INVENTORIES: dict[str, bytes] = {}
_INVENTORIES_LOCK = threading.Lock()


def _side_digest(side: bytes) -> str:
    return side.decode("ascii", "replace").split()[0] if side.strip() else ""


class S3OcflStore(OcflStore):
    """An OCFL storage root at ``url`` (``s3://bucket/prefix``); ``work`` is the local staging/lock folder."""

    remote = True

    def __init__(self, url: str, work: Path, endpoint_url: str | None = None) -> None:
        super().__init__(Path(work) / "s3-root-unused", work)
        self.s3 = S3(url, endpoint_url)
        self.url = self.s3.place.url
        self.location = self.url
        self._inventories = _INVENTORIES
        self._scope = threading.local()           # reading(): this thread's memo of one consistent view

    @classmethod
    def create_s3(cls, url: str, work: Path, endpoint_url: str | None = None) -> "S3OcflStore":
        store = cls(url, work, endpoint_url)
        s3 = store.s3
        s3.ensure_bucket()
        if s3.exists(ROOT_DECLARATION) or next(iter(s3.keys("")), None) is not None:
            raise UsageError(f"{store.url} is not empty: give a new prefix for a new archive's store")
        s3.put("ocfl_layout.json", json.dumps({
            "extension": "0004-hashed-n-tuple-storage-layout",
            "description": "Hashed Truncated N-tuple Trees with Object ID Encapsulating Directory",
        }, indent=1).encode() + b"\n")
        s3.put("extensions/0004-hashed-n-tuple-storage-layout/config.json",
               json.dumps(LAYOUT, indent=1).encode() + b"\n")
        s3.put(ROOT_DECLARATION, b"ocfl_1.1\n")           # last: the storage root exists from here
        store.staging.mkdir(parents=True, exist_ok=True)
        store.locks.mkdir(parents=True, exist_ok=True)
        return store

    # -- addresses ------------------------------------------------------------
    def object_path(self, object_id: str) -> Path:
        raise UsageError("this store is in a bucket (S3): its objects have keys, not folders")

    def iter_object_roots(self) -> Iterator[Path]:
        raise UsageError("this store is in a bucket (S3): walk it with object_ids/object_rels, not folders")

    def count_objects(self) -> int:
        return sum(1 for _ in self.object_rels())

    def exists(self, object_id: str) -> bool:
        return self.s3.exists(f"{self.object_rel(object_id)}/{SIDE}")

    def is_storage_root(self) -> bool:
        return self.s3.exists(ROOT_DECLARATION)

    def object_ids(self) -> Iterator[str]:
        """The id of every published object (one with a root sidecar), in key order."""
        for key in self.s3.keys(""):
            parts = key.split("/")
            if len(parts) == 5 and parts[4] == SIDE and len(parts[3]) == 64:
                try:
                    yield self.inventory_at("/".join(parts[:4]))["id"]
                except NotFound:
                    continue

    def root_files(self) -> list[tuple[str, bytes]]:
        """The storage root's own small files: its declaration, ``ocfl_layout.json``, ``extensions/…``."""
        out = []
        for key in [ROOT_DECLARATION, "ocfl_layout.json", *self.s3.keys("extensions/")]:
            data = self.s3.get(key, missing_ok=True)
            if data is not None:
                out.append((key, data))
        return sorted(out)

    def object_rels(self) -> Iterator[str]:
        """The place of every object that has a root sidecar (a published one), in key order."""
        for key in self.s3.keys(""):
            parts = key.split("/")
            if len(parts) == 5 and parts[4] == SIDE and len(parts[3]) == 64:
                yield "/".join(parts[:4])

    def object_file(self, rel: str, name: str) -> bytes:
        """One file of the object at ``rel`` (FileNotFoundError if it is not there, as on a folder)."""
        data = self.s3.get(f"{rel}/{name}", missing_ok=True)
        if data is None:
            raise FileNotFoundError(f"{rel}/{name}")
        return data

    # -- reading --------------------------------------------------------------
    @contextmanager
    def reading(self) -> Iterator[None]:
        """A moment's consistent view, for this thread: inside it each object's sidecar is read once, its keys
        listed once and each of its small files fetched once (the indexer reads a record's inventory, metadata
        and text four times over).  Outside it every read goes to the bucket, as a reader that must see the
        latest version (``check``, ``get``, a revision) needs."""
        if getattr(self._scope, "memo", None) is not None:
            yield
            return
        self._scope.memo = {}
        try:
            yield
        finally:
            self._scope.memo = None

    def _memo(self) -> dict | None:
        return getattr(self._scope, "memo", None)

    def inventory(self, object_id: str) -> dict:
        return self.inventory_at(self.object_rel(object_id), object_id)

    def inventory_at(self, rel: str, object_id: str | None = None) -> dict:
        """The trusted inventory of the object at ``rel``: the one whose digest the root sidecar names."""
        what = repr(object_id) if object_id else rel
        memo = self._memo()
        if memo is not None and ("side", rel) in memo:
            side = memo["side", rel]
        else:
            side = self.s3.get(f"{rel}/{SIDE}", missing_ok=True)
            if memo is not None:
                memo["side", rel] = side
        if side is None:
            raise NotFound(f"no object {what} in the store")
        want = _side_digest(side)
        cached = self._inventories.get(want)        # content-addressed: the same digest is the same bytes
        if cached is not None:
            return json.loads(cached)
        data = self.s3.get(f"{rel}/{INV}", missing_ok=True) or b""
        if hashlib.sha512(data).hexdigest() != want:
            data = b""
            for v in sorted((c for c in self.s3.children(rel) if _is_vname(c)), key=vnum, reverse=True):
                cand = self.s3.get(f"{rel}/{v}/{INV}", missing_ok=True) or b""
                if hashlib.sha512(cand).hexdigest() == want:
                    data = cand
                    break
            if not data:
                raise IntegrityError(f"object {what}: no inventory matches its sidecar {rel}/{SIDE}")
        try:
            inv = json.loads(data)
        except ValueError as exc:
            raise IntegrityError(f"object {what}: inventory.json is not valid JSON ({exc})") from None
        self._remember(want, data)
        return inv

    def _remember(self, digest: str, data: bytes) -> None:
        with _INVENTORIES_LOCK:                      # publish and the indexer's readers run in threads
            if len(self._inventories) >= 1024:
                self._inventories.pop(next(iter(self._inventories)))
            self._inventories[digest] = data

    def files(self, object_id: str, version: int | None = None, inventory: dict | None = None) -> list[StoredFile]:
        inv = inventory or self.inventory(object_id)
        vname = inv["head"] if version is None else f"v{version}"
        if vname not in inv["versions"]:
            raise NotFound(f"object {object_id} has no version {vname}")
        rel = self.object_rel(object_id)
        memo = self._memo()
        sizes = memo.get(("sizes", rel)) if memo is not None else None
        if sizes is None and memo is not None:           # all published by this process: no listing needed
            mine = {f"{rel}/{c[0]}": s3_published.get(self.url, f"{rel}/{c[0]}") for c in inv["manifest"].values()}
            if all(v is not None for v in mine.values()):
                sizes = {k: len(v) for k, v in mine.items() if v is not None}
        if sizes is None:
            sizes = dict(self.s3.sized_keys(rel + "/"))      # one listing, not a HEAD per file
            if memo is not None:
                memo["sizes", rel] = sizes
        out = []
        for digest, paths in inv["versions"][vname]["state"].items():
            content = inv["manifest"][digest][0]
            size = sizes.get(f"{rel}/{content}", -1)
            for lp in paths:
                out.append(StoredFile(lp, digest, content, size))
        return sorted(out, key=lambda f: f.logical_path)

    def read_chunks(self, object_id: str, stored: StoredFile) -> Iterator[bytes]:
        key = f"{self.object_rel(object_id)}/{stored.content_path}"
        memo = self._memo()
        kept = memo is not None and 0 <= stored.size <= MEMO_FILE_BYTES
        if kept and memo is not None and ("file", key) in memo:     # read and checked once in this view
            yield memo["file", key]
            return
        mine = s3_published.get(self.url, key) if memo is not None else None
        if mine is not None and hashlib.sha512(mine).hexdigest() == stored.digest:
            yield mine                                   # published by this process a moment ago (s3_published)
            return
        h = hashlib.sha512()
        got = bytearray()
        try:
            for chunk in self.s3.chunks(key):
                h.update(chunk)
                if kept:
                    got += chunk
                yield chunk
        except NotFound:
            raise IntegrityError(f"object {object_id}: content file {stored.content_path} is missing") from None
        if h.hexdigest() != stored.digest:
            raise IntegrityError(
                f"object {object_id}: {stored.logical_path} fails its sha512 check (content {stored.content_path})")
        if kept and memo is not None:
            memo["file", key] = bytes(got)

    def read_range(self, object_id: str, stored: StoredFile, start: int, end: int) -> Iterator[bytes]:
        return self.s3.chunks(f"{self.object_rel(object_id)}/{stored.content_path}", start, end)

    def local_object(self, object_id: str, *, trusted: bool = False):
        return self.local_object_at(self.object_rel(object_id), trusted=trusted)

    @contextmanager
    def local_object_at(self, rel: str, *, trusted: bool = False) -> Iterator[Path]:
        """A private local copy of the object's keys (stored bytes: sealed files stay ciphertext), for the folder
        validator and snapshots; deleted afterwards.  The copy sits at its place below a private root
        (``copy.parents[3]`` is that root, as a folder store's root is).

        ``trusted``: only what the root sidecar publishes — the inventory it names as the root inventory, and
        no version past that inventory's head — as a reader sees an object a live writer is publishing (its
        next version's keys, and the root inventory put before the sidecar, are not the object yet)."""
        self.work.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix="mirror-", dir=self.work))
        try:
            dest = tmp / rel
            dest.mkdir(mode=0o700, parents=True)
            root_files: dict[str, bytes] = {}
            head = 0
            if trusted:
                side = self.s3.get(f"{rel}/{SIDE}")
                assert side is not None
                head = vnum(self.inventory_at(rel)["head"])
                root_files = {SIDE: side, INV: self._inventories.get(_side_digest(side)) or b""}
                if not root_files[INV]:
                    raise IntegrityError(f"{rel}: no inventory matches its sidecar")
            for key in self.s3.keys(rel + "/"):
                name = key[len(rel) + 1:]
                first = name.split("/", 1)[0]
                if trusted and (name in root_files or (_is_vname(first) and "/" in name and vnum(first) > head)):
                    continue
                target = dest / name
                target.parent.mkdir(parents=True, exist_ok=True)
                with open(target, "xb") as out:
                    for chunk in self.s3.chunks(key):
                        out.write(chunk)
            for name, data in root_files.items():
                (dest / name).write_bytes(data)
            yield dest
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    @contextmanager
    def local_file(self, object_id: str, stored: StoredFile) -> Iterator[Path]:
        """One stored file (its stored bytes, digest-checked) in a private temporary folder."""
        self.work.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix="mirror-", dir=self.work))
        try:
            target = tmp / Path(stored.content_path).name
            with open(target, "xb") as out:
                for chunk in self.read_chunks(object_id, stored):
                    out.write(chunk)
            yield target
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    # -- writing --------------------------------------------------------------
    def stage(self, object_id: str, *, durable: bool = True) -> VersionDraft:
        """A draft of the next version.  Its staged files are never fsynced: they are a scratch copy, and each
        upload is durable once acknowledged.  ``durable`` False (a batch's group commit) publishes it with
        :func:`~.ocfl_s3_group.publish_new_objects_s3`; True with :meth:`.ocfl_s3_draft.S3VersionDraft.publish`."""
        from .ocfl_s3_draft import S3VersionDraft
        draft = S3VersionDraft(self, object_id, durable=False)
        draft.grouped = not durable
        return draft

    def _recover_locked(self, object_id: str) -> bool:
        """Roll a complete unpublished version forward; delete what a dead writer left of an incomplete one."""
        s3, rel = self.s3, self.object_rel(object_id)
        keys = list(s3.keys(rel + "/"))
        if not keys:            # (a writer puts the object's declaration before any upload: nothing was begun)
            return False
        aborted = s3.abort_uploads(rel + "/")
        by_version: dict[str, list[str]] = {}
        for k in keys:
            first = k[len(rel) + 1:].split("/", 1)[0]
            if _is_vname(first):
                by_version.setdefault(first, []).append(k)
        complete = None
        for v in sorted(by_version, key=vnum, reverse=True):
            inv = s3.get(f"{rel}/{v}/{INV}", missing_ok=True)
            side = s3.get(f"{rel}/{v}/{SIDE}", missing_ok=True)
            if inv is not None and side is not None and hashlib.sha512(inv).hexdigest() == _side_digest(side):
                complete = (v, inv, side)
                break
        doomed = [k for v, ks in by_version.items() if complete is None or vnum(v) > vnum(complete[0]) for k in ks]
        if complete is None:                      # a new object whose first version never completed
            _delete_object(s3, rel, keys)
            return True
        repaired = aborted > 0
        if doomed:
            for v in {k[len(rel) + 1:].split("/", 1)[0] for k in doomed}:
                s3.delete([k for k in doomed if k.startswith(f"{rel}/{v}/")], folders_under=f"{rel}/{v}")
            repaired = True
        v, inv, side = complete
        if s3.get(f"{rel}/{INV}", missing_ok=True) != inv:
            s3.put(f"{rel}/{INV}", inv)
            repaired = True
        if s3.get(f"{rel}/{SIDE}", missing_ok=True) != sidecar_bytes(inv):
            s3.put(f"{rel}/{SIDE}", sidecar_bytes(inv))
            repaired = True
        return repaired

    # -- destruction: the object's keys are deleted (the sidecar first, so nothing half-deleted is trusted) --
    def set_aside(self, object_id: str) -> bool:
        with self.object_lock(object_id):
            rel = self.object_rel(object_id)
            keys = list(self.s3.keys(rel + "/"))
            if not keys:
                return False
            _delete_object(self.s3, rel, keys)
            self.s3.abort_uploads(rel + "/")
            return True


def _delete_object(s3: S3, rel: str, keys: list[str]) -> None:
    """Delete an object's keys: the sidecar first (from then on nothing of it is trusted), then the root
    inventory, then the rest and the folders they leave (tuple folders too: a folder that still holds
    another object's keys is not deleted)."""
    s3.delete([f"{rel}/{SIDE}"])
    s3.delete([f"{rel}/{INV}"])
    s3.delete([k for k in keys if k not in (f"{rel}/{SIDE}", f"{rel}/{INV}")], folders_under="")


def _is_vname(name: str) -> bool:
    return len(name) > 1 and name[0] == "v" and name[1:].isdigit()
