"""The one policy point: may this actor do this action to this record?

Rules, in order (the first that refuses decides):

1. **Who acts.**  Once the users register is in use (``core.users``), the
   actor must be an active registered user.  Before that the archive is open:
   roles come from ``[users."NAME"]`` in ``dangan.toml`` and rule 2 is off.
2. **Clearance** (core): a record whose secrecy is above the actor's clearance
   is refused for every action.  Listings and search leave it out; ``show``
   and ``get`` say only that it exists and its secrecy marking.
3. **Read-only roles** (core): a user whose only role is ``auditor`` may not
   ``edit``, ``destroy``, ``approve``, ``lend``, ``export`` or ``copy``.
4. **Plugins** (``Plugins.access``): any deny wins.  They are told the
   approvals on file (``grants``: e.g. an ``export`` approval for this actor
   and record, unexpired) in ``AccessContext.approvals``.

Every refusal by ``require`` is audited (``access.<action>`` denied).
"""
from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Callable

from dangan.errors import AccessDenied, NotFound, UsageError
from dangan.core.catalogue.rowid import inserted_id
from dangan.model import Record, secrecy_rank
from dangan.core.policy.users import acting_user, clearance_rank, deny, register_in_use, require_user
from dangan.core.kernel.clock import utc_now, utc_text

if TYPE_CHECKING:
    from dangan.core.archive import Archive

WRITE_ACTIONS = ("edit", "destroy", "approve", "lend", "export", "copy")
MARKS = {"public": "公开", "internal": "内部", "secret": "秘密", "confidential": "机密", "top-secret": "绝密"}
#: Roles that may grant an approval (``dangan access grant``); a department head only for their department.
GRANT_ROLES = ("manager", "admin")


def plugin_actor(archive: Archive):
    """The actor as plugins see it: name, roles, clearance, department."""
    from dangan.plugins.access_types import Actor
    u = acting_user(archive)
    return Actor(name=u.name, roles=u.roles, clearance=u.clearance, department=u.department)


def cleared(actor, rec: Record) -> bool:
    return clearance_rank(actor.clearance) >= secrecy_rank(rec.secrecy or "public")


def _grants_of(archive: Archive, name: str) -> dict[str, set[str]]:
    """The approvals on file for ``name``; one granted by the identity acting now does not count (four eyes)."""
    out: dict[str, set[str]] = {}
    for r in archive.conn.execute("SELECT record_id, action FROM grants WHERE grantee = ? AND revoked_at IS NULL"
                                  " AND expires_at > ? AND (granted_identity IS NULL OR granted_identity != ?)",
                                  (name, utc_text(), archive.actor.identity)):
        out.setdefault(r["record_id"], set()).add(r["action"])
    return out


def approvals_for(archive: Archive, name: str, record_id: str) -> frozenset[str]:
    """Grants on file, and ``loan`` while ``name`` holds an issued loan of the record (``core.loan_policy``)."""
    from dangan.core.policy.loan_policy import issued_loan
    loan = {"loan"} if issued_loan(archive, name, record_id) else set()
    return frozenset(_grants_of(archive, name).get(record_id, ())) | loan


def core_refusal(archive: Archive, actor, action: str, rec: Record) -> str | None:
    """Why core refuses (rules 2 and 3), or None."""
    if register_in_use(archive) and not cleared(actor, rec):
        return (f"record {rec.id} is marked {MARKS.get(rec.secrecy, rec.secrecy)} ({rec.secrecy}), above the "
                f"clearance of {actor.name} ({actor.clearance})")
    if action in WRITE_ACTIONS and actor.roles == frozenset({"auditor"}):
        return f"{actor.name} is an auditor (read-only) and may not {action}"
    return None


def visibility(archive: Archive, purpose: str = "") -> Callable[[Record], bool] | None:
    """A filter for listings and search, or None when no rule restricts viewing (``purpose``: told to plugins,
    e.g. ``SEARCH_BY_ID_NUMBER``)."""
    from dangan.core.kernel.plugin_host import access_rules_possible
    actor = plugin_actor(archive)
    by_plugins = access_rules_possible(archive) and archive.plugins.implements("dangan_access")
    plugins = archive.plugins if by_plugins else None
    by_clearance = register_in_use(archive) and clearance_rank(actor.clearance) < len(MARKS) - 1
    if not by_plugins and not by_clearance:
        return None
    from dangan.plugins.access_types import AccessContext
    grants = _grants_of(archive, actor.name) if by_plugins else {}

    def visible(rec: Record) -> bool:
        if by_clearance and not cleared(actor, rec):
            return False
        if plugins is None:
            return True
        return plugins.may(actor, "view", rec, AccessContext(approvals=frozenset(grants.get(rec.id, ())),
                                                             purpose=purpose))
    return visible


def view_restriction(archive: Archive) -> tuple[dict[str, list[str]] | None, bool]:
    """``visibility`` split for engines that filter by field: (field -> the values a visible record may have, or
    None; whether plugin rules must still be asked per record).  The same rules, so the same records."""
    from dangan.core.kernel.plugin_host import access_rules_possible
    from dangan.model import SECRECY_LEVELS
    actor = acting_user(archive)
    by_plugins = access_rules_possible(archive) and archive.plugins.implements("dangan_access")
    by_clearance = register_in_use(archive) and clearance_rank(actor.clearance) < len(MARKS) - 1
    fields = None
    if by_clearance:
        fields = {"secrecy": [s for s in SECRECY_LEVELS if clearance_rank(actor.clearance) >= secrecy_rank(s)]}
    return fields, by_plugins


