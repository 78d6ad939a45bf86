"""One version of an object published to a bucket by itself, in the order a reader can trust
(:mod:`.ocfl_s3`'s docstring): a revision, a derivative version, or a single file's ingest.  A batch's new
objects are published together by :mod:`.ocfl_s3_group`.  A new object's declaration and content may have
been uploaded ahead (:func:`.ocfl_s3_group.upload_new_objects_s3`, before the caller's catalogue
transaction): then only what was staged since and the inventories are put here."""
from __future__ import annotations

import hashlib
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import IntegrityError, UsageError
from . import s3_published
from .ocfl import OBJECT_DECLARATION, PublishedVersion, VersionDraft, base_inventory, head_version, vnum
from .paths import check_no_conflicts

if TYPE_CHECKING:
    from .ocfl_s3 import S3OcflStore

INV, SIDE = "inventory.json", "inventory.json.sha512"


class S3VersionDraft(VersionDraft):
    """A version staged locally (as on a folder), published to the bucket in the trusted order."""

    store: S3OcflStore
    grouped = False
    #: digest -> content path of what was uploaded ahead (None: nothing was)
    uploaded: dict[str, str] | None = None

    def publish(self, *, message: str, user_name: str, user_address: str | None = None,
                created: str | None = None) -> PublishedVersion:
        from .ocfl import now_rfc3339
        if self.grouped:
            raise UsageError("a draft staged for a group commit is published only with ocfl_group.publish_new_objects")
        check_no_conflicts(list(self.state))
        store = self.store
        try:
            with store.object_lock(self.object_id):
                if self.uploaded is None:             # (uploaded ahead: the keys there are this writer's own)
                    store._recover_locked(self.object_id)
                return self._publish_s3(message, user_name, user_address, created or now_rfc3339())
        finally:
            self.discard()

    def _publish_s3(self, message: str, user_name: str, user_address: str | None, created: str) -> PublishedVersion:
        store, s3 = self.store, self.store.s3
        rel = store.object_rel(self.object_id)
        new_object = self.uploaded is not None or not store.exists(self.object_id)
        inv, vname = base_inventory(store, self.object_id, new_object, rel)
        if self.uploaded is not None:
            from .ocfl_s3_group import ahead_manifest
            inv["manifest"] = ahead_manifest(self)
        n = vnum(vname)
        state: dict[str, list[str]] = {}
        uploads: list[tuple[str, Path]] = []
        for lp, digest in sorted(self.state.items()):
            state.setdefault(digest, []).append(lp)
            staged = self._staged.get(lp)
            if digest in inv["manifest"]:
                continue                                  # already stored: deduplicated
            if staged is None:
                raise IntegrityError(f"cannot keep {lp!r}: digest not in object {self.object_id}")
            inv["manifest"][digest] = [f"{vname}/content/{lp}"]
            uploads.append((f"{rel}/{vname}/content/{lp}", staged))
        data, side = head_version(inv, vname, state, message, user_name, user_address, created)
        if new_object and self.uploaded is None:
            s3.put(f"{rel}/{OBJECT_DECLARATION}", b"ocfl_object_1.1\n")
        if len(uploads) > 1:                              # 1. the content, streamed (a few at a time)
            from concurrent.futures import ThreadPoolExecutor
            with ThreadPoolExecutor(min(4, len(uploads))) as pool:
                for _ in pool.map(lambda u: s3.upload_file(*u), uploads):
                    pass
        else:
            for key, path in uploads:
                s3.upload_file(key, path)
        s3.put(f"{rel}/{vname}/{INV}", data)             # 2. the version's inventory and sidecar
        s3.put(f"{rel}/{vname}/{SIDE}", side)
        s3.put(f"{rel}/{INV}", data)                     # 3. the root inventory
        s3.put(f"{rel}/{SIDE}", side)                    # 4. the sidecar: published
        store._remember(hashlib.sha512(data).hexdigest(), data)
        for lp, digest in self.state.items():              # published: its small files serve this process's reads
            if inv["manifest"][digest] == [f"{vname}/content/{lp}"] and lp in self._staged:
                s3_published.keep(store.url, f"{rel}/{vname}/content/{lp}", self._staged[lp],
                                  self._staged[lp].stat().st_size)
        return PublishedVersion(self.object_id, n, inv)
