"""The audit trail: append-only, hash-chained events in the catalogue.

Each event's hash covers its sequence number, time, actor, action, object,
outcome, details and the previous event's hash; ``audit_head`` keeps the
last sequence number and hash, so a deleted tail is detected too.  Events
are appended inside the same transaction as the state change they record.

Actions are named ``noun.verb``; ``PREMIS`` maps them to PREMIS event types.
"""
from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from typing import Any, Iterator

from dangan.core.kernel.clock import utc_text

GENESIS = "0" * 64

PREMIS = {
    "archive.init": "creation",
    "record.ingest": "ingestion",
    "record.revise": "modification",
    "record.retrieve": "dissemination",
    "record.export": "dissemination",
    "archive.check": "fixity check",
    "catalogue.rebuild": "metadata modification",
    "record.recover": "ingestion",
    "index.rebuild": "metadata modification",
    "record.destroy": "deletion",
    "record.lend": "dissemination",
    "inspection": "validation",
    "record.approve": "metadata modification",
    "volume.unlock": "decryption",
    "audit.acknowledge": "metadata modification",
    "record.identify": "format identification",
}


def utcnow() -> str:
    """An audit event's time: the catalogue's UTC text, to the microsecond (``kernel.clock``)."""
    return utc_text(timespec="microseconds")


def canonical(details: dict[str, Any] | None) -> str:
    return json.dumps(details or {}, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)


def event_hash(seq: int, time: str, actor: str, action: str, obj: str, outcome: str, details: str, prev: str) -> str:
    payload = json.dumps([seq, time, actor, action, obj, outcome, details, prev], ensure_ascii=False,
                         separators=(",", ":"))
    import hashlib
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class AuditEvent:
    seq: int
    time: str
    actor: str
    action: str
    object: str
    outcome: str
    details: dict[str, Any]
    prev_hash: str
    hash: str

    def to_dict(self) -> dict[str, Any]:
        d = dict(self.__dict__)
        d["premis"] = PREMIS.get(self.action)
        return d


def append(conn: sqlite3.Connection, *, actor: str, action: str, obj: str = "", outcome: str = "success",
           details: dict[str, Any] | None = None) -> int:
    """Append one event; the caller holds a write transaction."""
    row = conn.execute("SELECT seq, hash FROM audit_head WHERE id = 1").fetchone()
    seq, prev = (row["seq"] + 1, row["hash"]) if row else (1, GENESIS)
    time = utcnow()
    text = canonical(details)
    h = event_hash(seq, time, actor, action, obj, outcome, text, prev)
    conn.execute(
        "INSERT INTO audit (seq, time, actor, action, object, outcome, details, prev_hash, hash)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", (seq, time, actor, action, obj, outcome, text, prev, h))
    conn.execute("INSERT INTO audit_head (id, seq, hash) VALUES (1, ?, ?)"
                 " ON CONFLICT(id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash", (seq, h))
    return seq


def events(conn: sqlite3.Connection, *, obj: str | None = None, action: str | None = None,
           limit: int | None = None, actor: str | None = None, outcome: str | None = None,
           since: str | None = None, until: str | None = None) -> Iterator[AuditEvent]:
    """Events oldest first; ``since``/``until`` are days (YYYY-MM-DD), both included."""
    sql = "SELECT * FROM audit"
    where, params = [], []
    for col, val in (("object", obj), ("action", action), ("actor", actor), ("outcome", outcome)):
        if val:
            where.append(f"{col} = ?")
            params.append(val)
    if since:
        where.append("substr(time, 1, 10) >= ?")
        params.append(since)
    if until:
        where.append("substr(time, 1, 10) <= ?")
        params.append(until)
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY seq"
    if limit:
        sql = f"SELECT * FROM ({sql.replace('ORDER BY seq', 'ORDER BY seq DESC')} LIMIT {int(limit)}) AS last_events ORDER BY seq"
    for r in conn.execute(sql, params):
        yield AuditEvent(r["seq"], r["time"], r["actor"], r["action"], r["object"], r["outcome"],
                         json.loads(r["details"]), r["prev_hash"], r["hash"])


def verify(conn: sqlite3.Connection) -> list[str]:
    """Check the whole chain; returns one line per problem (empty: intact)."""
    return [text for _seq, text in verify_detailed(conn)]


def verify_detailed(conn: sqlite3.Connection) -> list[tuple[int | None, str]]:
    """The chain's problems, each with the sequence number of the event it is about (None: the head)."""
    problems: list[tuple[int | None, str]] = []
    prev_seq, prev_hash = 0, GENESIS
    rows = conn.execute("SELECT * FROM audit ORDER BY seq")      # seq is the rowid (INTEGER PRIMARY KEY)
    for r in rows:
        seq = r["seq"]
        if seq != prev_seq + 1:
            problems.append((seq, f"event {seq}: sequence jumps from {prev_seq} (an event was deleted, inserted or moved)"))
        if r["prev_hash"] != prev_hash:
            problems.append((seq, f"event {seq}: previous-hash link broken (an earlier event was changed, removed or "
                                  "reordered)"))
        expected = event_hash(seq, r["time"], r["actor"], r["action"], r["object"], r["outcome"], r["details"],
                              r["prev_hash"])
        if r["hash"] != expected:
            problems.append((seq, f"event {seq}: content does not match its hash (the event was edited)"))
        prev_seq, prev_hash = seq, r["hash"]
    head = conn.execute("SELECT seq, hash FROM audit_head WHERE id = 1").fetchone()
    if head is None:
        if prev_seq:
            problems.append((None, "the audit head is missing"))
    elif (head["seq"], head["hash"]) != (prev_seq, prev_hash):
        problems.append((None, f"the log ends at event {prev_seq} but the head names event {head['seq']}"
                                " (events at the end were deleted or the head was altered)"))
    return problems
