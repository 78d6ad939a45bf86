"""Bringing the catalogue back in line with the store.

The store is the source of truth.  ``adopt`` (re)writes one record's
catalogue rows from its OCFL object; ``settle_intent`` finishes an ingest
that was interrupted between publishing and committing; ``rebuild`` makes
the record tables anew from the store alone.
"""
from __future__ import annotations

import os
import socket
import sqlite3
from typing import TYPE_CHECKING

from dangan.errors import IntegrityError
from dangan.repository.ocfl import vnum
from dangan.core.catalogue import records
from dangan.core.catalogue.outbox import queue_index
from dangan.core.store.layout import METADATA_PATH, parse_metadata
from dangan.repository.fsutil import pid_alive

if TYPE_CHECKING:
    from dangan.core.archive import Archive


def adopt(archive: Archive, conn: sqlite3.Connection, rid: str, conflicts: list[str] | None = None) -> int:
    """Write record ``rid``'s rows (record, every version, files) from the store; returns its head version.

    An archival code the store gives it that another record already holds (an interrupted ingest whose code
    was taken meanwhile) is left out of its catalogue row, so the record is adopted all the same; the
    conflict is appended to ``conflicts`` and ``dangan check`` keeps naming it until a person settles it."""
    store = archive.store
    conflict = ""
    inv = store.inventory(rid)
    head = vnum(inv["head"])
    conn.execute("DELETE FROM files WHERE record_id = ?", (rid,))
    conn.execute("DELETE FROM versions WHERE record_id = ?", (rid,))
    conn.execute("DELETE FROM records WHERE id = ?", (rid,))
    rec = names = cat = None
    for v in range(1, head + 1):
        meta = store.read_bytes(rid, METADATA_PATH, v)
        rec, names, cat = parse_metadata(meta, rid)
        vinfo = inv["versions"][f"v{v}"]
        rec.version = v
        holder = records.code_holder(conn, rec.archival_code, other_than=rid)
        conflict = ""                 # the head version's code decides (a renumbered record's v1 held a taken one)
        if holder is not None:
            conflict = f"archival code {rec.archival_code} is already used by record {holder}"
            rec.archival_code = None
        actor = vinfo.get("user", {}).get("name", "")
        msg = vinfo.get("message", "")
        if v == 1:
            records.insert_record(conn, rec, actor=actor, message=msg, original_names=names,
                                  piece_class=cat.get("piece_class"), piece=cat.get("piece"), sealed=cat.get("sealed"))
        else:
            records.update_record(conn, rec, actor=actor, message=msg, original_names=names, sealed=cat.get("sealed"))
        conn.execute("UPDATE versions SET created = ? WHERE record_id = ? AND version = ?",
                     (vinfo.get("created", rec.updated), rid, v))
    if conflict:
        conn.execute("UPDATE records SET piece_class = NULL, piece = NULL WHERE id = ?", (rid,))
        if conflicts is not None:
            conflicts.append(f"{rid}: {conflict}; adopted without it")
    elif cat and cat.get("piece_class") and cat.get("piece"):
        conn.execute("UPDATE records SET piece_class = ?, piece = ? WHERE id = ?",
                     (cat["piece_class"], cat["piece"], rid))
        conn.execute("INSERT INTO piece_counters (class_key, last) VALUES (?, ?) ON CONFLICT(class_key)"
                     " DO UPDATE SET last = CASE WHEN excluded.last > piece_counters.last THEN excluded.last"
                     " ELSE piece_counters.last END", (cat["piece_class"], cat["piece"]))
    return head


def settle_intent(archive: Archive, rid: str) -> str:
    """Finish or forget one interrupted write; returns 'adopted', 'forgotten' or 'current'.  A version adopted
    without its archival code (its piece number was taken meanwhile) is then given the next one (:mod:`.renumber`)."""
    conflicts: list[str] = []
    outcome = _settle(archive, rid, conflicts)
    if outcome == "adopted" and conflicts:
        from dangan.core.store.renumber import renumber
        renumber(archive, rid, conflicts[0])
    return outcome


