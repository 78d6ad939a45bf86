"""Moving a record across the border of a confidential volume (``dangan mv ID --volume V``).

* **Into** one: the record ends up sealed exactly as if it had been filed there (``reseal``: a new
  sealed object under the same id, archival code and piece; the plaintext object purged).  The
  filing rules apply (the volume open, its secrecy holding the record's, neither volume closed);
  a record on loan, under a legal hold, with an extraction still queued, or sealed once before
  (its key was shredded when it left) is refused.
* **Out of** one, into a plain volume: a request (with a reason) that a security officer approves
  (``[policy] declassify_approver_roles``, the same roles as a declassification: leaving lowers the
  secrecy to the plain volume's), neither the requester by name nor by identity
  (``four_eyes``), cleared for the record and with the volume unlocked.  Approving applies it:
  the record is opened into a new plain object and the sealed one purged, its key shredded.
* Between two confidential volumes: refused (unseal through an approved move, then seal).
"""
from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from dangan.errors import IntegrityError, NotFound, UsageError
from dangan.core.kernel.clock import utc_text

if TYPE_CHECKING:
    from dangan.core.archive import Archive
    from dangan.core.catalogue.volumes import Volume
    from dangan.model import Record


def is_sealed(archive: Archive, rid: str) -> bool:
    row = archive.conn.execute("SELECT sealed FROM records WHERE id = ?", (rid,)).fetchone()
    return bool(row and row["sealed"])


def _check_movable(archive: Archive, rec: Record, target: Volume, doing: str) -> None:
    from dangan.core.catalogue.tombstones import assert_alive
    from dangan.core.catalogue.volumes import refuse_if_closed
    from dangan.core.management.holds import assert_not_held
    from dangan.core.management.lending import on_loan
    assert_alive(archive, rec, doing)
    assert_not_held(archive, rec.id, doing)
    refuse_if_closed(archive, rec.volume, "no record is moved out of")
    refuse_if_closed(archive, target.name, "no record is moved into")
    loan = on_loan(archive, rec.id)
    if loan:
        raise UsageError(f"record {rec.id} is on loan {loan}: it is {doing} once the loan is returned")
    if archive.conn.execute("SELECT 1 FROM extraction_queue WHERE record_id = ?", (rec.id,)).fetchone():
        raise UsageError(f"record {rec.id} waits for its text extraction: it is {doing} once that is done "
                         "(`dangan status` shows the queue)")


def seal_into(archive: Archive, ref: str, target: Volume, message: str = "") -> Record:
    """Move a plain record into the confidential volume ``target``: sealed as if filed there."""
    from dangan.core.catalogue.volumes import file_into, is_unlocked, open_keystore, private_key
    from dangan.core.confidential.sealing import SealedProtection
    from dangan.core.management import reseal
    from dangan.core.policy.access import require
    from dangan.core.management.reseal import check_supported
    rec = archive.record(ref)
    require(archive, "edit", rec)
    check_supported(archive)
    _check_movable(archive, rec, target, "moved")
    probe = replace(rec, tags=list(rec.tags), metadata=dict(rec.metadata))
    file_into(archive, probe, target)                 # the secrecy rules; the record takes the volume's level
    ks = open_keystore(archive)
    if ks.destroyed(rec.id) is not None:
        raise UsageError(f"record {rec.id} was sealed once and its key shredded when it left: it cannot be sealed "
                         "again under its id; ingest its files into the volume instead")
    try:
        ks.record_volume(rec.id)
        leftover = True
    except NotFound:
        leftover = False
    if leftover:                  # an interrupted move made the key: reuse it, which needs the volume unlocked
        if not is_unlocked(archive, target):
            raise UsageError(f"record {rec.id} has a key from an interrupted move into {target.name!r}: unlock the "
                             f"volume (`dangan volume unlock {target.name}`) and move it again")
        key = ks.record_key(rec.id, private_key(archive, target))
    else:
        key = ks.add_record_key(target.id, rec.id)
    details = {"from": rec.volume, "to": target.name, "sealed": True, "message": None,
               "secrecy": {"from": rec.secrecy, "to": probe.secrecy} if probe.secrecy != rec.secrecy else None}
    new = replace(rec, volume=target.name, secrecy=probe.secrecy, updated=utc_text())
    return reseal.replace_object(archive, rec, new, reseal.original_names(archive, rec.id),
                                 source_prot=reseal.StoreReader(archive, rec.id),
                                 target_prot=SealedProtection(target, rec.id, key), direction=reseal.SEAL,
                                 details=details,
                                 message=message or f"moved from volume {rec.volume or '(none)'} to {target.name}")


