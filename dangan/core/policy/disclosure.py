"""What a reader may learn from the audit trail and the volume list (issue 11 item 11).

The audit trail names source paths, MIME types, plaintext digests and titles
of records; the volume list counts the records of every volume.  Both are
filtered by who reads them, once the users register is in use:

* **The full audit trail is for auditors and admins** (``AUDIT_READERS``).
  Anyone else reads the events about records they may see (the policy
  point's ``visibility`` filter: clearance, then the plugins' ``view``
  rules), the events they took themselves and those about their own user; events about other objects
  (users, loans, lists, volumes) are left out.
* **Volume list**: a volume above the reader's clearance is left out, and
  the counts are of the records within the reader's clearance.

With ``[security] separation_of_duties`` on (三员分立, ``policy.separation``) the auditor alone reads the
full trail and the events of admins and security officers; the admin reads as anyone else does.

An open archive (no user registered yet) shows everything, as before.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dangan.errors import NotFound
from dangan.model import SECRECY_LEVELS
from dangan.core.catalogue import audit as audit_log
from dangan.core.policy.access import visibility
from dangan.core.policy.separation import is_sole_auditor, separation_on, watched_actors
from dangan.core.policy.users import acting_user, clearance_rank, register_in_use

if TYPE_CHECKING:
    from dangan.core.archive import Archive

AUDIT_READERS = ("auditor", "admin")


def reads_full_trail(archive: Archive) -> bool:
    if not register_in_use(archive):
        return True
    me = acting_user(archive, action="read the audit trail")
    if separation_on(archive):                 # 三员分立: the auditor alone (core/policy/separation.py)
        return is_sole_auditor(me)
    return me.has_any(AUDIT_READERS)


def readable_events(archive: Archive, *, obj: str | None = None, action: str | None = None,
                    limit: int | None = None, **filters: Any) -> list[audit_log.AuditEvent]:
    """The audit events this reader may see, oldest first (the last ``limit`` of them); ``filters``:
    ``actor``, ``outcome``, ``since`` and ``until`` (days, included) as ``audit.events`` takes them."""
    if reads_full_trail(archive):
        return list(audit_log.events(archive.conn, obj=obj, action=action, limit=limit, **filters))
    me = acting_user(archive, action="read the audit trail").name
    visible = visibility(archive)
    seen: dict[str, bool] = {}

    def about_visible_record(o: str) -> bool:
        if o not in seen:
            try:
                rec = archive.record(o) if o else None
            except NotFound:
                rec = None
            seen[o] = rec is not None and (visible is None or visible(rec))
        return seen[o]

    hidden = watched_actors(archive) if separation_on(archive) else set()
    out = [e for e in audit_log.events(archive.conn, obj=obj, action=action, **filters)
           if e.actor not in hidden and (e.actor == me or e.object == f"user:{me}" or about_visible_record(e.object))]
    return out[-limit:] if limit else out


def volume_list(archive: Archive) -> list[dict]:
    """``volumes.list_volumes`` as this reader may see it: volumes within their clearance, counting only the
    records within it."""
    from dangan.core.catalogue.volumes import list_volumes
    rows = list_volumes(archive)
    if not register_in_use(archive):
        return rows
    rank = clearance_rank(acting_user(archive, action="list volumes").clearance)
    if rank == len(SECRECY_LEVELS) - 1:
        return rows
    levels = SECRECY_LEVELS[:rank + 1]
    counts = dict(archive.conn.execute(
        f"SELECT volume, count(*) FROM records WHERE status != 'destroyed' AND coalesce(secrecy, 'public') IN"
        f" ({','.join('?' * len(levels))}) GROUP BY volume", levels).fetchall())
    out = []
    for r in rows:
        if clearance_rank(r["secrecy"] or "public") > rank:
            continue
        out.append({**r, "records": counts.get(r["name"], 0)})
    return out
