"""Group publishing on a bucket: version 1 of many new OCFL objects published together, in parallel.

The folder store groups new objects by syncing once and renaming each (``ocfl_group``).  A bucket has no
rename, but what costs there is the round trip of each request, one after another: a small record's first
version is seven PUTs (declaration, content, ``v1`` inventory and sidecar, root inventory and sidecar).
The requests of a whole group are overlapped on a bounded pool of :data:`~.s3client.REQUEST_CONCURRENCY`
threads, in two parts:

* :func:`upload_new_objects_s3`, **ahead** — before the caller's catalogue transaction (its intent rows
  committed): every object of the group is looked up (one listing each: it must be new, and nothing a dead
  writer left under its prefix is kept — :meth:`S3OcflStore._recover_locked`); then every object's
  declaration and small content files are put at once; large files (multipart) one at a time after them,
  each with its own parts in parallel, so memory stays at ``CONCURRENCY x PART_SIZE`` whatever the group
  holds.  Each draft remembers what it uploaded (``draft.uploaded``: digest -> content path).
* :func:`publish_new_objects_s3`, inside the transaction: what was staged since (``metadata.json``, which
  carries the archival code given there) is put, then, object by object in parallel, each object's own four
  PUTs **in the trusted order** — ``v1/inventory.json``, its sidecar, the root ``inventory.json``, the root
  sidecar last.  A draft uploaded ahead is not looked up again (its keys are its own writer's: the intent row
  and its lease keep every recovery away from them); one that was not is looked up and uploaded whole here.

No object's inventory is put before all of its content is acknowledged, and each object is published by its
own sidecar, exactly as :class:`~.ocfl_s3_draft.S3VersionDraft` publishes one: a reader, recovery and the crash
tests see the same states.  Until its sidecar an uploaded object does not exist: a kill -9 or a lost service
part-way leaves some objects published and the others incomplete; the caller's intent rows settle each
(adopted, or its keys deleted by recovery).  An object refused between the two parts (a duplicate, a taken
archival code) has its keys deleted by :func:`withdraw_new_object_s3`.
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
#: A new object's only version (the group and :func:`upload_new_objects_s3` make version 1 only).
V1 = "v1"


def content_uploads(store: S3OcflStore, draft: VersionDraft, inv_manifest: dict[str, list[str]],
                    vname: str) -> list[tuple[str, str, Path, int]]:
    """The (digest, key, staged file, size) of each of ``draft``'s staged files not yet in ``inv_manifest``
    (the same bytes twice in one version are stored once, at the first logical path in sorted order); each
    is added to ``inv_manifest``."""
    rel = store.object_rel(draft.object_id)
    out = []
    for lp, digest in sorted(draft.state.items()):
        if digest in inv_manifest:
            continue
        staged = draft._staged.get(lp)
        if staged is None:
            raise IntegrityError(f"cannot keep {lp!r}: digest not in object {draft.object_id}")
        inv_manifest[digest] = [f"{vname}/content/{lp}"]
        out.append((digest, f"{rel}/{vname}/content/{lp}", staged, draft.sizes.get(lp, staged.stat().st_size)))
    return out


def ahead_manifest(draft: VersionDraft) -> dict[str, list[str]]:
    """The manifest entries of what was uploaded ahead for ``draft`` (digest -> [content path]; none if
    nothing was): the files staged since are added to it."""
    uploaded: dict[str, str] = getattr(draft, "uploaded", None) or {}
    present = set(draft.state.values())
    return {d: [p] for d, p in uploaded.items() if d in present}


class _Plan:
    """One new object's keys: its content uploads (those not uploaded ahead), inventory and sidecar bytes."""

    def __init__(self, store: S3OcflStore, draft: VersionDraft, message: str, user_name: str, created: str) -> None:
        check_no_conflicts(list(draft.state))
        self.object_id = draft.object_id
        self.rel = rel = store.object_rel(draft.object_id)
        self.ahead: dict[str, str] | None = getattr(draft, "uploaded", None)
        inv, vname = base_inventory(store, draft.object_id, True, rel)
        manifest = ahead_manifest(draft)
        self.kept = [(f"{rel}/{vname}/content/{lp}", draft._staged[lp], draft.sizes.get(lp, -1))
                     for lp, digest in draft.state.items()
                     if manifest.get(digest) == [f"{vname}/content/{lp}"] and lp in draft._staged]
        self.uploads = [(key, path, size) for _d, key, path, size in content_uploads(store, draft, manifest, vname)]
        inv["manifest"] = manifest
        state: dict[str, list[str]] = {}
        for lp, digest in sorted(draft.state.items()):
            state.setdefault(digest, []).append(lp)
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
        for key, path, size in self.kept + self.uploads:   # published: its small files serve this process's reads
            s3_published.keep(store.url, key, path, size if size >= 0 else path.stat().st_size)


