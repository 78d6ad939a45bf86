"""Moving a record into or out of a confidential volume: its OCFL object replaced by a sealed (or an
opened) copy of its head version, so nothing of the old protection stays behind.

An OCFL object keeps every version, so a new encrypted *version* would leave the plaintext ones in
the store.  Instead the record keeps its id, archival code and piece, and its object is replaced by
a new one whose version 1 holds the head's files, extracted text and PDF/A copy, sealed under a new
record key of the target volume (``seal``) or opened in the clear (``unseal``, after a security
officer's approval: ``volume_move``).  The old object goes the way destruction's does: set aside
out of the storage root, deleted once the catalogue was rewritten from the new one.  One
``record.move`` audit event links both objects (the sha512 of each inventory, the old versions'
stored digests).  Thumbnails are not carried into a sealed object (a sealed record keeps none).

**Order**, holding the record's destruction lock from the start (a destruction and a move exclude
each other, and recovery never touches a live move):

1. a first intent names the staging folder (``.work/moving/<h>/intent.json``, phase ``staging``), then
   the new object is staged in full (ciphertext only when sealing: the plaintext streams from the
   store through the encryption, never to a file; plaintext when unsealing, which is why its folder
   is named first);
2. the intent is rewritten (phase ``ready``, fsynced): the record, the direction, the digest of the
   new ``metadata.json`` and the audit details;
3. the old object is renamed to ``.work/moving/<h>/object``;
4. the new object is published under the same id (one rename in);
5. one transaction rewrites the catalogue from the new object (``recovery.adopt``) with SQLite's
   ``secure_delete`` on, queues the index and appends ``record.move``;
6. the set-aside object and the intent are deleted; the WAL is truncated; a sealing rebuilds the
   full-text index (a deleted document's text stays in an engine's segments until they merge);
   an unsealing shreds the old record key.

:func:`recover` (run on every opening, ``service.session.complete_moves``) settles a move whose process
died: during 1–2 it deletes the staged folder and the intent, between 3 and 4 it puts the old object
back (nothing was moved; a failed ``record.move`` is audited), after 4 it rolls forward from 5.  A
publish that fails in the process (a full disk) puts the old object back at once.
"""
from __future__ import annotations

import hashlib
import json
import logging
import shutil
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Iterator

from dangan.errors import DanganError, IntegrityError
from dangan.repository.fsutil import crash_point, fsync_dir, rename
from dangan.core.kernel.clock import utc_text
from dangan.core.store.layout import METADATA_PATH, metadata_document, stored_original_names, text_path

if TYPE_CHECKING:
    from dangan.core.archive import Archive
    from dangan.model import Record

log = logging.getLogger(__name__)

SEAL, UNSEAL = "seal", "unseal"