# -- out of a confidential volume: requested, approved by a security officer, applied --------------------
def get_request(archive: Archive, req: str) -> dict[str, Any]:
    r = archive.conn.execute("SELECT * FROM volume_moves WHERE id = ?", (req,)).fetchone()
    if r is None:
        raise NotFound(f"no move request {req!r} (`dangan mv --pending` lists them)")
    return dict(r)


def pending_requests(archive: Archive) -> list[dict[str, Any]]:
    return [dict(r) for r in archive.conn.execute(
        "SELECT * FROM volume_moves WHERE status = 'requested' ORDER BY requested_at, id")]


def request_out(archive: Archive, ref: str, target: Volume, reason: str) -> dict[str, Any]:
    """Ask for a sealed record to leave its confidential volume for the plain volume ``target``."""
    from dangan.core.catalogue.volumes import file_into
    from dangan.core.policy.access import require
    if not reason.strip():
        raise UsageError("moving a record out of a confidential volume needs --reason (a security officer "
                         "approves it)")
    from dangan.core.management.reseal import check_supported
    rec = archive.record(ref)
    require(archive, "edit", rec)
    check_supported(archive)
    if target.confidential:
        raise UsageError(f"record {rec.id} is sealed in {rec.volume!r}: it moves between confidential volumes "
                         "only by leaving one (an approved move into a plain volume) and entering the other")
    _check_movable(archive, rec, target, "moved")
    probe = replace(rec, secrecy=target.secrecy, tags=list(rec.tags), metadata=dict(rec.metadata))
    file_into(archive, probe, target)
    if archive.conn.execute("SELECT 1 FROM volume_moves WHERE record_id = ? AND status = 'requested'",
                            (rec.id,)).fetchone():
        raise UsageError(f"record {rec.id} has a move request awaiting a decision already")
    rid = "M" + dt.date.today().strftime("%Y%m%d") + "-" + secrets.token_hex(3)
    with archive.transaction() as conn:
        conn.execute("INSERT INTO volume_moves (id, record_id, from_volume, to_volume, to_secrecy, reason, status,"
                     " requested_by, requested_identity, requested_at) VALUES (?,?,?,?,?,?,'requested',?,?,?)",
                     (rid, rec.id, rec.volume, target.name, target.secrecy, reason, archive.actor.name,
                      archive.actor.identity, utc_text()))
        archive.audit(conn, "record.move.request", rec.id, details={
            "request": rid, "from": rec.volume, "to": target.name, "secrecy": {"from": rec.secrecy,
                                                                                "to": target.secrecy},
            "reason": reason})
    return get_request(archive, rid)


