"""The lending register (借阅登记簿): request, approval, due dates, item-by-item return.

Rules:

* **Request** (``lend.request``): a purpose, the records, the days.  The
  borrower is the actor, or — for an archivist or admin — another registered
  user, or an outside party (unit, letter-of-introduction reference and a
  resident ID number checked with python-stdnum ``cn.ric``, all three
  required; the requesting user sponsors it).  The borrower (sponsor for
  outside parties) must be allowed to ``view`` every record (clearance first).
* **Limit**: the shortest of the plugins' ``lending_limit_days`` for each
  record and ``[lending] max_days`` (default 30); asking for more is refused.
  Without ``--days`` the loan gets that limit (at most ``[lending]
  default_days``, default 14).
* **No re-lending**: a record on an open loan (requested or on loan, not
  returned) cannot be requested again, and a loan is never extended.
* **Approval** (``lend.approve``): for records below secret, the
  ``department-head`` of the borrower's (sponsor's) department or a
  ``manager``; any record secret or above needs a ``manager``.  The approver is
  neither the borrower nor the requester and is cleared for every record; the
  plugins' ``lend`` rule is asked for the borrower with the approval on file
  (``AccessContext.approvals = {"lend"}``).  Due = approval date + days,
  moved to issue date + days when the loan is issued.
* **Issue** (``lend.issue``, archivist/admin): only an approved loan, item
  by item or all at once, either in place (the reading room; recorded) or as
  a recorded copy written to a folder, each file carrying the loan: a header
  line in plain text, metadata and a text annotation in a PDF, a sidecar
  ``NAME.loan.txt`` otherwise; the copy's digests are kept in the register.
  A sealed record is issued only while its volume is unlocked.  The plugins'
  ``lend`` (and for a copy ``copy``) rule is asked again for the borrower.
  States: requested → approved → issued → returned (or refused).
* **Return** (``lend.return``): issued items, one by one, received by an ``archivist`` or
  ``admin`` with the condition found; returning what this loan never lent, or
  twice, is refused and changes nothing.  The loan closes when every item is
  back.
"""
from __future__ import annotations

import datetime as dt
import json
import secrets

from pathlib import Path
from typing import TYPE_CHECKING

from dangan.errors import CryptoError, NotFound, UsageError, WrongState
from dangan.model import is_confidential
from dangan.core.policy.users import acting_user, deny, register_in_use, require_role, require_user
from dangan.core.kernel.clock import utc_text

if TYPE_CHECKING:
    from dangan.core.archive import Archive

RECEIVER_ROLES = ("archivist", "admin")
OPEN = ("requested", "approved", "issued")
STATUSES = ("requested", "approved", "issued", "returned", "refused")


def _cfg(archive: Archive, key: str, default: int) -> int:
    v = archive.config.raw.get("lending", {}).get(key, default)
    if not isinstance(v, int) or v < 1:
        raise UsageError(f"dangan.toml: [lending] {key} must be a positive number of days")
    return v


def check_id_number(value: str) -> str:
    from stdnum.cn import ric
    from stdnum.exceptions import ValidationError
    try:
        return ric.validate(value)
    except ValidationError as exc:
        raise UsageError(f"invalid resident ID number {value!r}: {exc}") from None


def on_loan(archive: Archive, rid: str) -> str | None:
    r = archive.conn.execute("SELECT l.id FROM loan_items i JOIN loans l ON l.id = i.loan_id WHERE i.record_id = ?"
                             " AND i.returned_at IS NULL AND l.status IN ('requested', 'approved', 'issued')", (rid,)).fetchone()
    return r["id"] if r else None


def paper_box(conn, rid: str) -> str | None:
    """The box the record's paper original belongs in, or None if it has no paper original on the shelves."""
    row = conn.execute("SELECT box FROM record_locations WHERE record_id = ?", (rid,)).fetchone()
    return row["box"] if row else None


def paper_out(conn, rid: str) -> dict | None:
    """The loan the record's paper original is out on (借出): loan, borrower, due, issued; else None."""
    row = conn.execute("SELECT l.id AS loan, l.borrower, l.external_unit, l.due, i.issued_at AS since"
                       " FROM loan_items i JOIN loans l ON l.id = i.loan_id WHERE i.record_id = ? AND i.paper_out = 1"
                       " AND i.issued_at IS NOT NULL AND i.returned_at IS NULL", (rid,)).fetchone()
    return dict(row) if row else None