class _ChunkReader:
    """``read(n)`` over an iterator of byte strings (the store's chunks, or decrypted ones)."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._it: Iterator[bytes] = iter(chunks)
        self._buf = b""

    def read(self, n: int = -1) -> bytes:
        if n is None or n < 0:
            out = self._buf + b"".join(self._it)
            self._buf = b""
            return out
        while len(self._buf) < n:
            more = next(self._it, None)
            if more is None:
                break
            self._buf += more
        out, self._buf = self._buf[:n], self._buf[n:]
        return out


def moving_root(archive: Archive) -> Path:
    return archive.store.work / "moving"


def _moving_dir(archive: Archive, rid: str) -> Path:
    return moving_root(archive) / hashlib.sha256(rid.encode()).hexdigest()[:32]


def check_supported(archive: Archive) -> None:
    """The protocol renames the old object aside, so it can be put back: a store in a bucket has no rename (its
    ``set_aside`` deletes), so a move there is refused rather than risk the record."""
    if getattr(archive.store, "remote", False):
        from dangan.errors import UsageError
        raise UsageError("moving a record across a confidential volume's border is not supported on a store in a "
                         "bucket yet (the old object could not be put back after a crash): re-file it instead "
                         "(ingest its files into the volume, then a destruction list for this record)")


def pending(archive: Archive) -> bool:
    """True if a move was interrupted (the cheap look every command takes)."""
    root = moving_root(archive)
    return root.is_dir() and any(root.iterdir())


def replace_object(archive: Archive, old: Record, new: Record, names: dict[str, str], *, source_prot, target_prot,
                   direction: str, details: dict[str, Any], message: str) -> Record:
    """Replace ``old``'s object by one holding ``new`` (version 1) under ``target_prot``; ``source_prot`` reads
    the old files (``read(stored) -> chunks``).  ``names``: old logical path → original name.  Returns the
    record as stored (a sealed one without its sealed fields)."""
    from dangan.core.management.destruction_intent import pending as destruction_pending
    from dangan.core.management.destruction_intent import record_lock
    check_supported(archive)
    store = archive.store
    rid = old.id
    with record_lock(archive, rid):             # held from before staging: recovery never takes a live move's
        inv = store.inventory(rid)
        head = int(inv["head"][1:])
        fresh = archive.conn.execute("SELECT version FROM records WHERE id = ?", (rid,)).fetchone()
        if fresh is None or fresh["version"] != head or fresh["version"] != old.version \
                or destruction_pending(archive.conn, rid):
            from dangan.errors import LockTimeout
            raise LockTimeout(f"record {rid} changed while moving it: nothing was moved, try again")
        d = _moving_dir(archive, rid)
        if d.exists():
            raise IntegrityError(f"record {rid} has an interrupted move ({d}): run any dangan command to settle it")
        with store.stage(rid) as draft:
            d.mkdir(parents=True)
            # an unsealing stages plaintext: the intent names the staging folder first, so a kill before the
            # swap has the next command delete it (not only the next sweep of the staging folders)
            _write_intent(d, {"record_id": rid, "direction": direction, "phase": "staging",
                              "staging": str(draft.dir)})
            try:
                intent = _stage(archive, draft, old, new, names, source_prot, target_prot, direction, details,
                                message, inv, head)
                crash_point("move-staged")     # test hook: a kill with the new object staged, nothing swapped
                _write_intent(d, intent)
                _set_aside(archive, rid, d / "object", head)
            except BaseException:
                shutil.rmtree(d, ignore_errors=True)
                raise
            try:
                crash_point("move-aside")      # test hook: a kill with the old object set aside, the new not in
                draft.publish(message=intent["message"], user_name=archive.actor.name, created=intent["created"])
            except BaseException:
                if not _is_new(archive, intent):
                    _put_back(archive, d, intent, "the new object could not be published")
                raise
            crash_point("move-publish")        # test hook: a kill with the new object in, the catalogue not yet
            _commit(archive, intent)
            _finish(archive, intent)
    return intent["stored"]


def _write_intent(d: Path, intent: dict) -> None:
    from dangan.repository.fsutil import replace_durable
    data = json.dumps({k: v for k, v in intent.items() if k != "stored"}, ensure_ascii=False, sort_keys=True)
    replace_durable(d / "intent.json", data.encode("utf-8"))
    fsync_dir(d.parent)


def _stage(archive: Archive, draft, old: Record, new: Record, names: dict[str, str], source_prot, target_prot,
           direction: str, details: dict[str, Any], message: str, inv: dict, head: int) -> dict:
    """Step 1: the new object's version 1 staged in ``draft``; returns the intent (with ``stored``)."""
    from dangan.core.store.pdfa import pdfa_path
    store = archive.store
    rid = old.id
    stored_files = {s.logical_path: s for s in store.files(rid, head, inv)}
    row = archive.conn.execute("SELECT piece_class, piece FROM records WHERE id = ?", (rid,)).fetchone()
    taken: set[str] = set()
    files, new_names, plain = [], {}, {}
    for i, f in enumerate(old.files, 1):
        original = names.get(f.path, f.path)
        lp = target_prot.name(original, taken, i)
        taken.add(lp)
        size, digest, psize, pdigest = target_prot.add_file(
            draft, lp, _ChunkReader(source_prot.read(stored_files[f.path])), 1)
        files.append(replace(f, path=lp, size=size, sha512=digest))
        new_names[lp], plain[lp] = original, (psize, pdigest)
        text = stored_files.get(text_path(f.path))
        if text is not None:
            target_prot.add_text(draft, lp, b"".join(source_prot.read(text)).decode("utf-8"), 1)
        pdfa = stored_files.get(pdfa_path(f.path))
        if pdfa is not None:
            target_prot.add_derivative(draft, pdfa_path(lp), b"".join(source_prot.read(pdfa)), 1)
    rec = replace(new, files=files, version=1, derivatives=[])
    if not target_prot.confidential:
        _identify(archive, draft, rec, new_names)
        from dangan.core.store import derivative_formats, pronom
        rec.derivatives = derivative_formats.describe(draft, [], identify=pronom.identify_enabled(archive.config))
    stored, stored_names = target_prot.stored(rec, new_names, plain, message=message)
    meta = metadata_document(stored, stored_names, {"piece_class": row["piece_class"], "piece": row["piece"],
                                                    "sealed": target_prot.sealed})
    draft.add_bytes(METADATA_PATH, meta)
    old_inventory = (store.object_path(rid) / "inventory.json").read_bytes()
    details = {**details, "replaced": {
        "versions": head, "inventory_sha512": hashlib.sha512(old_inventory).hexdigest(),
        "stored_digests": sorted({s.digest for v in range(1, head + 1) for s in store.files(rid, v, inv)})}}
    return {"record_id": rid, "direction": direction, "phase": "ready", "staging": str(draft.dir),
            "actor": archive.actor.name, "created": utc_text(), "metadata_sha512": hashlib.sha512(meta).hexdigest(),
            "sealed": target_prot.sealed, "old_head": head, "details": details,
            "message": target_prot.version_message(message), "stored": stored}