def _settle(archive: Archive, rid: str, conflicts: list[str]) -> str:
    store = archive.store
    store.recover(rid)
    with archive.transaction() as conn:
        if conn.execute("SELECT 1 FROM ingest_intents WHERE object_id = ?", (rid,)).fetchone() is None:
            return "current"
        outcome = "forgotten"
        if store.exists(rid):
            head = vnum(store.inventory(rid)["head"])
            row = conn.execute("SELECT version FROM records WHERE id = ?", (rid,)).fetchone()
            if row is None or row["version"] < head:
                adopt(archive, conn, rid, conflicts)
                details = {"version": head, "reason": "interrupted write completed"}
                if conflicts:
                    details["conflict"] = conflicts[0]
                archive.audit(conn, "record.recover", rid, details=details)
                queue_index(conn, rid)
                from dangan.core.store.deferred import queue_adopted
                queue_adopted(archive, conn, rid)      # [ingest] extraction = "workers": its job died with it
                outcome = "adopted"
            else:
                outcome = "current"
        conn.execute("DELETE FROM ingest_intents WHERE object_id = ?", (rid,))
        return outcome


def recover_interrupted(archive: Archive) -> dict[str, int]:
    """Settle the intents of writers that died (on SQLite: dead pids on this host; on PostgreSQL: intents whose
    lease has ended and no session holds, whichever machine wrote them: :mod:`..catalogue.leases`); sweep their
    staging folders."""
    from dangan.core.catalogue import leases
    host = socket.gethostname()
    counts = {"adopted": 0, "forgotten": 0, "current": 0}
    conn = archive.conn
    rows = conn.execute("SELECT object_id, pid, host FROM ingest_intents").fetchall()
    for r in rows:
        if leases.applies(conn):
            if (r["host"], r["pid"]) == (host, os.getpid()) or not leases.take_over(conn, "ingest", r["object_id"]):
                continue                              # this process's own write, or a live writer's anywhere
            try:
                counts[settle_intent(archive, r["object_id"])] += 1
            finally:
                leases.release(conn, "ingest", r["object_id"])
            continue
        if r["host"] != host or pid_alive(r["pid"]):
            continue
        counts[settle_intent(archive, r["object_id"])] += 1
    if leases.applies(conn):
        leases.forget_ended(conn)           # what dead writers' leases left, their intents settled above
    archive.store.sweep_staging()
    from dangan.core.management.destruction_intent import recover_pending
    recover_pending(archive)            # destructions roll forward (their set-aside objects are not in staging)
    from dangan.core.store.scan_resume import resume_splits
    resume_splits(archive)              # a batch scan's parts a crash left unmade (after its parts' writes settled)
    from dangan.core.kernel.memory_tmp import sweep_dead
    sweep_dead()                        # the plaintext folders (/dev/shm) of processes killed mid-write
    return counts


def rebuild(archive: Archive, progress=None, conflicts: list[str] | None = None) -> int:
    """Reconstruct the record tables from the store alone; returns the number of records.  Objects whose
    archival code another object already holds are adopted without it and listed in ``conflicts``."""
    conflicts = [] if conflicts is None else conflicts
    store = archive.store
    from dangan.core.management.destruction_intent import recover_pending
    recover_pending(archive)            # an interrupted destruction first becomes its tombstone
    try:
        ids = list(store.object_ids())          # a folder's object roots, or a bucket's published objects
    except KeyError as exc:
        raise IntegrityError(f"an inventory without an id: {exc}") from None
    from dangan.core.catalogue.audit_verify import restart_if_new
    restart_if_new(archive, "catalogue rebuilt from the store: the audit trail before it is lost")
    with archive.transaction() as conn:
        for table in ("files", "versions", "records", "piece_counters", "ingest_intents"):
            conn.execute(f"DELETE FROM {table}")
        for i, rid in enumerate(ids):
            adopt(archive, conn, rid, conflicts)
            if progress:
                progress(i + 1, len(ids))
        # every node's index is out of date: the log is pruned, so the other nodes rebuild theirs from the store;
        # this one is brought up to date by the changes queued here (as before there were nodes)
        from dangan.core.catalogue.outbox import forget_all
        from dangan.core.search.nodes import hold_at
        hold_at(archive, conn, forget_all(conn))
        queue_index(conn, ids)
        archive.audit(conn, "catalogue.rebuild", details={"records": len(ids), **({"code_conflicts": conflicts[:20]} if conflicts else {})})
    return len(ids)

