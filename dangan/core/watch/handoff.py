"""Hand-offs: the catalogue's memory of which drop file became which record.

A drop file leaves its folder only after its record is committed, so a kill
between the commit and the move leaves an archived file in the drop folder.
The hand-off row makes the restart exact — nothing archived twice, even with
``duplicates = "archive"``, and for sealed records whose digests cannot be
compared:

1. **pending** — committed *before* ingest starts: the drop file's folder,
   fingerprint (size, mtime, and sha512 for plain folders), the watcher's pid
   and host, and ``audit_seq``, the audit trail's last seq at that moment.
2. Ingest runs with a ``HandoffActor``: its audit details carry
   ``watch_handoff = <id>``, so the ``record.ingest`` event — written in the
   same transaction as the record — names the hand-off it came from.
3. The file is moved to ``done/`` (or deleted, or moved to ``quarantine/``).
4. **done** — the outcome (archived, duplicate, refused) and record id, and
   the record queued for background extraction, in one transaction.

(Hand-offs settled on restart pass through **archived / duplicate /
refused**: decided, the file still to be moved.)

On restart (``settle_previous``), a pending hand-off of a dead watcher is
resolved from the store and catalogue alone: the ``record.ingest`` event naming
it (archived), else an ingest intent of the dead pid, settled here (adopted:
archived; forgotten: not archived), else a ``record.recover`` event written
meanwhile by another process for a record with the same digest (archived);
if that cannot be told apart (two candidates, or a sealed record), the file is
quarantined with the reason rather than risk a second copy.  A decided
hand-off just finishes its move.  Confidential folders store no path or
digest: ``path_key`` (an HMAC of the path under the archive id) finds the file.

On PostgreSQL (node folders on several machines share the catalogue) a hand-off also has a lease
(:mod:`..catalogue.leases`, kind ``handoff``), renewed while its watcher lives: the watcher of the drop folder
it names settles it once the lease has ended, whichever host began it.
"""
from __future__ import annotations

import hashlib
import hmac
import os
import socket
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from dangan.core.catalogue import leases
from dangan.core.kernel.actor import Actor
from dangan.core.catalogue.rowid import inserted_id
from dangan.core.kernel.clock import utc_text
from dangan.core.store.source_files import shown_name

if TYPE_CHECKING:
    from dangan.core.archive import Archive

OPEN_STATES = ("pending", "archived", "duplicate", "refused")


@dataclass(frozen=True)
class HandoffActor(Actor):
    """The watcher's actor while it archives one drop file: every audit event names the hand-off."""

    handoff: int | None = None

    def audit_details(self) -> dict[str, str]:
        d = dict(super().audit_details())
        if self.handoff is not None:
            d["watch_handoff"] = self.handoff
        return d

    @classmethod
    def of(cls, actor: Actor, handoff: int | None) -> "HandoffActor":
        return cls(actor.name, actor.os_user, actor.overridden, actor.uid, actor.session, handoff)


@dataclass
class Handoff:
    id: int
    folder: str
    path: str
    path_key: str
    sha512: str | None
    size: int
    mtime_ns: int
    pid: int
    host: str
    audit_seq: int
    state: str
    outcome: str | None
    record_id: str | None
    reason: str | None

    @classmethod
    def from_row(cls, r) -> "Handoff":
        return cls(**{k: r[k] for k in cls.__dataclass_fields__})

    def matches(self, st: os.stat_result) -> bool:
        return st.st_size == self.size and st.st_mtime_ns == self.mtime_ns


def path_key(archive: Archive, path: Path) -> str:
    key = (archive.config.archive_id or archive.config.fonds).encode("utf-8")
    return hmac.new(key, str(path).encode("utf-8", "surrogateescape"), hashlib.sha256).hexdigest()


def begin(archive: Archive, folder, path: Path, st: os.stat_result, sha512: str | None) -> int:
    """Commit a pending hand-off for ``path``; returns its id."""
    with archive.transaction() as conn:
        seq = conn.execute("SELECT coalesce(max(seq), 0) FROM audit").fetchone()[0]
        cur = conn.execute(
            "INSERT INTO watch_handoffs (folder, path, path_key, sha512, size, mtime_ns, pid, host, audit_seq,"
            " started, state) VALUES (?,?,?,?,?,?,?,?,?,?, 'pending')",
            (shown_name(folder.path), "" if folder.confidential else shown_name(path), path_key(archive, path),
             None if folder.confidential else sha512, st.st_size, st.st_mtime_ns, os.getpid(),
             socket.gethostname(), seq, utc_text()))
        hid = inserted_id(cur)
        if leases.applies(conn):
            leases.hold(conn, "handoff", str(hid))     # renewed while this watcher lives (PostgreSQL)
        return hid


def _release(archive: Archive, hid: int) -> None:
    """The hand-off is done: so is its lease (PostgreSQL)."""
    if leases.applies(archive.conn):
        try:
            leases.release(archive.conn, "handoff", str(hid))
        except Exception:  # noqa: BLE001 - a lost session released its lock; the lease row ends by itself
            pass