def _identify(archive: Archive, draft, rec: Record, names: dict[str, str]) -> None:
    """Opened files get their MIME type by content and (when enabled) their PRONOM format, as at ingest."""
    from dangan.core.store import mime as mimes
    from dangan.core.store import pronom
    identify = pronom.identify_enabled(archive.config)
    for f in rec.files:
        path = draft.content / f.path
        f.mime = mimes.by_content(path)
        f.mime_by_extension = mimes.by_extension(names.get(f.path, f.path))
        f.mime_mismatch = mimes.mismatch(f.mime, f.mime_by_extension)
        if identify:
            pronom.identify_entry(f, path, names.get(f.path, f.path))


def _set_aside(archive: Archive, rid: str, dest: Path, head: int) -> None:
    """Step 3, under the object's lock: refused (nothing moved) if a version was published meanwhile."""
    store = archive.store
    with store.object_lock(rid):
        if int(store.inventory(rid)["head"][1:]) != head:
            from dangan.errors import LockTimeout
            raise LockTimeout(f"record {rid} got a new version while it was being moved: nothing was moved, "
                              "try again")
        root = store.object_path(rid)
        rename(root, dest)
        fsync_dir(root.parent)
        fsync_dir(dest.parent)


def _commit(archive: Archive, intent: dict, *, recovered: bool = False) -> None:
    """Step 5: the catalogue rewritten from the new object, with the ``record.move`` event."""
    rid = intent["record_id"]
    details = dict(intent["details"])
    if recovered:
        details["recovered_by"] = archive.actor.name
    if not _on_sqlite(archive):         # PostgreSQL: the old row versions go when (auto)vacuum reclaims them
        _rewrite(archive, rid, intent, details)
        return
    before = archive.conn.execute("PRAGMA secure_delete").fetchone()[0]
    archive.conn.execute("PRAGMA secure_delete = ON")      # the old rows' bytes are zeroed, not freed
    try:
        _rewrite(archive, rid, intent, details)
    finally:
        archive.conn.execute(f"PRAGMA secure_delete = {int(before)}")


def _on_sqlite(archive: Archive) -> bool:
    import sqlite3
    return isinstance(archive.conn, sqlite3.Connection)


def _rewrite(archive: Archive, rid: str, intent: dict, details: dict) -> None:
    from dangan.core.catalogue.outbox import queue_index
    from dangan.core.store.recovery import adopt
    with archive.transaction() as conn:
        adopt(archive, conn, rid)
        queue_index(conn, rid)
        conn.execute("DELETE FROM extraction_queue WHERE record_id = ?", (rid,))
        archive.audit(conn, "record.move", rid, details=details)
        if intent["direction"] == SEAL:       # every backup repository owes a purge of the plaintext object
            conn.execute("INSERT INTO backup_purges (repo_id, record_id, queued, certificate_sha256) SELECT repo_id,"
                         " ?, ?, ? FROM backup_repos WHERE 1 = 1 ON CONFLICT(repo_id, record_id) DO NOTHING",
                         (rid, utc_text(), details["replaced"]["inventory_sha512"]))


def _committed(archive: Archive, intent: dict) -> bool:
    row = archive.conn.execute("SELECT sealed, version FROM records WHERE id = ?", (intent["record_id"],)).fetchone()
    return row is not None and row["version"] == 1 and row["sealed"] == intent["sealed"]


