"""Declassification (解密/降密) as a user asks for and decides it: lowering a record's secrecy with another
person's approval (the approver roles and the four-eyes rule are ``management.declassification``'s)."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dangan.core.policy.users import acting_user

if TYPE_CHECKING:
    from dangan.core.archive import Archive


def request(archive: Archive, ref: str, to_level: str, reason: str) -> dict[str, Any]:
    """Ask for a record's secrecy to be lowered to ``to_level``."""
    from dangan.core.management.declassification import request as run
    acting_user(archive, action="request declassification", obj=ref)
    return run(archive, ref, to_level, reason)


def approve(archive: Archive, request_id: str, note: str = "") -> dict[str, Any]:
    """Approve a request: the record gets a new version at the lower level."""
    from dangan.core.management.declassification import approve as run
    acting_user(archive, action="approve declassification", obj=request_id)
    return run(archive, request_id, note)


def refuse(archive: Archive, request_id: str, reason: str) -> dict[str, Any]:
    """Refuse a request."""
    from dangan.core.management.declassification import refuse as run
    acting_user(archive, action="refuse declassification", obj=request_id)
    return run(archive, request_id, reason)


def listing(archive: Archive, status: str | None = None) -> list[dict[str, Any]]:
    """Declassification requests and their decisions."""
    from dangan.core.management.declassification import list_requests
    return list_requests(archive, status)


__all__ = ["request", "approve", "refuse", "listing"]
