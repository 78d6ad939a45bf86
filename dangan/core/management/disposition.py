"""Retention and disposition: due dates, appraisal (鉴定), destruction lists (销毁清册) with approval.

* **Due date** — pure: :func:`due_date` from the plugins' retention rule
  (``Plugins.retention_for``: years, action, trigger).  The trigger gives the
  start: ``end-of-year`` → 31 December of the filing year, ``record-date`` →
  the record date, ``metadata:KEY`` → the ISO date in the record's metadata.
  A review that extends a record (``extend``) moves its due date later, never
  earlier.  Permanent records have no due date and can never be destroyed.
* **Appraisal** — ``propose`` builds a disposition list (销毁清册) of due
  records whose action is ``destroy``, ``review`` (the appraisal is the
  review) or ``transfer``; a held, permanent or not-yet-due record is refused
  by id and skipped by ``--due``, as is one already on an open list or one
  on loan (issued, or an open request).  Role
  ``archivist`` or ``admin``.
* **Approval** — ``approve`` by a user holding an approver role
  (``[disposition] approver_roles`` in dangan.toml, default ``manager``),
  never the proposer (separation of duties), cleared for every record, and
  allowed by the plugins' ``destroy`` rule for each record.
* **Execution** — ``execute`` (``archivist``/``admin``, in ``disposition_execute``)
  re-checks holds, loans, retention and status for every item, calls ``destroy_record`` with the
  approver and the approval chain, records each item's outcome, and writes a
  destruction certificate for the list (sha256 over its canonical JSON).
  Items whose action is ``transfer`` are first exported together as one
  BagIt bag to ``--to DIR`` and then tombstoned (``destruction.transfer_batch``).
  Every step is an audit event and the tombstones stay.
"""
from __future__ import annotations

import datetime as dt
import json
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING

from dangan.errors import NotFound, PluginError, UsageError, WrongState
from dangan.model import Record, is_confidential
from dangan.core.policy.users import require_role
from dangan.core.kernel.clock import utc_text

if TYPE_CHECKING:
    from dangan.core.archive import Archive

PROPOSER_ROLES = ("archivist", "admin")
EXECUTOR_ROLES = ("archivist", "admin")
DEFAULT_APPROVER_ROLES = ("manager",)
DESTROYABLE = ("destroy", "review", "transfer")
GONE = ("destroyed", "transferred")


def add_years(d: dt.date, years: int) -> dt.date:
    try:
        return d.replace(year=d.year + years)
    except ValueError:                       # 29 February
        return d.replace(year=d.year + years, day=28)


@dataclass(frozen=True)
class Due:
    record_id: str
    archival_code: str | None
    title: str
    retention: str | None
    years: int | None
    action: str
    trigger: str
    start: str | None
    due: str | None
    extended_until: str | None = None
    problem: str = ""

    def to_dict(self) -> dict:
        return dict(self.__dict__)

    def due_by(self, as_of: dt.date) -> bool:
        """Whether the period is over on ``as_of`` (disposition may be proposed); never for permanent or unknown."""
        return self.due is not None and self.due <= as_of.isoformat()


def _rule(archive: Archive, rec: Record):
    from dangan.plugins.types import RetentionRule
    try:
        return archive.plugins.retention_for(rec).rule
    except (UsageError, PluginError) as exc:
        if rec.retention:
            return RetentionRule.from_retention(rec.retention, f"set on the record ({exc.message})")
        raise UsageError(f"record {rec.id}: no retention ({exc.message})") from None


def trigger_start(rec: Record, trigger: str) -> tuple[dt.date | None, str]:
    """The date the retention period counts from, or (None, why not)."""
    try:
        if trigger == "end-of-year":
            year = rec.year or (int(rec.date[:4]) if rec.date else None)
            return (dt.date(year, 12, 31), "") if year else (None, "no filing year")
        if trigger == "record-date":
            return (dt.date.fromisoformat(rec.date), "") if rec.date else (None, "no record date")
        if trigger.startswith("metadata:"):
            key = trigger.split(":", 1)[1]
            value = rec.metadata.get(key)
            return (dt.date.fromisoformat(value[:10]), "") if value else (None, f"no date in metadata {key!r}")
    except ValueError as exc:
        return None, f"bad date for trigger {trigger}: {exc}"
    return None, f"unknown trigger {trigger!r}"


