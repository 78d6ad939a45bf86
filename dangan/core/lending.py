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
  (``AccessContext.approvals = {"lend"}``).  The loan runs from approval:
  due = approval date + days.
* **Return** (``lend.return``): item by item, received by an ``archivist`` or
  ``admin`` with the condition found; returning what this loan never lent, or
  twice, is refused and changes nothing.  The loan closes when every item is
  back.
"""
from __future__ import annotations

import datetime as dt
import secrets

from ..errors import NotFound, UsageError
from ..model import is_confidential
from .users import acting_user, deny, now, register_in_use, require_role, require_user

RECEIVER_ROLES = ("archivist", "admin")
OPEN = ("requested", "on-loan")


def _cfg(archive, key: str, default: int) -> int:
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


def on_loan(archive, rid: str) -> str | None:
    r = archive.conn.execute("SELECT l.id FROM loan_items i JOIN loans l ON l.id = i.loan_id WHERE i.record_id = ?"
                             " AND i.returned_at IS NULL AND l.status IN ('requested', 'on-loan')", (rid,)).fetchone()
    return r["id"] if r else None


def limit_for(archive, recs, actor) -> tuple[int, str]:
    """The longest loan allowed for these records (shortest limit wins) and which rule set it."""
    limit, why = _cfg(archive, "max_days", 30), "[lending] max_days"
    for rec in recs:
        p = archive.plugins.lending_limit_days(rec, actor)
        if p is not None and p < limit:
            limit, why = p, f"plugin limit for record {rec.id}"
    return limit, why


def request(archive, refs, *, purpose: str, days: int | None = None, borrower: str | None = None,
            unit: str | None = None, letter: str | None = None, id_number: str | None = None) -> dict:
    from ..plugins.types import Actor
    from .access import plugin_actor, require
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
        id_number = check_id_number(id_number)
        who, dept, as_user = borrower.strip(), me.department, None
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
        if rec.status == "destroyed":
            raise UsageError(f"record {rec.id} was destroyed: nothing to lend")
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
    t = now()
    with archive.transaction() as conn:
        conn.execute("INSERT INTO loans (id, borrower, department, purpose, days, external_unit, letter_ref, id_number,"
                     " status, requested_by, requested_at) VALUES (?,?,?,?,?,?,?,?,'requested',?,?)",
                     (lid, who, dept, purpose, days, unit, letter, id_number, me.name, t))
        conn.executemany("INSERT INTO loan_items (loan_id, record_id) VALUES (?, ?)", [(lid, r.id) for r in recs])
        archive.audit(conn, "lend.request", lid, details={
            "borrower": who, "external": bool(external), "unit": unit, "records": [r.id for r in recs],
            "days": days, "purpose": purpose})
    return get_loan(archive, lid)


def get_loan(archive, lid: str) -> dict:
    r = archive.conn.execute("SELECT * FROM loans WHERE id = ?", (lid,)).fetchone()
    if r is None:
        raise NotFound(f"no loan {lid!r} (see `dangan lend list`)")
    d = dict(r)
    if d["id_number"]:
        d["id_number"] = d["id_number"][:6] + "********" + d["id_number"][-4:]      # masked in every listing
    d["items"] = [dict(i) for i in archive.conn.execute(
        "SELECT i.*, r.archival_code, r.secrecy FROM loan_items i LEFT JOIN records r ON r.id = i.record_id"
        " WHERE i.loan_id = ? ORDER BY r.archival_code, i.record_id", (lid,))]
    return d


def _approver_ok(me, loan: dict, recs) -> str | None:
    if any(is_confidential(r.secrecy or "public") for r in recs):
        return None if me.has_role("manager") else "a loan of secret files needs a manager's approval"
    if me.has_role("manager"):
        return None
    if me.has_role("department-head") and me.department and me.department == loan["department"]:
        return None
    return f"needs the department-head of {loan['department'] or 'the borrower’s department'} or a manager"


def approve(archive, lid: str, note: str = "") -> dict:
    from .access import core_refusal, deny_record, plugin_actor, require
    loan = get_loan(archive, lid)
    if loan["status"] != "requested":
        raise UsageError(f"loan {lid} is {loan['status']}, not awaiting approval")
    me = plugin_actor(archive)
    if me.name in (loan["borrower"], loan["requested_by"]):
        raise deny(archive, "lend.approve", lid, f"{me.name} may not approve their own loan {lid}")
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
        cur = conn.execute("UPDATE loans SET status = 'on-loan', decided_by = ?, decided_at = ?, decision_note = ?,"
                           " due = ? WHERE id = ? AND status = 'requested'", (me.name, now(), note, due, lid))
        if cur.rowcount != 1:
            raise UsageError(f"loan {lid} changed meanwhile: look again")
        archive.audit(conn, "lend.approve", lid, details={"due": due, "note": note or None})
        for rec in recs:
            archive.audit(conn, "record.lend", rec.id, details={"loan": lid, "borrower": loan["borrower"], "due": due})
    return get_loan(archive, lid)


def refuse(archive, lid: str, reason: str) -> dict:
    if not reason.strip():
        raise UsageError("refusing a loan needs --reason")
    loan = get_loan(archive, lid)
    if loan["status"] != "requested":
        raise UsageError(f"loan {lid} is {loan['status']}, not awaiting approval")
    me = acting_user(archive)
    if me.name == loan["borrower"] or not me.has_any(("manager", "department-head", "admin")):
        raise deny(archive, "lend.refuse", lid, f"{me.name} may not decide loan {lid}")
    with archive.transaction() as conn:
        conn.execute("UPDATE loans SET status = 'refused', decided_by = ?, decided_at = ?, decision_note = ?,"
                     " closed_at = ? WHERE id = ?", (me.name, now(), reason, now(), lid))
        archive.audit(conn, "lend.refuse", lid, details={"reason": reason})
    return get_loan(archive, lid)


def return_items(archive, lid: str, refs, *, condition: str = "intact") -> dict:
    """Receive returned records one by one; all are checked before anything is written."""
    require_role(archive, RECEIVER_ROLES, "receive returned records", obj=lid)
    loan = get_loan(archive, lid)
    if loan["status"] != "on-loan":
        raise UsageError(f"loan {lid} is {loan['status']}: nothing is out on it")
    items = {i["record_id"]: i for i in loan["items"]}
    if not refs:
        raise UsageError("name the records being returned (or --all)")
    ids = []
    for ref in refs:
        try:
            rid = archive.resolve(ref)
        except NotFound:
            raise UsageError(f"{ref!r} was never lent on loan {lid}") from None
        if rid not in items:
            raise UsageError(f"record {rid} was never lent on loan {lid}")
        if items[rid]["returned_at"]:
            raise UsageError(f"record {rid} was returned already ({items[rid]['returned_at']})")
        ids.append(rid)
    t = now()
    with archive.transaction() as conn:
        for rid in dict.fromkeys(ids):
            conn.execute("UPDATE loan_items SET returned_at = ?, received_by = ?, condition = ? WHERE loan_id = ?"
                         " AND record_id = ?", (t, archive.actor.name, condition, lid, rid))
            archive.audit(conn, "lend.return", rid, details={"loan": lid, "condition": condition})
        left = conn.execute("SELECT count(*) FROM loan_items WHERE loan_id = ? AND returned_at IS NULL",
                            (lid,)).fetchone()[0]
        if not left:
            conn.execute("UPDATE loans SET status = 'returned', closed_at = ? WHERE id = ?", (t, lid))
            archive.audit(conn, "lend.close", lid)
    return get_loan(archive, lid)


def list_loans(archive, *, overdue: bool = False, as_of: dt.date | None = None, status: str | None = None,
               borrower: str | None = None, since: str | None = None, until: str | None = None) -> list[dict]:
    as_of = as_of or dt.date.today()
    where, params = [], []
    if overdue:
        where.append("status = 'on-loan' AND due < ?")
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
                                if loan["due"] and loan["status"] == "on-loan" else 0)
        if loan["days_overdue"] < 0:
            loan["days_overdue"] = 0
        out.append(loan)
    return out
