"""The destruction protocol: the intent first, the content last, and recovery rolls forward.

A destruction (or transfer) of record R happens in this order, holding
``.work/locks/destroy-<R>.lock`` throughout:

1. **intent** — one catalogue transaction commits a ``destruction_intents``
   row with everything the destruction will leave: the tombstone's
   ``metadata.json`` (bytes), the certificate (its times, stored digests and
   approval chain fixed now), the audit details, the destruction list.  From
   here on the destruction is decided: it is finished, never undone.
2. **crypto-shredding** (sealed records) — the record key leaves every
   keystore copy (idempotent).
3. **set aside** — the object is renamed out of the storage root to
   ``.work/doomed/`` (not ``.work/staging``, which the next writer sweeps);
4. **tombstone** — the tombstone object is published under the same id
   (staged, one rename in).
5. **commit** — one transaction: the record rows are rewritten from the
   tombstone (``recovery.adopt``: the store is the truth), an index-outbox
   delete, the ``record.destroy``/``record.transfer`` event, the backup
   purges owed, the list item's outcome, and the intent row goes.
6. **delete** — the set-aside object is deleted, only now.

A kill anywhere after 1 leaves an intent whose lock nobody holds;
:func:`recover` (run by every command through the CLI, and by ingest, check,
backup, rebuild and execute) repeats 2–6 from the intent: each step sees
whether it was done already.  A kill before 1 leaves nothing to do.  A list
whose every item has an outcome but which is still ``executing`` is
certified by recovery too.  A writer (revise, deferred extraction) refuses a
record with an intent inside its own transaction, so nothing new is published
into an object being destroyed.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import socket
from typing import TYPE_CHECKING

from dangan.errors import DanganError, IntegrityError
from dangan.repository.fsutil import crash_point, flocked
from dangan.core.catalogue import audit as audit_log
from dangan.core.catalogue import leases
from dangan.core.catalogue.outbox import queue_index
from dangan.core.store.layout import METADATA_PATH

if TYPE_CHECKING:
    from dangan.core.archive import Archive

log = logging.getLogger(__name__)


def _flock(archive: Archive, name: str, *, wait: bool = True):
    locks = archive.store.locks
    locks.mkdir(parents=True, exist_ok=True)
    return flocked(locks / (name + ".lock"), wait=wait)


def record_lock(archive: Archive, rid: str, *, wait: bool = True):
    """Held by whoever destroys ``rid``, from before its intent until after its commit."""
    return _flock(archive, "destroy-" + hashlib.sha256(rid.encode()).hexdigest()[:32], wait=wait)


def list_lock(archive: Archive, lid: str, *, wait: bool = True):
    """Held by ``disposition.execute`` for the whole execution of list ``lid``."""
    return _flock(archive, "list-" + hashlib.sha256(lid.encode()).hexdigest()[:32], wait=wait)


def pending(conn, rid: str) -> bool:
    return conn.execute("SELECT 1 FROM destruction_intents WHERE record_id = ?", (rid,)).fetchone() is not None


def begin(archive: Archive, *, rid: str, status: str, list_id: str | None, tombstone: bytes, certificate: dict,
          event: dict, sealed: bool, created: str, guard=None) -> dict:
    """Commit the intent (step 1); returns its row.  The caller holds ``record_lock``.

    ``guard()`` runs inside the transaction and may raise: the refusals (a hold, a loan) checked once more
    where nobody can add one before the intent is committed."""
    try:
        _commit_intent(archive, rid=rid, status=status, list_id=list_id, tombstone=tombstone,
                       certificate=certificate, event=event, sealed=sealed, created=created, guard=guard)
    except BaseException:
        release_lease(archive, rid)           # nothing was committed: no lease either
        raise
    row = _row(archive.conn, rid)
    if row is None:
        raise IntegrityError(f"the destruction intent of record {rid} was committed but cannot be read back")
    return row


def _commit_intent(archive: Archive, *, rid: str, status: str, list_id: str | None, tombstone: bytes,
                   certificate: dict, event: dict, sealed: bool, created: str, guard=None) -> None:
    from dangan.errors import UsageError
    with archive.transaction() as conn:
        if guard is not None:
            guard()
        if pending(conn, rid):
            raise UsageError(f"record {rid} is being destroyed already (an interrupted destruction is completed"
                             " by the next command)")
        if leases.applies(conn):
            leases.hold(conn, "destroy", rid)     # other machines' recovery waits for it to end (PostgreSQL)
        conn.execute("INSERT INTO destruction_intents (record_id, status, list_id, tombstone, certificate, event,"
                     " sealed, actor, created, pid, host) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                     (rid, status, list_id, tombstone, json.dumps(certificate, ensure_ascii=False, sort_keys=True),
                      json.dumps(event, ensure_ascii=False, sort_keys=True), int(sealed), archive.actor.name,
                      created, os.getpid(), socket.gethostname()))


def release_lease(archive: Archive, rid: str) -> None:
    """The destruction is committed, or its process gives it up to recovery: so is its lease (PostgreSQL)."""
    if leases.applies(archive.conn):
        try:
            leases.release(archive.conn, "destroy", rid)
        except Exception:  # noqa: BLE001 - a lost session released its lock; the lease row ends by itself
            pass


def _row(conn, rid: str) -> dict | None:
    r = conn.execute("SELECT * FROM destruction_intents WHERE record_id = ?", (rid,)).fetchone()
    return dict(r) if r else None


def _is_tombstone(store, rid: str, tombstone: bytes) -> bool:
    if not store.exists(rid):
        return False
    inv = store.inventory(rid)
    want = hashlib.sha512(tombstone).hexdigest()
    return inv.get("head") == "v1" and inv["versions"]["v1"]["state"] == {want: [METADATA_PATH]}


def roll_forward(archive: Archive, intent: dict, *, recovered: bool = False) -> dict:
    """Steps 2–6 from the intent; returns the certificate.  The caller holds ``record_lock``."""
    rid = intent["record_id"]
    store = archive.store
    tombstone = bytes(intent["tombstone"])
    verb = intent["status"]
    if intent["sealed"]:
        from dangan.core.catalogue.volumes import open_keystore
        open_keystore(archive).shred_record(rid)
        archive.__dict__.get("_record_keys", {}).pop(rid, None)
    if not _is_tombstone(store, rid, tombstone):
        store.set_aside(rid)
        with store.stage(rid) as draft:
            draft.add_bytes(METADATA_PATH, tombstone)
            draft.publish(message=f"tombstone: record {verb}", user_name=intent["actor"], created=intent["created"])
    certificate = json.loads(intent["certificate"])
    event = json.loads(intent["event"])
    from dangan.core.backup import api as backup
    from dangan.core.store.recovery import adopt
    with archive.transaction() as conn:
        if pending(conn, rid):
            adopt(archive, conn, rid)
            queue_index(conn, rid, "delete", queued=intent["created"])
            conn.execute("DELETE FROM extraction_queue WHERE record_id = ?", (rid,))   # nothing left to extract
            action = "record.destroy" if verb == "destroyed" else "record.transfer"
            if recovered:       # the event is the destroyer's; who completed it is said in the details
                from dangan.core.catalogue.audit_anchor import seal
                archive.audit_ready(conn)            # a broken trail refuses; the checkpoint is fixed
                audit_log.append(conn, actor=intent["actor"], action=action, obj=rid, details={
                    **event, "recovered_by": archive.actor.name, "recovered": "interrupted destruction completed"})
                seal(archive, conn, archive.audit_checkpoint())     # the head carries the audit key's seal
            else:
                archive.audit(conn, action, rid, details=event)
            backup.note_destruction(archive, conn, rid, certificate)   # every backup repo owes a purge
            if intent["list_id"]:
                conn.execute("UPDATE disposal_items SET outcome = ?, certificate_sha256 = ? WHERE list_id = ? AND"
                             " record_id = ?", (verb, certificate["certificate_sha256"], intent["list_id"], rid))
            conn.execute("DELETE FROM destruction_intents WHERE record_id = ?", (rid,))
    crash_point("commit")               # test hook: a kill between the commit and the deletion (see fsutil)
    store.discard_doomed(rid)
    return certificate


def recover(archive: Archive) -> int:
    """Roll forward every destruction whose process is gone (on SQLite: this host's, whose lock nobody holds; on
    PostgreSQL: any machine's whose lease has ended); certify settled lists; returns how many."""
    conn = archive.conn
    host = socket.gethostname()
    shared = leases.applies(conn)
    done = 0
    for row in conn.execute("SELECT record_id, host, pid FROM destruction_intents").fetchall():
        rid = row["record_id"]
        if not shared and row["host"] != host:
            continue            # another machine's (embedded catalogue on a shared folder): not ours to judge
        with record_lock(archive, rid, wait=False) as got:
            if not got or (shared and ((row["host"], row["pid"]) == (host, os.getpid())
                                       or not leases.take_over(conn, "destroy", rid))):
                continue        # its process is at work (here, or renewing its lease on any machine)
            try:
                intent = _row(conn, rid)
                if intent is None:
                    continue
                roll_forward(archive, intent, recovered=True)
                done += 1
            except DanganError as exc:      # a keystore copy out of reach, a full disk: tried again next time
                log.warning("the destruction of record %s is not completed yet: %s", rid, exc.message)
            finally:
                if shared:
                    release_lease(archive, rid)
    live = {archive.store.doomed_path(r["record_id"]).name
            for r in conn.execute("SELECT record_id FROM destruction_intents")}
    if archive.store.doomed.is_dir():
        for d in list(archive.store.doomed.iterdir()):
            if d.name.split("-", 1)[0] not in live:   # its destruction committed: the content must go
                import shutil
                shutil.rmtree(d, ignore_errors=True)
                done += 1
    if done:
        _after_commit(archive)
    from dangan.core.management.disposition_execute import certify_settled
    return done + certify_settled(archive)


def _after_commit(archive: Archive) -> None:
    """What a destruction does after its commit: the index forgets it, reachable backups purge it."""
    from dangan.core.backup import api as backup
    from dangan.core.search.indexing import drain
    try:
        drain(archive)
        backup.purge_after_destruction(archive)     # where the backup key is at hand; else at the next run
    except DanganError as exc:
        log.warning("after completing a destruction: %s (the next run finishes it)", exc.message)


def recover_pending(archive: Archive) -> int:
    """``recover`` if anything is pending (``destruction_pending``: cheap queries otherwise)."""
    from dangan.core.management.destruction_pending import destruction_pending
    return recover(archive) if destruction_pending(archive) else 0