def limit_for(archive: Archive, recs, actor) -> tuple[int, str]:
    """The longest loan allowed for these records (shortest limit wins) and which rule set it."""
    limit, why = _cfg(archive, "max_days", 30), "[lending] max_days"
    for rec in recs:
        p = archive.plugins.lending_limit_days(rec, actor)
        if p is not None and p < limit:
            limit, why = p, f"plugin limit for record {rec.id}"
    return limit, why


def request(archive: Archive, refs, *, purpose: str, days: int | None = None, borrower: str | None = None,
            unit: str | None = None, letter: str | None = None, id_number: str | None = None) -> dict:
    from dangan.plugins.types import Actor
    from dangan.core.policy.access import plugin_actor, require
    if not refs:
        raise UsageError("name the records to borrow")
    if not purpose.strip():
        raise UsageError("a loan needs --purpose (what the records are borrowed for)")
    me = plugin_actor(archive)
    external = any((unit, letter, id_number))
    if external:
        missing = [n for n, v in (("--unit", unit), ("--letter", letter), ("--id-number", id_number),
                                  ("--borrower", borrower)) if not (v or "").strip()]
        if missing:
            raise UsageError(f"an outside borrower needs {', '.join(missing)}")
        id_number = check_id_number(id_number or "")
        who, dept, as_user = (borrower or "").strip(), me.department, None
    else:
        who = borrower or me.name
        if who != me.name:
            require_role(archive, RECEIVER_ROLES, "request loans for others")
        if register_in_use(archive):
            u = require_user(archive, who)
            if not u.active:
                raise UsageError(f"user {who!r} is disabled")
            dept = u.department
        else:
            dept = me.department
        as_user = who
    recs = [archive.record(r) for r in dict.fromkeys(refs)]
    for rec in recs:
        from dangan.core.catalogue.tombstones import assert_alive
        assert_alive(archive, rec, "lent")
        require(archive, "view", rec, as_user=as_user)
        other = on_loan(archive, rec.id)
        if other:
            raise UsageError(f"record {rec.id} is on loan {other} already: it is not lent again until returned")
    limit, why = limit_for(archive, recs, Actor(who) if external else plugin_actor(archive))
    if days is None:
        days = min(limit, _cfg(archive, "default_days", 14))
    if days < 1:
        raise UsageError("--days must be at least 1")
    if days > limit:
        raise UsageError(f"{days} days is past the lending limit of {limit} days ({why})")
    lid = "B" + dt.date.today().strftime("%Y%m%d") + "-" + secrets.token_hex(3)
    t = utc_text()
    with archive.transaction() as conn:
        conn.execute("INSERT INTO loans (id, borrower, department, purpose, days, external_unit, letter_ref, id_number,"
                     " status, requested_by, requested_at, requested_identity) VALUES (?,?,?,?,?,?,?,?,'requested',?,?,?)",
                     (lid, who, dept, purpose, days, unit, letter, id_number, me.name, t, archive.actor.identity))
        conn.executemany("INSERT INTO loan_items (loan_id, record_id) VALUES (?, ?)", [(lid, r.id) for r in recs])
        archive.audit(conn, "lend.request", lid, details={
            "borrower": who, "external": bool(external), "unit": unit, "records": [r.id for r in recs],
            "days": days, "purpose": purpose})
    return get_loan(archive, lid)


def get_loan(archive: Archive, lid: str) -> dict:
    r = archive.conn.execute("SELECT * FROM loans WHERE id = ?", (lid,)).fetchone()
    if r is None:
        raise NotFound(f"no loan {lid!r} (see `dangan lend list`)")
    d = dict(r)
    if d["id_number"]:
        d["id_number"] = d["id_number"][:6] + "********" + d["id_number"][-4:]      # masked in every listing
    d["items"] = [dict(i) for i in archive.conn.execute(
        "SELECT i.*, r.archival_code, r.secrecy FROM loan_items i LEFT JOIN records r ON r.id = i.record_id"
        " WHERE i.loan_id = ? ORDER BY r.archival_code, i.record_id", (lid,))]
    for i in d["items"]:
        i["copy_files"] = json.loads(i["copy_files"]) if i["copy_files"] else None
    return d


