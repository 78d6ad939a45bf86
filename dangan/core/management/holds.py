"""Legal holds (冻结): records that must not be destroyed, transferred or revised.

A hold covers records named by id, the records a query matched when the hold
was placed (listed in ``hold_records``), or a whole volume — a volume hold
also covers records filed into the volume later.  Holds stack: a record is
free only when every hold covering it is released.  Placing and releasing
need the role ``legal``, ``archivist`` or ``admin``; both are audited.
"""
from __future__ import annotations

import secrets
from typing import TYPE_CHECKING

from dangan.errors import LegalHold, NotFound, UsageError
from dangan.core.policy.users import require_role
from dangan.core.kernel.clock import utc_text

if TYPE_CHECKING:
    from dangan.core.archive import Archive

HOLD_ROLES = ("legal", "archivist", "admin")


class RecordHeld(LegalHold):
    """The record is under a legal hold (exit code 14)."""


def holds_on(archive: Archive, record_id: str) -> list[dict]:
    """The active holds covering a record (by id or query, or through its volume)."""
    rows = archive.conn.execute(
        "SELECT h.* FROM holds h WHERE h.released_at IS NULL AND ("
        " h.id IN (SELECT hold_id FROM hold_records WHERE record_id = :r)"
        " OR (h.scope_kind = 'volume' AND h.scope = (SELECT volume FROM records WHERE id = :r)))"
        " ORDER BY h.created", {"r": record_id})
    return [dict(r) for r in rows]


def assert_not_held(archive: Archive, record_id: str, doing: str = "change") -> None:
    """Raise ``RecordHeld`` if any active hold covers the record (call before destroy, transfer, revise)."""
    held = holds_on(archive, record_id)
    if held:
        names = ", ".join(f"{h['id']} ({h['authority']}: {h['reason']})" for h in held)
        raise RecordHeld(f"record {record_id} is under legal hold {names}: it may not be {doing}")


def _targets(archive: Archive, refs, volume, query) -> tuple[str, str, list[str]]:
    given = sum(bool(x) for x in (refs, volume, query))
    if given != 1:
        raise UsageError("give record ids, or --volume V, or --query Q (exactly one)")
    if refs:
        from dangan.core.catalogue.tombstones import assert_alive
        for r in refs:
            assert_alive(archive, archive.record(r), "put under a legal hold")
        return "records", " ".join(refs), [archive.resolve(r) for r in refs]
    if volume:
        from dangan.core.catalogue.volumes import require_volume
        v = require_volume(archive, volume)
        return "volume", v.name, []
    from dangan.core.search.listing import list_filtered
    from dangan.core.catalogue.tombstones import GONE
    found = [r.id for r in list_filtered(archive, query) if r.status not in GONE]
    if not found:
        raise NotFound(f"no record matches {query!r}: nothing to hold")
    return "query", query, found


def add_hold(archive: Archive, refs=(), *, volume: str | None = None, query: str | None = None, reason: str,
             authority: str) -> dict:
    if not reason.strip() or not authority.strip():
        raise UsageError("a hold needs --reason and --authority (who ordered it: a court, an audit, ...)")
    require_role(archive, HOLD_ROLES, "place legal holds")
    kind, scope, ids = _targets(archive, list(refs), volume, query)
    hid = "h" + secrets.token_hex(5)
    t = utc_text()
    with archive.transaction() as conn:
        conn.execute("INSERT INTO holds (id, scope_kind, scope, reason, authority, created, created_by)"
                     " VALUES (?,?,?,?,?,?,?)", (hid, kind, scope, reason, authority, t, archive.actor.name))
        conn.executemany("INSERT INTO hold_records (hold_id, record_id) VALUES (?, ?)", [(hid, i) for i in ids])
        archive.audit(conn, "hold.add", hid, details={"scope_kind": kind, "scope": scope, "records": ids,
                                                      "reason": reason, "authority": authority})
        for i in ids:
            archive.audit(conn, "record.hold", i, details={"hold": hid})
    return get_hold(archive, hid)


def get_hold(archive: Archive, hid: str) -> dict:
    r = archive.conn.execute("SELECT * FROM holds WHERE id = ?", (hid,)).fetchone()
    if r is None:
        raise NotFound(f"no hold {hid!r}")
    d = dict(r)
    d["records"] = covered(archive, d)
    return d


def covered(archive: Archive, hold: dict) -> list[str]:
    if hold["scope_kind"] == "volume":
        return [r["id"] for r in archive.conn.execute("SELECT id FROM records WHERE volume = ? ORDER BY id",
                                                      (hold["scope"],))]
    return [r["record_id"] for r in archive.conn.execute(
        "SELECT record_id FROM hold_records WHERE hold_id = ? ORDER BY record_id", (hold["id"],))]


def release_hold(archive: Archive, hid: str, reason: str) -> dict:
    if not reason.strip():
        raise UsageError("releasing a hold needs --reason")
    require_role(archive, HOLD_ROLES, "release legal holds", obj=hid)
    h = get_hold(archive, hid)
    if h["released_at"]:
        raise UsageError(f"hold {hid} was released already ({h['released_at']} by {h['released_by']})")
    with archive.transaction() as conn:
        conn.execute("UPDATE holds SET released_at = ?, released_by = ?, release_reason = ? WHERE id = ?",
                     (utc_text(), archive.actor.name, reason, hid))
        archive.audit(conn, "hold.release", hid, details={"reason": reason, "records": h["records"]})
    return get_hold(archive, hid)


def list_holds(archive: Archive, *, include_released: bool = False, record: str | None = None) -> list[dict]:
    if record:
        rid = archive.resolve(record)
        out = holds_on(archive, rid)
        if include_released:
            out = [dict(r) for r in archive.conn.execute(
                "SELECT * FROM holds WHERE id IN (SELECT hold_id FROM hold_records WHERE record_id = :r)"
                " OR (scope_kind = 'volume' AND scope = (SELECT volume FROM records WHERE id = :r))"
                " ORDER BY created", {"r": rid})]
    else:
        out = [dict(r) for r in archive.conn.execute(
            "SELECT * FROM holds" + ("" if include_released else " WHERE released_at IS NULL") + " ORDER BY created")]
    for h in out:
        h["records"] = covered(archive, h)
    return out
