"""Declassification (解密 / 降密): lowering a record's secrecy needs another person's approval on file.

* **Request** (``declassify request ID --to LEVEL --reason``): anyone who may
  ``edit`` the record; the level is below the record's; one open request per
  record.
* **Approval** (``declassify approve REQ``): a user holding a role of
  ``[policy] declassify_approver_roles`` (default ``["security-officer"]``;
  add ``"manager"`` where the organisation's policy lets managers declassify),
  cleared for the record's present level, neither the requester by name nor
  by identity (``core.four_eyes``).  Approving applies it: a new version with
  the lower secrecy, audited as ``record.declassify`` with the old and new
  levels, the request marked ``applied`` with that version.
* ``revise`` refuses to lower secrecy any other way (``check_lowering``).

Raising secrecy is not gated here.
"""
from __future__ import annotations

import datetime as dt
import secrets
from typing import TYPE_CHECKING

from dangan.errors import NotFound, UsageError
from dangan.model import normalise_secrecy, secrecy_rank
from dangan.core.policy.users import deny, require_role
from dangan.core.kernel.clock import utc_text

if TYPE_CHECKING:
    from dangan.core.archive import Archive

DEFAULT_APPROVER_ROLES = ("security-officer",)
APPLYING = "record.declassify"          # the revision action an approved declassification uses


def approver_roles(archive: Archive) -> tuple[str, ...]:
    roles = archive.config.raw.get("policy", {}).get("declassify_approver_roles", DEFAULT_APPROVER_ROLES)
    return tuple(roles) if isinstance(roles, (list, tuple)) else (str(roles),)


def get_request(archive: Archive, req: str) -> dict:
    r = archive.conn.execute("SELECT * FROM declassifications WHERE id = ?", (req,)).fetchone()
    if r is None:
        raise NotFound(f"no declassification request {req!r} (see `dangan declassify list`)")
    return dict(r)


def list_requests(archive: Archive, status: str | None = None) -> list[dict]:
    """The requests about records the actor may see."""
    from dangan.core.policy.access import visibility
    from dangan.core.policy.users import acting_user
    acting_user(archive, action="list declassifications")
    visible = visibility(archive)
    sql = "SELECT * FROM declassifications" + (" WHERE status = ?" if status else "") + " ORDER BY requested_at, id"
    rows = [dict(r) for r in archive.conn.execute(sql, (status,) if status else ())]
    return [r for r in rows if visible is None or visible(archive.record(r["record_id"]))]


def request(archive: Archive, ref: str, to_level: str, reason: str) -> dict:
    from dangan.core.policy.access import require
    if not reason.strip():
        raise UsageError("a declassification needs --reason")
    rec = archive.record(ref)
    require(archive, "edit", rec)
    to_level = normalise_secrecy(to_level)
    old = rec.secrecy or "public"
    if secrecy_rank(to_level) >= secrecy_rank(old):
        raise UsageError(f"record {rec.id} is {old}: declassifying lowers it (to a level below {old})")
    if archive.conn.execute("SELECT 1 FROM declassifications WHERE record_id = ? AND status = 'requested'",
                            (rec.id,)).fetchone():
        raise UsageError(f"record {rec.id} has a declassification request awaiting a decision already")
    rid = "D" + dt.date.today().strftime("%Y%m%d") + "-" + secrets.token_hex(3)
    with archive.transaction() as conn:
        conn.execute("INSERT INTO declassifications (id, record_id, from_level, to_level, reason, status, requested_by,"
                     " requested_identity, requested_at) VALUES (?,?,?,?,?,'requested',?,?,?)",
                     (rid, rec.id, old, to_level, reason, archive.actor.name, archive.actor.identity, utc_text()))
        archive.audit(conn, "declassify.request", rec.id, details={"request": rid, "from": old, "to": to_level,
                                                                   "reason": reason})
    return get_request(archive, rid)


