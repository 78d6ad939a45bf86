"""Group publishing on a bucket: version 1 of many new OCFL objects published together, in parallel.

The folder store groups new objects by syncing once and renaming each (``ocfl_group``).  A bucket has no
rename, but what costs there is the round trip of each request, one after another: a small record's first
version is seven PUTs (declaration, content, ``v1`` inventory and sidecar, root inventory and sidecar).
:func:`publish_new_objects_s3` overlaps the requests of a whole group on a bounded pool of
:data:`~.s3client.REQUEST_CONCURRENCY` threads, in three steps:

1. every object of the group is looked up (one listing each: it must be new, and nothing a dead writer
   left under its prefix is kept — :meth:`S3OcflStore._recover_locked`);
2. every object's declaration and small content files are put at once; large files (multipart) one at a
   time after them, each with its own parts in parallel, so memory stays at
   ``CONCURRENCY x PART_SIZE`` whatever the group holds;
3. then, object by object in parallel, each object's own four PUTs **in the trusted order** —
   ``v1/inventory.json``, its sidecar, the root ``inventory.json``, the root sidecar last.

No object's inventory is put before all of its content is acknowledged, and each object is published by its
own sidecar, exactly as :class:`~.ocfl_s3_draft.S3VersionDraft` publishes one: a reader, recovery and the crash
tests see the same states.  A kill -9 or a lost service part-way leaves some objects published and the
others incomplete; the caller's intent rows settle each (adopted, or its keys deleted by recovery).
"""
from __future__ import annotations

import hashlib
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import IntegrityError, UsageError
from .ocfl import OBJECT_DECLARATION, PublishedVersion, base_inventory, head_version, now_rfc3339, vnum
from . import s3_published
from .paths import check_no_conflicts
from .s3client import MULTIPART_THRESHOLD, REQUEST_CONCURRENCY

if TYPE_CHECKING:
    from .ocfl import VersionDraft
    from .ocfl_s3 import S3OcflStore

INV, SIDE = "inventory.json", "inventory.json.sha512"


class _Plan:
    """One new object's keys: its content uploads, inventory and sidecar bytes."""

    def __init__(self, store: S3OcflStore, draft: VersionDraft, message: str, user_name: str, created: str) -> None:
        check_no_conflicts(list(draft.state))
        self.object_id = draft.object_id
        self.rel = rel = store.object_rel(draft.object_id)
        inv, vname = base_inventory(store, draft.object_id, True, rel)
        state: dict[str, list[str]] = {}
        self.uploads: list[tuple[str, Path, int]] = []
        for lp, digest in sorted(draft.state.items()):
            state.setdefault(digest, []).append(lp)
            if digest in inv["manifest"]:
                continue                                  # the same bytes twice in one version: stored once
            staged = draft._staged.get(lp)
            if staged is None:
                raise IntegrityError(f"cannot keep {lp!r}: digest not in object {draft.object_id}")
            inv["manifest"][digest] = [f"{vname}/content/{lp}"]
            self.uploads.append((f"{rel}/{vname}/content/{lp}", staged, draft.sizes.get(lp, staged.stat().st_size)))
        self.data, self.side = head_version(inv, vname, state, message, user_name, None, created or now_rfc3339())
        self.vname, self.inv = vname, inv

    def publish_inventories(self, store: S3OcflStore) -> None:
        """The four PUTs that make the object published, in the trusted order (the sidecar last)."""
        s3, rel = store.s3, self.rel
        s3.put(f"{rel}/{self.vname}/{INV}", self.data)
        s3.put(f"{rel}/{self.vname}/{SIDE}", self.side)
        s3.put(f"{rel}/{INV}", self.data)
        s3.put(f"{rel}/{SIDE}", self.side)
        store._remember(hashlib.sha512(self.data).hexdigest(), self.data)
        for key, path, size in self.uploads:          # published: its small files serve this process's reads
            s3_published.keep(store.url, key, path, size)


def _is_new(store: S3OcflStore, plan: _Plan) -> bool:
    """No object at the plan's place: one listing (what a dead writer left there is recovered first)."""
    if next(iter(store.s3.keys(plan.rel + "/")), None) is None:
        return True
    store._recover_locked(plan.object_id)
    return not store.exists(plan.object_id)


def publish_new_objects_s3(store: S3OcflStore, drafts: list[tuple[VersionDraft, str, str, str]]) -> list[PublishedVersion]:
    """Publish version 1 of several new objects in a bucket (this module's docstring); ``drafts`` as for
    :func:`~.ocfl_group.publish_new_objects`: (draft, message, user name, created) each."""
    try:
        with ExitStack() as locks:
            for draft, *_ in sorted(drafts, key=lambda d: d[0].object_id):
                locks.enter_context(store.object_lock(draft.object_id))
            plans = [_Plan(store, d, message, user, created) for d, message, user, created in drafts]
            if not plans:
                return []
            with ThreadPoolExecutor(min(REQUEST_CONCURRENCY, len(plans) * 2),
                                    thread_name_prefix="dangan-s3-publish") as pool:
                for plan, new in zip(plans, pool.map(lambda p: _is_new(store, p), plans)):
                    if not new:
                        raise UsageError(f"object {plan.object_id} exists: only new objects are published in a group")
                small: list[tuple[str, Path | None]] = [(f"{p.rel}/{OBJECT_DECLARATION}", None) for p in plans]
                small += [(key, path) for p in plans for key, path, size in p.uploads if size < MULTIPART_THRESHOLD]
                large = [(key, path) for p in plans for key, path, size in p.uploads if size >= MULTIPART_THRESHOLD]

                def put(item: tuple[str, Path | None]) -> None:
                    key, path = item
                    if path is None:
                        store.s3.put(key, b"ocfl_object_1.1\n")
                    else:
                        store.s3.upload_file(key, path)
                list(pool.map(put, small))
                for key, path in large:                   # each multipart upload has its parts in parallel
                    store.s3.upload_file(key, path)
                list(pool.map(lambda p: p.publish_inventories(store), plans))
            return [PublishedVersion(p.object_id, vnum(p.vname), p.inv) for p in plans]
    finally:
        for draft, *_ in drafts:
            draft.discard()