def _approver_ok(me, loan: dict, recs) -> str | None:
    if any(is_confidential(r.secrecy or "public") for r in recs):
        return None if me.has_role("manager") else "a loan of secret files needs a manager's approval"
    if me.has_role("manager"):
        return None
    if me.has_role("department-head") and me.department and me.department == loan["department"]:
        return None
    return f"needs the department-head of {loan['department'] or 'the borrower’s department'} or a manager"


def approve(archive: Archive, lid: str, note: str = "") -> dict:
    from dangan.core.policy.access import core_refusal, deny_record, plugin_actor, require
    loan = get_loan(archive, lid)
    if loan["status"] != "requested":
        raise WrongState(f"loan {lid} is {loan['status']}, not awaiting approval")
    me = plugin_actor(archive)
    if me.name in (loan["borrower"], loan["requested_by"]):
        raise deny(archive, "lend.approve", lid, f"{me.name} may not approve their own loan {lid}")
    from dangan.core.policy.four_eyes import require_not_bound, require_other_person
    mine = require_other_person(archive, "lend.approve", lid, f"approve loan {lid}",
                                {f"requested loan {lid}": loan["requested_identity"]})
    if not loan["external_unit"] and register_in_use(archive):
        require_not_bound(archive, "lend.approve", lid, f"approve loan {lid}", require_user(archive, loan["borrower"]))
    recs = [archive.record(i["record_id"]) for i in loan["items"]]
    why = _approver_ok(me, loan, recs)
    if why:
        raise deny(archive, "lend.approve", lid, f"{me.name} may not approve loan {lid}: {why}")
    borrower = loan["borrower"] if not loan["external_unit"] else loan["requested_by"]
    for rec in recs:
        refusal = core_refusal(archive, me, "approve", rec)
        if refusal:
            raise deny_record(archive, "approve", rec, refusal, "core")
        require(archive, "lend", rec, frozenset({"lend"}), as_user=borrower, purpose=loan["purpose"])
    due = (dt.date.today() + dt.timedelta(days=loan["days"])).isoformat()
    with archive.transaction() as conn:
        cur = conn.execute("UPDATE loans SET status = 'approved', decided_by = ?, decided_at = ?, decision_note = ?,"
                           " due = ?, decided_identity = ? WHERE id = ? AND status = 'requested'",
                           (me.name, utc_text(), note, due, mine, lid))
        if cur.rowcount != 1:
            raise UsageError(f"loan {lid} changed meanwhile: look again")
        archive.audit(conn, "lend.approve", lid, details={"due": due, "note": note or None})
    return get_loan(archive, lid)


def _named_items(archive: Archive, lid: str, items: dict, refs, absent: str) -> list[str]:
    """The record ids ``refs`` name (ids, prefixes or codes), each an item of loan ``lid``, once each."""
    ids = []
    for ref in refs:
        try:
            rid = archive.resolve(ref)
        except NotFound:
            raise UsageError(f"{ref!r} {absent} loan {lid}") from None
        if rid not in items:
            raise UsageError(f"record {rid} {absent} loan {lid}")
        ids.append(rid)
    return list(dict.fromkeys(ids))


def _borrower_user(loan: dict) -> str:
    return loan["borrower"] if not loan["external_unit"] else loan["requested_by"]