def due_date(rec: Record, rule, extended_until: str | None = None) -> Due:
    """Pure: the record's disposition due date under ``rule`` (None for permanent or an unknown start)."""
    title = "" if is_confidential(rec.secrecy or "public") else rec.title
    if rule.years is None:
        return Due(rec.id, rec.archival_code, title, rule.retention, None, "permanent", rule.trigger, None, None,
                   extended_until)
    start, problem = trigger_start(rec, rule.trigger)
    due = add_years(start, rule.years) if start else None
    if due and extended_until and extended_until > due.isoformat():
        due = dt.date.fromisoformat(extended_until)
    return Due(rec.id, rec.archival_code, title, rule.retention, rule.years, rule.action, rule.trigger,
               start.isoformat() if start else None, due.isoformat() if due else None, extended_until, problem)


def due_of(archive: Archive, rec: Record) -> Due:
    row = archive.conn.execute("SELECT max(until) AS u FROM retention_extensions WHERE record_id = ?",
                               (rec.id,)).fetchone()
    return due_date(rec, _rule(archive, rec), row["u"] if row else None)


def _records(archive: Archive):
    from dangan.core.search.listing import list_filtered
    return [r for r in list_filtered(archive, sort="code") if r.status not in GONE]


def due_list(archive: Archive, as_of: dt.date, *, include_unknown: bool = False) -> list[dict]:
    """Records (the actor may see) whose disposition is due on or before ``as_of``."""
    from dangan.core.management.holds import holds_on
    out = []
    for rec in _records(archive):
        try:
            d = due_of(archive, rec)
        except UsageError as exc:
            if include_unknown:
                out.append({"record_id": rec.id, "archival_code": rec.archival_code, "problem": exc.message})
            continue
        if d.due is None:
            if include_unknown and d.problem:
                out.append(d.to_dict())
            continue
        if d.due_by(as_of):
            row = d.to_dict()
            row["held"] = bool(holds_on(archive, rec.id))
            row["on_list"] = _open_list_of(archive, rec.id)
            out.append(row)
    return out


def _open_list_of(archive: Archive, rid: str) -> str | None:
    r = archive.conn.execute("SELECT l.id FROM disposal_items i JOIN disposal_lists l ON l.id = i.list_id"
                             " WHERE i.record_id = ? AND l.status IN ('proposed', 'approved', 'executing')",
                             (rid,)).fetchone()
    return r["id"] if r else None


def _eligible(archive: Archive, rec: Record, as_of: dt.date) -> tuple[Due | None, str]:
    from dangan.core.management.holds import holds_on
    if rec.status in GONE:
        return None, f"record {rec.id} was {rec.status} already"
    d = due_of(archive, rec)
    if d.action == "permanent":
        return None, f"record {rec.id} is kept permanently: it can never be destroyed"
    if d.due is None:
        return None, f"record {rec.id} has no due date ({d.problem})"
    if not d.due_by(as_of):
        return None, f"record {rec.id} is not due for disposition until {d.due}"
    if d.action not in DESTROYABLE:
        return None, f"record {rec.id} is due for {d.action}, not disposal"
    held = holds_on(archive, rec.id)
    if held:
        return None, f"record {rec.id} is under legal hold {', '.join(h['id'] for h in held)}"
    other = _open_list_of(archive, rec.id)
    if other:
        return None, f"record {rec.id} is on destruction list {other} already"
    from dangan.core.management.lending import on_loan
    loan = on_loan(archive, rec.id)
    if loan:
        return None, f"record {rec.id} is on loan {loan} (issued or requested)"
    return d, ""


