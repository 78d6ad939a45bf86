"""Group publishing: version 1 of many new OCFL objects made durable together (two filesystem syncs).

:meth:`~dangan.repository.ocfl.VersionDraft.publish` fsyncs every file and folder of a version as it
writes them (about twenty fsyncs for a small record).  For a batch of new records,
:func:`publish_new_objects` writes each object whole in staging without them, makes all of it durable
with one ``syncfs``, renames each object into the storage root (one rename each, as ``publish`` does for
a new object) and syncs once more.  The drafts must have been staged with ``durable=False``.

On a bucket, the content goes ahead of the caller's catalogue transaction (:func:`upload_new_objects`) and
only what was staged since (a record's metadata) and the inventories inside it (``ocfl_s3_group``).
"""
from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path

from ..errors import UsageError
from .fsutil import rename_in, sync_filesystem, translate_oserror
from .ocfl import OcflStore, PublishedVersion, VersionDraft, now_rfc3339
from .paths import check_no_conflicts


def upload_new_objects(store: OcflStore, drafts: list[VersionDraft]) -> None:
    """What of new objects' publishing can go before the caller's catalogue transaction: on a bucket, each
    object's declaration and the content staged so far (:func:`.ocfl_s3_group.upload_new_objects_s3`; until
    its sidecar is put nothing of it is trusted).  Nothing on a folder (there the publish is two syncs and a
    rename, already cheap).  Raises ``UsageError`` if an object exists already."""
    if store.remote:
        from .ocfl_s3_group import upload_new_objects_s3
        upload_new_objects_s3(store, drafts)  # type: ignore[arg-type]


def withdraw_new_object(store: OcflStore, draft: VersionDraft) -> None:
    """A draft refused after :func:`upload_new_objects`: what was uploaded of it is deleted (nothing on a
    folder)."""
    if store.remote:
        from .ocfl_s3_group import withdraw_new_object_s3
        withdraw_new_object_s3(store, draft)  # type: ignore[arg-type]


def publish_new_objects(store: OcflStore, drafts: list[tuple[VersionDraft, str, str, str]], *,
                        keep_published: bool = False) -> list[PublishedVersion]:
    """Publish version 1 of several new objects with two filesystem syncs in all (group commit).

    ``drafts``: (draft, message, user name, created) each.  Every object is made whole in staging
    (content, ``v1`` inventory, declaration, root inventory) without a per-file fsync; one
    :func:`~dangan.repository.fsutil.sync_filesystem` makes all of it durable; each object is then renamed
    into the storage root in one rename (as :meth:`VersionDraft.publish` does for a new object), and a
    second sync makes the renames durable.  A crash before that second sync leaves some objects in the
    store whole and the others absent: the caller's intent rows settle each (adopted or forgotten).
    Raises ``UsageError`` if an object exists already (only new objects are published this way).
    ``keep_published``: the drafts of published objects are left for the caller to discard (their staging
    folders are empty by then: a later ``discard`` removes them with a few ``rmdir``)."""
    if store.remote:                   # a bucket: no rename to group, the requests are overlapped instead
        from .ocfl_s3_group import publish_new_objects_s3
        return publish_new_objects_s3(store, drafts)  # type: ignore[arg-type]
    out = []
    staged: list[tuple[VersionDraft, Path, int, dict]] = []
    try:
        with ExitStack() as locks:
            for draft, *_ in sorted(drafts, key=lambda d: d[0].object_id):
                locks.enter_context(store.object_lock(draft.object_id))
            for draft, message, user_name, created in drafts:
                if store.object_path(draft.object_id).exists():
                    raise UsageError(f"object {draft.object_id} exists: only new objects are published in a group")
                check_no_conflicts(list(draft.state))
                inv, data, side, n = draft._version_inventory(True, message, user_name, None, created or now_rfc3339())
                staged.append((draft, draft._stage_object_tree(f"v{n}", data, side), n, inv))
            sync_filesystem(store.root)
            for draft, rel, n, inv in staged:
                tree = draft.dir / "tree"
                left = rename_in(tree, store.root, rel, durable=False)
                # what stays in staging is known: its empty folders go with one rmdir each, not a tree walk
                draft._left = [tree.joinpath(*rel.parts[:j]) for j in range(left, 0, -1)] + [tree, draft.dir]
                out.append(PublishedVersion(draft.object_id, n, inv))
            sync_filesystem(store.root)
    except OSError as exc:
        raise translate_oserror(exc, "publishing a version") from exc
    finally:
        for draft, *_ in drafts:
            if not (keep_published and draft._left):
                draft.discard()
    return out