def issue(archive: Archive, lid: str, refs=(), *, copy_to: Path | None = None, paper: bool = True) -> dict:
    """Hand out an approved loan's items (all not yet issued, or ``refs``): in place, or as watermarked copies
    under ``copy_to/<record id>/``.  In place, a record with a paper original in a box hands the paper out
    (``paper_out``; ``paper=False``: the electronic record only).  Everything is checked before anything is
    written."""
    import shutil
    from dangan.core.policy.access import require
    require_role(archive, RECEIVER_ROLES, "issue loans", obj=lid)
    loan = get_loan(archive, lid)
    if loan["status"] not in ("approved", "issued"):
        raise WrongState(f"loan {lid} is {loan['status']}: only an approved loan is issued")
    items = {i["record_id"]: i for i in loan["items"]}
    ids = _named_items(archive, lid, items, refs, "is not on") or [r for r, i in items.items() if not i["issued_at"]]
    for rid in ids:
        if items[rid]["issued_at"]:
            raise UsageError(f"record {rid} was issued already on loan {lid} ({items[rid]['issued_at']})")
    if not ids:
        raise UsageError(f"every item of loan {lid} is issued already")
    from dangan.core.policy.four_eyes import require_other_person
    mine = require_other_person(archive, "lend.issue", lid, f"issue loan {lid}",
                                {f"approved loan {lid}": loan["decided_identity"]})
    who, mode = _borrower_user(loan), "copy" if copy_to else "in-place"
    recs = []
    for rid in ids:
        rec = archive.record(rid)
        if rec.status != "active":
            raise UsageError(f"record {rid} is {rec.status}: it cannot be issued")
        require(archive, "lend", rec, frozenset({"lend"}), as_user=who, purpose=loan["purpose"])
        if copy_to:
            require(archive, "copy", rec, frozenset({"lend", "copy"}), as_user=who, purpose=loan["purpose"])
        if archive.conn.execute("SELECT sealed FROM records WHERE id = ?", (rid,)).fetchone()["sealed"] \
                and archive.opened(rec)[1]:
            raise CryptoError(f"record {rid} is sealed and volume {rec.volume} is locked: "
                              f"`dangan volume unlock {rec.volume}` before issuing it")
        recs.append(rec)
    due = (dt.date.today() + dt.timedelta(days=loan["days"])).isoformat()
    copies: dict[str, dict] = {}
    if copy_to:
        made = []
        try:
            for rec in recs:
                dest = Path(copy_to) / rec.id
                if dest.exists() and any(dest.iterdir()):
                    raise UsageError(f"{dest} exists and is not empty: choose another -o folder")
                made.append(dest)
                copies[rec.id] = _copy(archive, rec, dest, loan, due)
        except BaseException:
            for d in made:
                shutil.rmtree(d, ignore_errors=True)
            raise
    t = utc_text()
    with archive.transaction() as conn:
        for rec in recs:
            c = copies.get(rec.id)
            # issued in place, a record with a paper original in a box hands the paper out (借出); a copy leaves it
            box = None if copy_to or not paper else paper_box(conn, rec.id)
            cur = conn.execute("UPDATE loan_items SET issued_at = ?, issued_by = ?, issue_mode = ?, copy_to = ?,"
                               " copy_files = ?, issued_identity = ?, paper_out = ? WHERE loan_id = ? AND"
                               " record_id = ? AND issued_at IS NULL",
                               (t, archive.actor.name, mode, c and c["to"], c and json.dumps(c["files"]), mine,
                                int(box is not None), lid, rec.id))
            if cur.rowcount != 1:
                raise UsageError(f"loan {lid} changed meanwhile: look again")
            archive.audit(conn, "record.lend", rec.id, details={"loan": lid, "borrower": loan["borrower"],
                                                                "due": due, "mode": mode, "copy": c,
                                                                **({"paper_out_of": box} if box else {})})
        if loan["status"] == "approved":
            conn.execute("UPDATE loans SET status = 'issued', due = ? WHERE id = ?", (due, lid))
        archive.audit(conn, "lend.issue", lid, details={"records": [r.id for r in recs], "mode": mode,
                                                        "to": str(copy_to) if copy_to else None})
    return get_loan(archive, lid)


def _copy(archive: Archive, rec, dest: Path, loan: dict, due: str) -> dict:
    """Write the record's files to ``dest`` and mark each with the loan; returns what was written."""
    import hashlib
    from dangan.core.store.retrieval import get_files
    from dangan.core.management.loan_copy import loan_mark, watermark
    mark = loan_mark(loan, rec.archival_code or rec.id, due)
    sealed = archive.conn.execute("SELECT sealed FROM records WHERE id = ?", (rec.id,)).fetchone()["sealed"]
    files: dict[str, dict[str, str]] = {}
    for p in get_files(archive, rec.id, dest, approvals=frozenset({"lend", "loan"})):
        how = watermark(p, mark, loan, due)
        for q in [p] + ([p.with_name(p.name + ".loan.txt")] if how == "sidecar" else []):
            if sealed:      # a sealed record's file names and plaintext digests stay out of catalogue and trail
                files[f"file-{len(files) + 1}"] = {"watermark": how}
            else:
                files[q.name] = {"sha256": hashlib.sha256(q.read_bytes()).hexdigest(), "watermark": how}
    return {"to": str(dest), "files": files}