def propose(archive: Archive, refs=(), *, due: bool = False, as_of: dt.date | None = None, reason: str = "") -> dict:
    """A new destruction list; returns ``{"list": ID, "records": [...], "skipped": [...]}``."""
    if bool(refs) == bool(due):
        raise UsageError("give record ids or --due (one of them)")
    require_role(archive, PROPOSER_ROLES, "propose destruction lists")
    as_of = as_of or dt.date.today()
    items, skipped = [], []
    if refs:
        from dangan.core.policy.access import require
        for ref in refs:
            rec = archive.record(ref)
            require(archive, "view", rec)
            if rec.status not in GONE:
                from dangan.core.management.holds import assert_not_held
                assert_not_held(archive, rec.id, "proposed for destruction")
            d, why = _eligible(archive, rec, as_of)
            if d is None:
                raise UsageError(why + ": not proposed (nothing was changed)")
            items.append((rec, d))
    else:
        for rec in _records(archive):
            try:
                d, why = _eligible(archive, rec, as_of)
            except UsageError as exc:
                d, why = None, exc.message
            if d is not None:
                items.append((rec, d))
            elif "not due" not in why and "no due date" not in why and "permanently" not in why:   # held, listed, lent
                skipped.append({"record_id": rec.id, "reason": why})
    if not items:
        raise UsageError(f"no record is due for destruction as of {as_of}" +
                         (f" ({len(skipped)} due but skipped: held or on a list)" if skipped else ""))
    lid = "L" + dt.date.today().strftime("%Y%m%d") + "-" + secrets.token_hex(3)
    t = utc_text()
    with archive.transaction() as conn:
        conn.execute("INSERT INTO disposal_lists (id, status, as_of, reason, proposed_by, proposed_at, proposed_identity)"
                     " VALUES (?, 'proposed', ?, ?, ?, ?, ?)", (lid, as_of.isoformat(), reason, archive.actor.name, t,
                                                             archive.actor.identity))
        conn.executemany(
            "INSERT INTO disposal_items (list_id, record_id, archival_code, title, secrecy, retention, due, action)"
            " VALUES (?,?,?,?,?,?,?,?)", [(lid, r.id, r.archival_code, d.title, r.secrecy, d.retention, d.due, d.action)
                                          for r, d in items])
        archive.audit(conn, "disposition.propose", lid, details={
            "as_of": as_of.isoformat(), "records": [r.id for r, _ in items], "skipped": skipped, "reason": reason})
    return {"list": lid, "records": [r.id for r, _ in items], "skipped": skipped}


def get_list(archive: Archive, lid: str) -> dict:
    r = archive.conn.execute("SELECT * FROM disposal_lists WHERE id = ?", (lid,)).fetchone()
    if r is None:
        raise NotFound(f"no destruction list {lid!r} (see `dangan disposition lists`)")
    d = dict(r)
    d["certificate"] = json.loads(d["certificate"]) if d["certificate"] else None
    d["items"] = [dict(i) for i in archive.conn.execute(
        "SELECT * FROM disposal_items WHERE list_id = ? ORDER BY archival_code, record_id", (lid,))]
    return d


def list_lists(archive: Archive) -> list[dict]:
    return [dict(r) for r in archive.conn.execute(
        "SELECT l.id, l.status, l.as_of, l.proposed_by, l.proposed_at, l.decided_by, l.decided_at, l.executed_at,"
        " (SELECT count(*) FROM disposal_items i WHERE i.list_id = l.id) AS records"
        " FROM disposal_lists l ORDER BY l.proposed_at, l.id")]


def approver_roles(archive: Archive) -> tuple[str, ...]:
    roles = archive.config.raw.get("disposition", {}).get("approver_roles", DEFAULT_APPROVER_ROLES)
    return tuple(roles) if isinstance(roles, (list, tuple)) else (str(roles),)


