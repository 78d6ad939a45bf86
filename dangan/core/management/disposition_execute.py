"""Executing an approved destruction list (销毁清册): each item destroyed or transferred, then a certificate.

``execute`` (``archivist``/``admin``) holds the list's lock for the whole run,
re-checks holds, loans, retention and status for every item, and destroys it
through ``destruction.destroy_record`` with the list's id: the item's outcome
is written in the destruction's own commit, so a crash never leaves a
destroyed record whose list says otherwise.  Items whose action is
``transfer`` are first exported together as one BagIt bag to ``--to DIR``
(``destruction.transfer_batch``).  The list certificate (sha256 over its
canonical JSON) names every record, outcome and per-record certificate.  An
interrupted execution resumes on the next ``execute``; a list whose every item
was settled before the crash is certified by recovery (``certify_settled``).
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING

from dangan.errors import AccessDenied, PluginError, UsageError, WrongState
from dangan.model import Record
from dangan.core.management.disposition import EXECUTOR_ROLES, GONE, Due, check_transfer_target, due_of, get_list
from dangan.core.policy.users import require_role
from dangan.core.kernel.clock import utc_text

if TYPE_CHECKING:
    from dangan.core.archive import Archive


def execute(archive: Archive, lid: str, transfer_to=None) -> dict:
    """Dispose of every item of an approved list still due: transfers go out as one BagIt bag to
    ``transfer_to``, the rest is destroyed; returns the list with its certificate."""
    from dangan.core.management import destruction_intent
    require_role(archive, EXECUTOR_ROLES, "execute destruction lists", obj=lid)
    destruction_intent.recover(archive)
    with destruction_intent.list_lock(archive, lid, wait=False) as got:
        if not got:
            raise UsageError(f"destruction list {lid} is being executed by another process")
        return _execute(archive, lid, transfer_to)


def _execute(archive: Archive, lid: str, transfer_to) -> dict:
    from dangan.core.management.destruction import destroy_record, transfer_batch
    lst = get_list(archive, lid)
    if lst["status"] not in ("approved", "executing"):
        raise WrongState(f"destruction list {lid} is {lst['status']}: only an approved list is executed")
    from dangan.core.policy.four_eyes import require_other_person
    mine = require_other_person(archive, "disposition.execute", lid, "execute it",
                                {f"approved destruction list {lid}": lst["decided_identity"]})
    check_transfer_target(lst, transfer_to)
    transfers = [i for i in lst["items"] if not i["outcome"] and i["action"] == "transfer"]
    with archive.transaction() as conn:
        conn.execute("UPDATE disposal_lists SET status = 'executing', executed_by = ?, executed_identity = ?"
                     " WHERE id = ?", (archive.actor.name, mine, lid))
        archive.audit(conn, "disposition.execute", lid, "started")
    chain = {"list": lid, "proposed_by": lst["proposed_by"], "proposed_at": lst["proposed_at"],
             "approved_by": lst["decided_by"], "approved_at": lst["decided_at"]}
    bag, out, reasons = None, [], {}
    for item in transfers:
        rid = item["record_id"]
        try:
            rec = archive.record(rid)
            d, why = _recheck(archive, rec) if rec.status not in GONE else (None, f"{rec.status} already")
        except (UsageError, AccessDenied, PluginError) as exc:
            d, why = None, exc.message
        if d is None:
            _outcome(archive, lid, rid, "not transferred: " + why, None)
        else:
            out.append(rid)
            reasons[rid] = f"transfer list {lid} (retention {d.retention}, due {d.due})"
    if out:
        bag, outcomes = transfer_batch(archive, out, Path(transfer_to), list_id=lid, reasons=reasons,
                                       approved_by=lst["decided_by"], approval=chain)
        for rid, (outcome, sha) in outcomes.items():
            _outcome(archive, lid, rid, outcome, sha)
    for item in lst["items"]:
        if item["outcome"] or item["action"] == "transfer":
            continue
        rid = item["record_id"]
        sha = None
        try:
            rec = archive.record(rid)
            if rec.status in GONE:
                raise UsageError(f"{rec.status} already")
            d, why = _recheck(archive, rec)
            if d is None:
                raise UsageError(why)
            cert = destroy_record(archive, rid, reason=f"destruction list {lid} (retention {d.retention}, due {d.due})",
                                  approved_by=lst["decided_by"], approval=chain, list_id=lid)
            outcome, sha = "destroyed", cert["certificate_sha256"]
        except (UsageError, AccessDenied, PluginError) as exc:     # a hold, a loan, a veto, a changed retention
            outcome = "not destroyed: " + exc.message              # (anything else stops: the list resumes)
        _outcome(archive, lid, rid, outcome, sha)
    return _certify(archive, lid, bag)


def _outcome(archive: Archive, lid: str, rid: str, outcome: str, sha: str | None) -> None:
    with archive.transaction() as conn:
        conn.execute("UPDATE disposal_items SET outcome = ?, certificate_sha256 = ? WHERE list_id = ? AND"
                     " record_id = ?", (outcome, sha, lid, rid))
        if outcome not in ("destroyed", "transferred"):
            archive.audit(conn, "disposition.skip", rid, "failure", details={"list": lid, "reason": outcome})


def _recheck(archive: Archive, rec: Record) -> tuple[Due | None, str]:
    from dangan.core.management.holds import holds_on
    from dangan.core.management.lending import on_loan
    held = holds_on(archive, rec.id)
    if held:
        return None, f"under legal hold {', '.join(h['id'] for h in held)}"
    loan = on_loan(archive, rec.id)
    if loan:
        return None, f"on loan {loan} (issued or requested)"
    d = due_of(archive, rec)
    if d.action == "permanent":
        return None, "kept permanently"
    if d.due is None:
        return None, f"no due date ({d.problem})"
    if d.due > dt.date.today().isoformat():
        return None, f"not due until {d.due}" + (" (retention extended)" if d.extended_until else "")
    return d, ""


def certify_settled(archive: Archive) -> int:
    """Certify every list still ``executing`` whose items all have an outcome and whose executor is gone."""
    from dangan.core.management.destruction_intent import list_lock
    done = 0
    for row in archive.conn.execute(
            "SELECT id FROM disposal_lists l WHERE status = 'executing' AND NOT EXISTS"
            " (SELECT 1 FROM disposal_items i WHERE i.list_id = l.id AND i.outcome IS NULL)").fetchall():
        with list_lock(archive, row["id"], wait=False) as got:
            if got:
                _certify(archive, row["id"], _bag_of(archive, row["id"]), recovered=True)
                done += 1
    return done


def _bag_of(archive: Archive, lid: str) -> dict | None:
    """The bag of a list's transfers, from a transferred item's tombstone (the store keeps it)."""
    from dangan.core.store.layout import METADATA_PATH, parse_metadata
    r = archive.conn.execute("SELECT record_id FROM disposal_items WHERE list_id = ? AND outcome = 'transferred'"
                             " LIMIT 1", (lid,)).fetchone()
    if r is None:
        return None
    _rec, _names, cat = parse_metadata(archive.store.read_bytes(r["record_id"], METADATA_PATH), r["record_id"])
    return (cat.get("transfer") or {}).get("transfer")


def _certify(archive: Archive, lid: str, bag: dict | None = None, *, recovered: bool = False) -> dict:
    lst = get_list(archive, lid)
    t = utc_text()
    cert = {
        "certificate": "destruction certificate (销毁证明)", "list": lid, "fonds": archive.config.fonds,
        "archive": archive.config.name, "proposed_by": lst["proposed_by"], "proposed_at": lst["proposed_at"],
        "approved_by": lst["decided_by"], "approved_at": lst["decided_at"],
        "executed_by": lst["executed_by"] or archive.actor.name, "executed_at": t,
        "identities": {"proposed": lst["proposed_identity"], "approved": lst["decided_identity"],
                       "executed": lst["executed_identity"] or archive.actor.identity},
        "items": [{k: i[k] for k in ("record_id", "archival_code", "title", "secrecy", "retention", "due", "outcome",
                                     "certificate_sha256")} for i in lst["items"]],
    }
    cert["destroyed"] = sum(1 for i in cert["items"] if i["outcome"] == "destroyed")
    cert["transferred"] = sum(1 for i in cert["items"] if i["outcome"] == "transferred")
    cert["not_destroyed"] = len(cert["items"]) - cert["destroyed"] - cert["transferred"]
    if bag:
        cert["transfer"] = bag
    cert["certificate_sha256"] = hashlib.sha256(
        json.dumps(cert, sort_keys=True, ensure_ascii=False).encode()).hexdigest()
    with archive.transaction() as conn:
        cur = conn.execute("UPDATE disposal_lists SET status = 'executed', executed_at = ?, certificate = ?"
                           " WHERE id = ? AND status = 'executing'",
                           (t, json.dumps(cert, ensure_ascii=False, sort_keys=True), lid))
        if cur.rowcount == 1:
            archive.audit(conn, "disposition.execute", lid, details={
                "destroyed": cert["destroyed"], "transferred": cert["transferred"],
                "not_destroyed": cert["not_destroyed"], "certificate_sha256": cert["certificate_sha256"],
                **({"recovered": "interrupted execution certified"} if recovered else {})})
    return get_list(archive, lid)