def refuse(archive: Archive, lid: str, reason: str) -> dict:
    if not reason.strip():
        raise UsageError("refusing a loan needs --reason")
    loan = get_loan(archive, lid)
    if loan["status"] != "requested":
        raise WrongState(f"loan {lid} is {loan['status']}, not awaiting approval")
    me = acting_user(archive)
    if me.name == loan["borrower"] or not me.has_any(("manager", "department-head", "admin")):
        raise deny(archive, "lend.refuse", lid, f"{me.name} may not decide loan {lid}")
    with archive.transaction() as conn:
        conn.execute("UPDATE loans SET status = 'refused', decided_by = ?, decided_at = ?, decision_note = ?,"
                     " closed_at = ? WHERE id = ?", (me.name, utc_text(), reason, utc_text(), lid))
        archive.audit(conn, "lend.refuse", lid, details={"reason": reason})
    return get_loan(archive, lid)


def return_items(archive: Archive, lid: str, refs, *, condition: str = "intact") -> dict:
    """Receive returned records one by one; all are checked before anything is written."""
    require_role(archive, RECEIVER_ROLES, "receive returned records", obj=lid)
    loan = get_loan(archive, lid)
    if loan["status"] != "issued":
        raise WrongState(f"loan {lid} is {loan['status']}: nothing is out on it (items are issued first)")
    items = {i["record_id"]: i for i in loan["items"]}
    if not refs:
        raise UsageError("name the records being returned (or --all)")
    ids = _named_items(archive, lid, items, refs, "was never lent on")
    for rid in ids:
        if not items[rid]["issued_at"]:
            raise UsageError(f"record {rid} was never issued on loan {lid}")
        if items[rid]["returned_at"]:
            raise UsageError(f"record {rid} was returned already ({items[rid]['returned_at']})")
    t = utc_text()
    with archive.transaction() as conn:
        for rid in ids:
            conn.execute("UPDATE loan_items SET returned_at = ?, received_by = ?, condition = ? WHERE loan_id = ?"
                         " AND record_id = ?", (t, archive.actor.name, condition, lid, rid))
            back = paper_box(conn, rid) if items[rid]["paper_out"] else None     # the paper goes back to its box
            archive.audit(conn, "lend.return", rid, details={"loan": lid, "condition": condition,
                                                             **({"paper_back_in": back} if back else {})})
        left = conn.execute("SELECT count(*) FROM loan_items WHERE loan_id = ? AND returned_at IS NULL",
                            (lid,)).fetchone()[0]
        if not left:
            conn.execute("UPDATE loans SET status = 'returned', closed_at = ? WHERE id = ?", (t, lid))
            archive.audit(conn, "lend.close", lid)
    return get_loan(archive, lid)


def list_loans(archive: Archive, *, overdue: bool = False, as_of: dt.date | None = None, status: str | None = None,
               borrower: str | None = None, since: str | None = None, until: str | None = None) -> list[dict]:
    as_of = as_of or dt.date.today()
    where, params = [], []
    if overdue:
        where.append("status = 'issued' AND due < ?")
        params.append(as_of.isoformat())
    if status:
        where.append("status = ?")
        params.append(status)
    if borrower:
        where.append("borrower = ?")
        params.append(borrower)
    if since:
        where.append("substr(requested_at, 1, 10) >= ?")
        params.append(since)
    if until:
        where.append("substr(requested_at, 1, 10) <= ?")
        params.append(until)
    sql = "SELECT id FROM loans" + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY requested_at, id"
    out = []
    for r in archive.conn.execute(sql, params).fetchall():
        loan = get_loan(archive, r["id"])
        loan["outstanding"] = [i["record_id"] for i in loan["items"] if not i["returned_at"]]
        loan["days_overdue"] = ((as_of - dt.date.fromisoformat(loan["due"])).days
                                if loan["due"] and loan["status"] == "issued" else 0)
        if loan["days_overdue"] < 0:
            loan["days_overdue"] = 0
        out.append(loan)
    return out