def _decide(archive: Archive, lid: str, verdict: str, note: str) -> dict:
    from dangan.core.policy.access import core_refusal, plugin_actor, require
    lst = get_list(archive, lid)
    me = require_role(archive, approver_roles(archive), f"{verdict} destruction lists", obj=lid)
    if lst["status"] != "proposed":
        raise WrongState(f"destruction list {lid} is {lst['status']}, not awaiting approval")
    if me.name == lst["proposed_by"]:
        from dangan.core.policy.users import deny
        raise deny(archive, f"disposition.{verdict}", lid,
                   f"{me.name} proposed destruction list {lid} and may not {verdict} it (separation of duties)")
    from dangan.core.policy.four_eyes import require_other_person
    mine = require_other_person(archive, f"disposition.{verdict}", lid, f"{verdict} it",
                                {f"proposed destruction list {lid}": lst["proposed_identity"]})
    if verdict == "approve":
        actor = plugin_actor(archive)
        for item in lst["items"]:
            rec = archive.record(item["record_id"])
            why = core_refusal(archive, actor, "approve", rec)
            if why:
                from dangan.core.policy.access import deny_record
                raise deny_record(archive, "approve", rec, why, "core")
            if item["action"] == "transfer":        # the approved list is the export approval
                require(archive, "export", rec, frozenset({"export"}))
            else:
                require(archive, "destroy", rec)
    with archive.transaction() as conn:
        cur = conn.execute("UPDATE disposal_lists SET status = ?, decided_by = ?, decided_at = ?, decision_note = ?,"
                           " decided_identity = ? WHERE id = ? AND status = 'proposed'",
                           ("approved" if verdict == "approve" else "rejected", me.name, utc_text(), note, mine, lid))
        if cur.rowcount != 1:
            raise UsageError(f"destruction list {lid} changed meanwhile: look again")
        archive.audit(conn, f"disposition.{verdict}", lid, details={"note": note or None,
                                                                    "records": [i["record_id"] for i in lst["items"]]})
    return get_list(archive, lid)


def approve(archive: Archive, lid: str, note: str = "") -> dict:
    return _decide(archive, lid, "approve", note)


def reject(archive: Archive, lid: str, note: str) -> dict:
    if not note.strip():
        raise UsageError("rejecting a destruction list needs --reason")
    return _decide(archive, lid, "reject", note)


def execute(archive: Archive, lid: str, transfer_to=None) -> dict:
    """Dispose of every item of an approved list still due (``disposition_execute.execute``)."""
    from dangan.core.management.disposition_execute import execute as run
    return run(archive, lid, transfer_to)


def check_transfer_target(lst: dict, transfer_to) -> None:
    """A list that transfers records needs ``--to``: a new or empty folder for the BagIt package."""
    from pathlib import Path
    transfers = [i for i in lst["items"] if not i["outcome"] and i["action"] == "transfer"]
    if transfers and transfer_to is None:
        raise UsageError(f"list {lst['id']} transfers {len(transfers)} record(s): give --to DIR for the BagIt package")
    if transfers and Path(transfer_to).exists() and (not Path(transfer_to).is_dir() or any(Path(transfer_to).iterdir())):
        raise UsageError(f"{transfer_to} exists and is not an empty folder: choose a new one for the transfer")


def extend(archive: Archive, ref: str, *, until: str, reason: str) -> dict:
    """The review's outcome: keep the record until ``until`` (its due date moves there)."""
    from dangan.core.policy.access import require
    from dangan.core.catalogue.fields import parse_date
    if not reason.strip():
        raise UsageError("extending a retention needs --reason")
    require_role(archive, PROPOSER_ROLES + DEFAULT_APPROVER_ROLES, "extend retention")
    rec = archive.record(ref)
    require(archive, "view", rec)
    from dangan.core.catalogue.tombstones import assert_alive
    assert_alive(archive, rec, "kept longer")
    until = parse_date(until)
    d = due_of(archive, rec)
    if d.action == "permanent":
        raise UsageError(f"record {rec.id} is kept permanently already")
    if d.due and until <= d.due:
        raise UsageError(f"record {rec.id} is due {d.due}; an extension must be later")
    with archive.transaction() as conn:
        conn.execute("INSERT INTO retention_extensions (record_id, until, reason, created, created_by)"
                     " VALUES (?,?,?,?,?)", (rec.id, until, reason, utc_text(), archive.actor.name))
        archive.audit(conn, "disposition.extend", rec.id, details={"until": until, "previous_due": d.due,
                                                                   "reason": reason})
    return due_of(archive, rec).to_dict()
