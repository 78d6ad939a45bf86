"""Disposition as a user works it: due dates, destruction lists (销毁清册) with approval, execution.

``registers.destruction_list`` and ``registers.destruction_lists`` read the lists.
"""
from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable

from dangan.core.policy.users import acting_user

if TYPE_CHECKING:
    from dangan.core.archive import Archive


def due(archive: Archive, as_of: dt.date | None = None) -> list[dict[str, Any]]:
    """Records the acting user may see whose retention has run out by ``as_of`` (default today)."""
    from dangan.core.management.disposition import due_list
    acting_user(archive, action="list disposition due")
    return due_list(archive, as_of or dt.date.today())


def propose(archive: Archive, refs: Iterable[str] = (), *, due: bool = False, as_of: dt.date | None = None,
            reason: str = "") -> dict[str, Any]:
    """Build a destruction list from an appraisal (``due``: every record due by ``as_of``)."""
    from dangan.core.management.disposition import propose as run
    acting_user(archive, action="propose a destruction list")
    return run(archive, list(refs), due=due, as_of=as_of, reason=reason)


def approve(archive: Archive, list_id: str, note: str = "") -> dict[str, Any]:
    """Approve a destruction list (an approver role; never its proposer)."""
    from dangan.core.management.disposition import approve as run
    acting_user(archive, action="approve a destruction list", obj=list_id)
    return run(archive, list_id, note)


def reject(archive: Archive, list_id: str, reason: str) -> dict[str, Any]:
    """Reject a destruction list: nothing on it is destroyed."""
    from dangan.core.management.disposition import reject as run
    acting_user(archive, action="reject a destruction list", obj=list_id)
    return run(archive, list_id, reason)


def plan(archive: Archive, list_id: str, transfer_to: Path | None = None, *,
         dry_run: bool = False) -> list[dict[str, Any]]:
    """What executing a list would do, record by record (holds re-checked); nothing is changed."""
    from dangan.core.management.disposition_plan import execution_plan
    acting_user(archive, action="plan a destruction", obj=list_id)
    return execution_plan(archive, list_id, transfer_to, dry_run=dry_run)


def execute(archive: Archive, list_id: str, transfer_to: Path | None = None) -> dict[str, Any]:
    """Destroy (or transfer to ``transfer_to``) what an approved list names; the list with its certificate."""
    from dangan.core.management.disposition import execute as run
    acting_user(archive, action="execute a destruction list", obj=list_id)
    return run(archive, list_id, transfer_to)


def extend(archive: Archive, ref: str, *, until: str, reason: str) -> dict[str, Any]:
    """A review's outcome: keep a record longer (its due date moves to ``until``)."""
    from dangan.core.management.disposition import extend as run
    acting_user(archive, action="extend retention", obj=ref)
    return run(archive, ref, until=until, reason=reason)


__all__ = ["due", "propose", "approve", "reject", "plan", "execute", "extend"]