def take_over_waiting(archive: Archive, kind: str, key: str) -> bool:
    """PostgreSQL: take over the lease of a dead writer's intent, waiting for it to end (a watcher restarted at
    once after a kill -9 finds its predecessor's leases still running); False if a live writer keeps it."""
    deadline = time.monotonic() + leases.lease_seconds() + 5
    while True:
        if leases.take_over(archive.conn, kind, key):
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.5)


def decide(archive: Archive, hid: int, state: str, *, record_id: str | None = None, reason: str | None = None,
           extract: bool = False) -> None:
    """Record what became of the file (still in its folder); queue the record for extraction if asked."""
    from dangan.core.store.deferred import enqueue
    with archive.transaction() as conn:
        conn.execute("UPDATE watch_handoffs SET state = ?, outcome = ?, record_id = ?, reason = ? WHERE id = ?",
                     (state, state, record_id, reason, hid))
        if extract and record_id:
            enqueue(conn, record_id)


def finish(archive: Archive, hid: int, outcome: str, *, record_id: str | None = None, reason: str | None = None,
           extract: bool = False) -> None:
    """The file has left the drop folder: record the outcome and close the hand-off in one transaction.

    Recording the decision only now is safe: a kill before this leaves the
    hand-off pending, and ``resolve_pending`` finds what happened (the audit
    event of the ingest; a file already moved is simply closed).
    """
    from dangan.core.store.deferred import enqueue
    with archive.transaction() as conn:
        conn.execute("UPDATE watch_handoffs SET state = 'done', outcome = ?, record_id = ?, reason = ?, finished = ?"
                     " WHERE id = ?", (outcome, record_id, reason, utc_text(), hid))
        if extract and record_id:
            enqueue(conn, record_id)
    _release(archive, hid)


def close(archive: Archive, hid: int, outcome: str | None = None) -> None:
    """The file has left the drop folder (or was found gone): the hand-off is done."""
    with archive.transaction() as conn:
        conn.execute("UPDATE watch_handoffs SET state = 'done', outcome = coalesce(?, outcome), finished = ?"
                     " WHERE id = ?", (outcome, utc_text(), hid))
    _release(archive, hid)


def open_handoffs(archive: Archive) -> list[Handoff]:
    rows = archive.conn.execute("SELECT * FROM watch_handoffs WHERE state != 'done' ORDER BY id").fetchall()
    return [Handoff.from_row(r) for r in rows]


def resolve_pending(archive: Archive, h: Handoff) -> tuple[str, str | None, str | None]:
    """What became of a dead watcher's pending hand-off: (state, record id, reason).

    state is 'archived', 'retry' (never archived: take the file again) or
    'refused' (cannot be told: quarantine with the reason).
    """
    from dangan.core.store.deferred import INTENT_SOURCE
    from dangan.core.store.recovery import settle_intent
    conn = archive.conn
    row = conn.execute("SELECT object FROM audit WHERE seq > ? AND action = 'record.ingest'"
                       " AND json_extract(details, '$.watch_handoff') = ? LIMIT 1", (h.audit_seq, h.id)).fetchone()
    if row:
        return "archived", row["object"], None
    intents = conn.execute("SELECT object_id FROM ingest_intents WHERE pid = ? AND host = ? AND source != ?",
                           (h.pid, h.host, INTENT_SOURCE)).fetchall()
    shared = leases.applies(conn)
    for it in intents:
        if shared and not take_over_waiting(archive, "ingest", it["object_id"]):
            continue                  # settled by nobody yet but kept by a live writer: cannot be (a dead pid's)
        try:
            outcome = settle_intent(archive, it["object_id"])
        finally:
            if shared:
                leases.release(conn, "ingest", it["object_id"])
        if outcome == "adopted":
            return "archived", it["object_id"], None
    candidates = []          # new records adopted meanwhile by another process's recovery
    for r in conn.execute("SELECT DISTINCT a.object, rec.main_sha512, rec.sealed FROM audit a JOIN records rec"
                          " ON rec.id = a.object WHERE a.seq > ? AND a.action = 'record.recover'"
                          " AND CAST(json_extract(a.details, '$.version') AS INTEGER) = 1 AND rec.status != 'destroyed'",
                          (h.audit_seq,)):
        if (r["main_sha512"] == h.sha512 and not r["sealed"]) if h.sha512 else r["sealed"]:
            candidates.append(r["object"])
    if not candidates:
        return "retry", None, None
    if len(candidates) == 1 and h.sha512 is not None:
        return "archived", candidates[0], None
    return "refused", None, ("the watcher was interrupted while archiving this file; it may already be archived as "
                             f"record {' or '.join(candidates)}: check, and drop it again if it is not")