def require(archive: Archive, action: str, rec: Record, approvals: frozenset[str] = frozenset(), *,
            as_user: str | None = None, purpose: str = "") -> None:
    """Refuse (AccessDenied, audited) unless ``action`` on ``rec`` is allowed for the actor (or ``as_user``)."""
    from dangan.plugins.access_types import AccessContext, Actor
    actor = plugin_actor(archive)
    if as_user is not None and as_user != actor.name:
        u = require_user(archive, as_user) if register_in_use(archive) else None
        actor = Actor(u.name, u.roles, u.clearance, u.department) if u else Actor(as_user)
    why = core_refusal(archive, actor, action, rec)
    if why:
        raise deny_record(archive, action, rec, why, "core")
    from dangan.core.kernel.plugin_host import access_rules_possible
    if not access_rules_possible(archive):
        return
    plugins = archive.plugins
    if not plugins.implements("dangan_access"):
        return
    approvals = frozenset(approvals) | approvals_for(archive, actor.name, rec.id)
    decision = plugins.access(actor, action, rec, AccessContext(approvals=approvals, purpose=purpose,
                                                                now=utc_now()))
    if not decision:
        reasons = plugins.access_reasons(actor, action, rec, decision.denied_by) if decision.denied_by else []
        raise deny_record(archive, action, rec, f"{actor.name} may not {action} record {rec.id}"
                          + (f" (rule of {', '.join(decision.denied_by)})" if decision.denied_by else "")
                          + "".join(f": {r}" for r in reasons), *decision.denied_by)


def deny_record(archive: Archive, action: str, rec: Record, message: str, *denied_by: str) -> AccessDenied:
    with archive.transaction() as conn:
        archive.audit(conn, f"access.{action}", rec.id, "denied", details={"denied_by": list(denied_by),
                                                                           "reason": message})
    return AccessDenied(message)


# -- approvals on file (grants) ----------------------------------------------------

def grant(archive: Archive, action: str, refs: list[str], grantee: str, *, days: int = 7, reason: str) -> list[int]:
    """Record an approval: ``grantee`` may ``action`` these records for ``days`` days.

    The grantor holds ``manager`` or ``admin`` (or is ``department-head`` of the
    record's department), is cleared for the record, and is not the grantee.
    """
    from dangan.plugins.types import ACTIONS
    if action not in ACTIONS or action == "view":
        raise UsageError(f"unknown action {action!r} to approve (use {', '.join(a for a in ACTIONS if a != 'view')})")
    if not reason.strip():
        raise UsageError("an approval needs --reason")
    if not 1 <= days <= 366:
        raise UsageError("--days must be 1 to 366")
    me = acting_user(archive, action="grant")
    target = None
    if register_in_use(archive):
        target = require_user(archive, grantee)
        if not target.active:
            raise UsageError(f"user {grantee!r} is disabled")
    if grantee == me.name:
        raise deny(archive, "grant", f"user:{grantee}", f"{me.name} may not approve their own request")
    from dangan.core.policy.four_eyes import require_not_bound
    require_not_bound(archive, "grant", f"user:{grantee}", f"approve for {grantee}", target)
    recs = [archive.record(r) for r in refs]
    from dangan.core.catalogue.tombstones import assert_alive
    for rec in recs:
        assert_alive(archive, rec, f"approved for {action}")
        head = "department-head" in me.roles and me.department and me.department == rec.department
        if not (me.has_any(GRANT_ROLES) or head):
            raise deny(archive, "grant", rec.id, f"{me.name} may not approve {action} of record {rec.id}: needs "
                       f"the role manager or admin, or department-head of {rec.department or 'its department'}")
        why = core_refusal(archive, me, "approve", rec)
        if why:
            raise deny_record(archive, "approve", rec, why, "core")
    t = utc_text()
    until = utc_text(utc_now() + dt.timedelta(days=days))
    ids = []
    with archive.transaction() as conn:
        for rec in recs:
            cur = conn.execute("INSERT INTO grants (record_id, action, grantee, granted_by, granted_at, expires_at,"
                               " reason, granted_identity) VALUES (?,?,?,?,?,?,?,?)",
                               (rec.id, action, grantee, me.name, t, until, reason, archive.actor.identity))
            ids.append(inserted_id(cur))
            archive.audit(conn, "access.grant", rec.id, details={"grant": ids[-1], "action": action,
                                                                 "grantee": grantee, "until": until, "reason": reason})
    return ids


def revoke(archive: Archive, grant_id: int, reason: str = "") -> None:
    me = acting_user(archive, action="revoke")
    row = archive.conn.execute("SELECT * FROM grants WHERE id = ?", (grant_id,)).fetchone()
    if row is None:
        raise NotFound(f"no approval {grant_id}")
    if row["revoked_at"]:
        raise UsageError(f"approval {grant_id} was revoked already")
    if not (me.has_any(GRANT_ROLES) or me.name == row["granted_by"]):
        raise deny(archive, "revoke", row["record_id"], f"{me.name} may not revoke approval {grant_id}")
    with archive.transaction() as conn:
        conn.execute("UPDATE grants SET revoked_at = ? WHERE id = ?", (utc_text(), grant_id))
        archive.audit(conn, "access.revoke", row["record_id"], details={"grant": grant_id, "reason": reason or None})


def list_grants(archive: Archive, *, active_only: bool = True) -> list[dict]:
    sql = "SELECT * FROM grants" + (" WHERE revoked_at IS NULL AND expires_at > ?" if active_only else "") + " ORDER BY id"
    return [dict(r) for r in archive.conn.execute(sql, (utc_text(),) if active_only else ())]