def _finish(archive: Archive, intent: dict) -> None:
    """Step 6: the old object and the intent go; nothing of the old protection stays in caches."""
    rid = intent["record_id"]
    if intent["direction"] == UNSEAL:
        from dangan.core.catalogue.volumes import open_keystore
        open_keystore(archive).shred_record(rid)       # the sealed object is gone: so is its key
        archive.__dict__.get("_record_keys", {}).pop(rid, None)
    if _on_sqlite(archive):
        archive.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")      # no page image of the old rows stays in the WAL
    from dangan.core.search.indexing import drain, reindex
    if intent["direction"] == SEAL:
        reindex(archive)          # a fresh index: the plaintext document must leave the engine's segments too
    else:
        drain(archive)
    shutil.rmtree(_moving_dir(archive, rid))      # last: a kill before it has recovery repeat this step
    fsync_dir(moving_root(archive))


def _is_new(archive: Archive, intent: dict) -> bool:
    store = archive.store
    rid = intent["record_id"]
    if not store.exists(rid):
        return False
    inv = store.inventory(rid)
    state = inv["versions"].get("v1", {}).get("state", {})
    return inv.get("head") == "v1" and state.get(intent["metadata_sha512"]) == [METADATA_PATH]


def recover(archive: Archive) -> int:
    """Finish or undo every move whose process is gone; returns how many."""
    from dangan.core.management.destruction_intent import record_lock
    root = moving_root(archive)
    if not root.is_dir():
        return 0
    done = 0
    for d in sorted(root.iterdir()):
        try:
            intent = json.loads((d / "intent.json").read_bytes())
        except (OSError, ValueError):
            shutil.rmtree(d, ignore_errors=True)     # killed before its intent was durable: nothing was set aside
            continue
        rid = intent["record_id"]
        with record_lock(archive, rid, wait=False) as got:
            if not got:
                continue                             # its process is at work
            try:
                done += _settle(archive, d, intent)
            except DanganError as exc:
                log.warning("the interrupted move of record %s is not settled yet: %s", rid, exc.message)
    return done


def _settle(archive: Archive, d: Path, intent: dict) -> int:
    staging = Path(intent.get("staging") or "")
    if intent.get("phase") == "staging" or not _is_new(archive, intent):
        if intent.get("staging") and staging.resolve().parent == archive.store.staging.resolve():
            shutil.rmtree(staging, ignore_errors=True)     # what the dead process staged (plaintext when unsealing)
    if intent.get("phase") == "staging":              # killed while staging: nothing was swapped
        shutil.rmtree(d, ignore_errors=True)
        return 1
    if _is_new(archive, intent):
        if not _committed(archive, intent):
            _commit(archive, intent, recovered=True)
        _finish(archive, intent)
        return 1
    _put_back(archive, d, intent, "interrupted before the new object was published")
    return 1


def _put_back(archive: Archive, d: Path, intent: dict, why: str) -> None:
    """Undo steps 2–3: the old object back in the storage root, the intent gone (audited as a failed move)."""
    rid = intent["record_id"]
    aside = d / "object"
    if aside.exists():
        store = archive.store
        if store.exists(rid):
            raise IntegrityError(f"record {rid}: an interrupted move left {aside} beside an object it did not make")
        with store.object_lock(rid):
            rename(aside, store.object_path(rid))
            fsync_dir(store.object_path(rid).parent)
        archive.record_event("record.move", rid, "failure", details={
            "reason": f"{why}: the record stays as it was", "direction": intent["direction"]})
    shutil.rmtree(d, ignore_errors=True)


class StoreReader:
    """Reads a plain record's stored files as they are."""

    def __init__(self, archive: Archive, rid: str) -> None:
        self.archive, self.rid = archive, rid

    def read(self, stored) -> Iterator[bytes]:
        return self.archive.store.read_chunks(self.rid, stored)


class SealedReader:
    """Reads a sealed record's stored files decrypted (in memory, chunk by chunk)."""

    def __init__(self, archive: Archive, rec: Record, key: bytes) -> None:
        self.archive, self.rec, self.key = archive, rec, key

    def read(self, stored) -> Iterator[bytes]:
        from dangan.core.confidential.sealing import decrypt_chunks
        return decrypt_chunks(self.archive, self.rec, stored, self.key)


def original_names(archive: Archive, rid: str) -> dict[str, str]:
    return stored_original_names(archive.store, rid)


__all__ = ["replace_object", "recover", "pending", "StoreReader", "SealedReader", "SEAL", "UNSEAL"]
