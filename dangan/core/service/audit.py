"""The audit trail as a user reads, verifies and acknowledges it."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dangan.core.policy.users import acting_user

if TYPE_CHECKING:
    from dangan.core.archive import Archive
    from dangan.core.catalogue.audit import AuditEvent
    from dangan.core.catalogue.audit_verify import Report


def log(archive: Archive, *, ref: str | None = None, action: str | None = None,
        limit: int | None = None, actor: str | None = None, outcome: str | None = None,
        since: str | None = None, until: str | None = None) -> list[AuditEvent]:
    """Audit events, oldest first: all of them to auditors and admins; to others, the events about the records
    they may see and their own (``ref``: one record's; ``limit``: the last N; ``actor``, ``outcome``, and the
    days ``since``..``until``, both included, filter them)."""
    from dangan.core.catalogue.fields import parse_date
    from dangan.core.policy.disclosure import readable_events
    acting_user(archive, action="read the audit trail")
    obj = archive.resolve(ref) if ref else None
    return readable_events(archive, obj=obj, action=action, limit=limit, actor=actor, outcome=outcome,
                           since=parse_date(since) if since else None, until=parse_date(until) if until else None)


def verify(archive: Archive, repository: Any = None) -> Report:
    """Check the hash chain, the keyed head and the checkpoint log (and, given ``repository``, the checkpoint
    each backup snapshot keeps)."""
    from dangan.core.catalogue.audit_verify import verify as run
    acting_user(archive, action="verify the audit trail")
    return run(archive, repository)


def acknowledge(archive: Archive, reason: str) -> dict[str, Any]:
    """Accept a broken trail after looking into it (admin); writers refuse until then."""
    from dangan.core.catalogue.audit_verify import acknowledge as run
    return run(archive, reason)


__all__ = ["log", "verify", "acknowledge"]