def settle_previous(archive: Archive, keys: dict[str, Path], folders: set[str] | None = None,
                    busy: set[str] | None = None) -> list[tuple[Handoff, Path]]:
    """Resolve the open hand-offs of earlier watchers on this host; returns (decided hand-off, its file still there).

    Call it holding the watcher lock and before this watcher begins any hand-off:
    every open hand-off is then an earlier watcher's, even one that had our pid
    (pids are reused, and a container's watcher may always be pid 1).

    ``keys`` maps ``path_key`` to the files now in the drop folders.  Hand-offs
    whose file is gone or was replaced are closed here; the caller moves the rest.

    On PostgreSQL (a catalogue other machines and node folders share) the hand-offs settled are those of this
    watcher's drop ``folders`` (their shown names), whichever machine began them, once their lease has ended
    (waited for: a watcher restarted at once after a kill -9); one a live watcher keeps has its ``path_key`` put
    in ``busy`` (the caller leaves that file alone).
    """
    host = socket.gethostname()
    shared = leases.applies(archive.conn)
    out = []
    for h in open_handoffs(archive):          # the caller holds the watcher lock: none is a live watcher's
        if shared:
            if folders is not None and h.folder not in folders:
                continue                      # another node's drop folder: its watcher settles it
            if not take_over_waiting(archive, "handoff", str(h.id)):
                if busy is not None:
                    busy.add(h.path_key)
                continue
            try:
                found = _settle_one(archive, h, keys)
            except BaseException:
                _release(archive, h.id)
                raise
            if found is not None:
                out.append(found)             # its lease is released when the caller finishes the hand-off
            continue
        if h.host != host:
            continue
        found = _settle_one(archive, h, keys)
        if found is not None:
            out.append(found)
    return out


def _settle_one(archive: Archive, h: Handoff, keys: dict[str, Path]) -> tuple[Handoff, Path] | None:
    if h.state == "pending":
        state, rid, reason = resolve_pending(archive, h)
        if state == "retry":
            close(archive, h.id, "interrupted")
            return None
        decide(archive, h.id, state, record_id=rid, reason=reason,
               extract=state == "archived" and _needs_extraction(archive, rid))
        h = replace(h, state=state, outcome=state, record_id=rid, reason=reason)
    path = keys.get(h.path_key)
    try:
        st = path.lstat() if path is not None else None
    except OSError:
        st = None
    if path is None or st is None or not h.matches(st):
        close(archive, h.id)            # already moved, or a new file under the same name
        return None
    return h, path


def settle_dead_watcher(archive: Archive, previous: dict | None) -> int:
    """Settle the remaining intents of the previous watcher (its state file names it; the lock proves it dead).

    ``recover_interrupted`` skips intents whose pid is alive, and the dead
    watcher's pid may be ours now; these are settled here by pid and host.
    """
    from dangan.core.store.recovery import settle_intent
    if not previous or previous.get("host") != socket.gethostname() or not previous.get("pid"):
        return 0
    rows = archive.conn.execute("SELECT object_id FROM ingest_intents WHERE pid = ? AND host = ?",
                                (previous["pid"], previous["host"])).fetchall()
    shared = leases.applies(archive.conn)
    for r in rows:
        if shared and not leases.take_over(archive.conn, "ingest", r["object_id"]):
            continue                    # its lease runs yet: recover_interrupted settles it once it ends
        try:
            settle_intent(archive, r["object_id"])
        finally:
            if shared:
                leases.release(archive.conn, "ingest", r["object_id"])
    return len(rows)


def _needs_extraction(archive: Archive, rid: str | None) -> bool:
    """A plain record archived without its text; not a batch scan (its documents, the parts, carry the text)."""
    import json
    from dangan.core.store.scan_batch import BATCH_TAG
    row = archive.conn.execute("SELECT sealed, extraction_status, tags FROM records WHERE id = ?", (rid,)).fetchone()
    return (row is not None and not row["sealed"] and row["extraction_status"] is None
            and BATCH_TAG not in json.loads(row["tags"] or "[]"))


def last_errors(archive: Archive, limit: int = 5) -> list[dict]:
    rows = archive.conn.execute("SELECT id, folder, path, outcome, reason, record_id, coalesce(finished, started) AS at"
                                " FROM watch_handoffs WHERE outcome IN ('refused', 'failed') ORDER BY id DESC LIMIT ?",
                                (limit,)).fetchall()
    return [dict(r) for r in rows]


def note_failure(archive: Archive, hid: int, reason: str) -> None:
    """A transient failure (disk full, busy): the file stays in the drop folder and is tried again."""
    with archive.transaction() as conn:
        conn.execute("UPDATE watch_handoffs SET state = 'done', outcome = 'failed', reason = ?, finished = ?"
                     " WHERE id = ?", (reason[:500], utc_text(), hid))
    _release(archive, hid)


def safe_reason(message: str, path: Path, folder) -> str:
    """A refusal's reason as the catalogue and the log may keep it (no file names of confidential folders)."""
    if not folder.confidential:
        return message
    return (message.replace(str(path), "(file)").replace(shown_name(path), "(file)")
            .replace(shown_name(path.name), "(file)").replace(path.name, "(file)"))