def _is_new(store: S3OcflStore, object_id: str) -> bool:
    """No object at ``object_id``'s place: one listing (what a dead writer left there is recovered first).
    Never for a draft uploaded ahead: its own keys would be taken for a dead writer's and deleted."""
    rel = store.object_rel(object_id)
    if next(iter(store.s3.keys(rel + "/")), None) is None:
        return True
    store._recover_locked(object_id)
    return not store.exists(object_id)


def _put_all(store: S3OcflStore, pool: ThreadPoolExecutor, declare: list[str],
             files: list[tuple[str, Path, int]]) -> None:
    """The declarations of the objects at ``declare`` and ``files`` (key, staged file, size): the small ones
    at once, then each large one with its parts in parallel."""
    small: list[tuple[str, Path | None]] = [(f"{rel}/{OBJECT_DECLARATION}", None) for rel in declare]
    small += [(key, path) for key, path, size in files if size < MULTIPART_THRESHOLD]

    def put(item: tuple[str, Path | None]) -> None:
        key, path = item
        if path is None:
            store.s3.put(key, b"ocfl_object_1.1\n")
        else:
            store.s3.upload_file(key, path)
    list(pool.map(put, small))
    for key, path, size in files:
        if size >= MULTIPART_THRESHOLD:
            store.s3.upload_file(key, path)


def _locked(store: S3OcflStore, drafts: list[VersionDraft]) -> ExitStack:
    locks = ExitStack()
    for draft in sorted(drafts, key=lambda d: d.object_id):
        locks.enter_context(store.object_lock(draft.object_id))
    return locks


def upload_new_objects_s3(store: S3OcflStore, drafts: list[VersionDraft]) -> None:
    """Ahead of the catalogue transaction: each draft's object is looked up (it must be new), then its
    declaration and every file staged so far are uploaded; ``draft.uploaded`` (digest -> content path)
    says what for :func:`publish_new_objects_s3` or :meth:`~.ocfl_s3_draft.S3VersionDraft.publish`.
    Raises ``UsageError`` if an object exists already (the drafts are left to the caller)."""
    if not drafts:
        return
    with _locked(store, drafts), ThreadPoolExecutor(min(REQUEST_CONCURRENCY, len(drafts) * 2),
                                                   thread_name_prefix="dangan-s3-upload") as pool:
        for draft, new in zip(drafts, pool.map(lambda d: _is_new(store, d.object_id), drafts)):
            if not new:
                raise UsageError(f"object {draft.object_id} exists: only new objects are uploaded ahead")
        files: list[tuple[str, Path, int]] = []
        done: list[tuple[VersionDraft, dict[str, str]]] = []
        for draft in drafts:
            manifest: dict[str, list[str]] = {}
            ups = content_uploads(store, draft, manifest, V1)
            files += [(key, path, size) for _d, key, path, size in ups]
            done.append((draft, {d: paths[0] for d, paths in manifest.items()}))
        _put_all(store, pool, [store.object_rel(d.object_id) for d in drafts], files)
        for draft, uploaded in done:                     # only once all of it is acknowledged
            draft.uploaded = uploaded  # type: ignore[attr-defined]


def withdraw_new_object_s3(store: S3OcflStore, draft: VersionDraft) -> None:
    """A draft uploaded ahead and then refused (never published): its keys are deleted.  Nothing of it is
    trusted (it has no sidecar), so a failure here leaves keys that recovery of its intent deletes."""
    if getattr(draft, "uploaded", None) is None:
        return
    from .ocfl_s3 import _delete_object
    rel = store.object_rel(draft.object_id)
    with store.object_lock(draft.object_id):
        keys = list(store.s3.keys(rel + "/"))
        if keys:
            _delete_object(store.s3, rel, keys)
    draft.uploaded = None  # type: ignore[attr-defined]


def publish_new_objects_s3(store: S3OcflStore, drafts: list[tuple[VersionDraft, str, str, str]]) -> list[PublishedVersion]:
    """Publish version 1 of several new objects in a bucket (this module's docstring); ``drafts`` as for
    :func:`~.ocfl_group.publish_new_objects`: (draft, message, user name, created) each."""
    try:
        with _locked(store, [d for d, *_ in drafts]):
            plans = [_Plan(store, d, message, user, created) for d, message, user, created in drafts]
            if not plans:
                return []
            with ThreadPoolExecutor(min(REQUEST_CONCURRENCY, len(plans) * 2),
                                    thread_name_prefix="dangan-s3-publish") as pool:
                fresh = [p for p in plans if p.ahead is None]
                for plan, new in zip(fresh, pool.map(lambda p: _is_new(store, p.object_id), fresh)):
                    if not new:
                        raise UsageError(f"object {plan.object_id} exists: only new objects are published in a group")
                _put_all(store, pool, [p.rel for p in fresh], [u for p in plans for u in p.uploads])
                list(pool.map(lambda p: p.publish_inventories(store), plans))
            return [PublishedVersion(p.object_id, vnum(p.vname), p.inv) for p in plans]
    finally:
        for draft, *_ in drafts:
            draft.discard()