def _decide(archive: Archive, req: str, verdict: str):
    from dangan.core.management.declassification import approver_roles
    from dangan.core.policy.access import core_refusal, deny_record
    from dangan.core.policy.four_eyes import require_other_person
    from dangan.core.policy.users import deny, require_role
    d = get_request(archive, req)
    me = require_role(archive, approver_roles(archive), f"{verdict} moves out of confidential volumes",
                      obj=d["record_id"])
    resuming = verdict == "approve" and d["status"] == "approved" and d["decided_identity"] == archive.actor.identity
    if d["status"] != "requested" and not resuming:      # (an approval whose move was interrupted is applied again)
        raise UsageError(f"move request {req} is {d['status']}, not awaiting a decision")
    if me.name == d["requested_by"]:
        raise deny(archive, f"record.move.{verdict}", d["record_id"],
                   f"{me.name} requested move {req} and may not {verdict} it (separation of duties)")
    mine = require_other_person(archive, f"record.move.{verdict}", d["record_id"], f"{verdict} it",
                                {f"requested move {req}": d["requested_identity"]})
    rec = archive.record(d["record_id"])
    why = core_refusal(archive, me, "approve", rec)
    if why:
        raise deny_record(archive, "approve", rec, why, "core")
    if rec.volume != d["from_volume"]:
        raise UsageError(f"record {rec.id} is in volume {rec.volume!r} now, not {d['from_volume']!r}: request again")
    return d, me, mine, rec


def approve_out(archive: Archive, req: str, note: str = "") -> dict[str, Any]:
    """Approve and apply: the record is opened into a plain object in the target volume; the sealed one goes."""
    from dangan.core.catalogue.volumes import require_named_volume
    from dangan.core.confidential.sealing import PlainProtection, opened, record_key, sealed_of
    from dangan.core.management import reseal
    d, me, mine, rec = _decide(archive, req, "approve")
    target = require_named_volume(archive, d["to_volume"])
    _check_movable(archive, rec, target, "moved")
    key = record_key(archive, rec)              # the approver has the volume unlocked (else: a clear CryptoError)
    sealed = sealed_of(archive, rec.id)
    if sealed is None:
        raise IntegrityError(f"record {rec.id} is in a confidential volume but has no sealed fields")
    full, files = opened(archive, rec, sealed, key)
    names = {p: f.get("original_name", p) for p, f in files.items()}
    if d["status"] == "requested":
        with archive.transaction() as conn:
            cur = conn.execute("UPDATE volume_moves SET status = 'approved', decided_by = ?, decided_identity = ?,"
                               " decided_at = ?, decision_note = ? WHERE id = ? AND status = 'requested'",
                               (me.name, mine, utc_text(), note, req))
            if cur.rowcount != 1:
                raise UsageError(f"move request {req} changed meanwhile: look again")
            archive.audit(conn, "record.move.approve", rec.id, details={"request": req, "note": note or None})
    details = {"from": rec.volume, "to": target.name, "sealed": False, "request": req,
               "approved_by": me.name, "requested_by": d["requested_by"],
               "secrecy": {"from": rec.secrecy, "to": d["to_secrecy"]}}
    new = replace(full, volume=target.name, secrecy=d["to_secrecy"], updated=utc_text())
    reseal.replace_object(archive, full, new, names, source_prot=reseal.SealedReader(archive, rec, key),
                          target_prot=PlainProtection(), direction=reseal.UNSEAL, details=details,
                          message=f"moved out of confidential volume {rec.volume} to {target.name} ({req}, "
                                  f"approved by {me.name})")
    with archive.transaction() as conn:
        conn.execute("UPDATE volume_moves SET status = 'applied', applied_at = ? WHERE id = ?", (utc_text(), req))
    return get_request(archive, req)


def refuse_out(archive: Archive, req: str, reason: str) -> dict[str, Any]:
    if not reason.strip():
        raise UsageError("refusing a move needs --reason")
    d, me, mine, _rec = _decide(archive, req, "refuse")
    with archive.transaction() as conn:
        conn.execute("UPDATE volume_moves SET status = 'refused', decided_by = ?, decided_identity = ?,"
                     " decided_at = ?, decision_note = ? WHERE id = ?", (me.name, mine, utc_text(), reason, req))
        archive.audit(conn, "record.move.refuse", d["record_id"], details={"request": req, "reason": reason})
    return get_request(archive, req)