def _decide(archive: Archive, req: str, verdict: str):
    from dangan.core.policy.access import core_refusal, deny_record
    from dangan.core.policy.four_eyes import require_other_person
    d = get_request(archive, req)
    me = require_role(archive, approver_roles(archive), f"{verdict} declassifications", obj=d["record_id"])
    if d["status"] != "requested":
        raise UsageError(f"declassification {req} is {d['status']}, not awaiting a decision")
    if me.name == d["requested_by"]:
        raise deny(archive, f"declassify.{verdict}", d["record_id"],
                   f"{me.name} requested declassification {req} and may not {verdict} it (separation of duties)")
    mine = require_other_person(archive, f"declassify.{verdict}", d["record_id"], f"{verdict} it",
                                {f"requested declassification {req}": d["requested_identity"]})
    rec = archive.record(d["record_id"])
    why = core_refusal(archive, me, "approve", rec)
    if why:
        raise deny_record(archive, "approve", rec, why, "core")
    if (rec.secrecy or "public") != d["from_level"]:
        raise UsageError(f"record {rec.id} is {rec.secrecy} now, not {d['from_level']}: request again")
    return d, me, mine


def approve(archive: Archive, req: str, note: str = "") -> dict:
    """Approve and apply: the record gets a new version at the lower level."""
    from dangan.core.catalogue.fields import RecordFields
    from dangan.core.store.ingest import Ingestor
    from dangan.core.kernel.pipeline import pipeline_for
    d, me, mine = _decide(archive, req, "approve")
    with archive.transaction() as conn:
        cur = conn.execute("UPDATE declassifications SET status = 'approved', decided_by = ?, decided_identity = ?,"
                           " decided_at = ?, decision_note = ? WHERE id = ? AND status = 'requested'",
                           (me.name, mine, utc_text(), note, req))
        if cur.rowcount != 1:
            raise UsageError(f"declassification {req} changed meanwhile: look again")
        archive.audit(conn, "declassify.approve", d["record_id"], details={"request": req, "from": d["from_level"],
                                                                           "to": d["to_level"], "note": note or None})
    message = f"declassified {d['from_level']} → {d['to_level']} ({req}, approved by {me.name})"
    rec = Ingestor(archive, **pipeline_for(archive)).revise(d["record_id"], None, RecordFields(secrecy=d["to_level"]),
                                                           message, action=APPLYING)
    with archive.transaction() as conn:
        conn.execute("UPDATE declassifications SET status = 'applied', version = ? WHERE id = ?", (rec.version, req))
    from dangan.core.search.indexing import drain
    drain(archive)
    return get_request(archive, req)


def refuse(archive: Archive, req: str, reason: str) -> dict:
    if not reason.strip():
        raise UsageError("refusing a declassification needs --reason")
    d, me, mine = _decide(archive, req, "refuse")
    with archive.transaction() as conn:
        conn.execute("UPDATE declassifications SET status = 'refused', decided_by = ?, decided_identity = ?,"
                     " decided_at = ?, decision_note = ? WHERE id = ?", (me.name, mine, utc_text(), reason, req))
        archive.audit(conn, "declassify.refuse", d["record_id"], details={"request": req, "reason": reason})
    return get_request(archive, req)


def check_lowering(archive: Archive, old, new, action: str) -> None:
    """Called by ``revise``: refuse to lower secrecy unless this revision applies an approved declassification
    of this record to this level, approved by the identity acting now."""
    if secrecy_rank(new.secrecy or "public") >= secrecy_rank(old.secrecy or "public"):
        return
    row = archive.conn.execute(
        "SELECT id FROM declassifications WHERE record_id = ? AND status = 'approved' AND to_level = ?"
        " AND decided_identity = ?", (old.id, new.secrecy, archive.actor.identity)).fetchone()
    if action == APPLYING and row:
        return
    from dangan.core.policy.access import deny_record
    raise deny_record(archive, "edit", old, f"lowering the secrecy of record {old.id} from {old.secrecy} to "
                      f"{new.secrecy} needs an approved declassification: `dangan declassify request {old.id} "
                      f"--to {new.secrecy} --reason ...`, approved by {' or '.join(approver_roles(archive))}",
                      "core")
