"""Reading the registers (loans, holds, inspections, destruction lists, users, approvals) as a user.

Each resolves the acting user first (``acting_user``: once users are registered, only they may
read; a refusal is audited), then reads through the management or policy function, which also
serve core's own callers (the inspection report, the execution of a list) without the check.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dangan.core.policy.users import acting_user, register_in_use

if TYPE_CHECKING:
    from dangan.core.archive import Archive
    from dangan.core.policy.users import User


def loans(archive: Archive, *, action: str = "list loans", **filters: Any) -> list[dict[str, Any]]:
    from dangan.core.management.lending import list_loans
    acting_user(archive, action=action)
    return list_loans(archive, **filters)


def loan(archive: Archive, loan_id: str) -> dict[str, Any]:
    """One loan with its items (as a line of ``loans``)."""
    from dangan.core.management.lending import get_loan
    acting_user(archive, action="list loans", obj=loan_id)
    return get_loan(archive, loan_id)


def holds(archive: Archive, *, include_released: bool = False, record: str | None = None) -> list[dict[str, Any]]:
    from dangan.core.management.holds import list_holds
    acting_user(archive, action="list holds")
    return list_holds(archive, include_released=include_released, record=record)


def inspections(archive: Archive, *, record: str | None = None, volume: str | None = None) -> list[dict[str, Any]]:
    from dangan.core.management.inspection import list_inspections
    acting_user(archive, action="list inspections")
    return list_inspections(archive, record=record, volume=volume)


def destruction_list(archive: Archive, list_id: str) -> dict[str, Any]:
    from dangan.core.management.disposition import get_list
    acting_user(archive, action="read destruction lists")
    return get_list(archive, list_id)


def destruction_lists(archive: Archive) -> list[dict[str, Any]]:
    from dangan.core.management.disposition import list_lists
    acting_user(archive, action="read destruction lists")
    return list_lists(archive)


def users(archive: Archive) -> list[User]:
    from dangan.core.policy.users import list_users
    if register_in_use(archive):
        acting_user(archive, action="list users")
    return list_users(archive)


def separation_conflicts(archive: Archive) -> dict[str, list[str]]:
    """With 三员分立 on: active users holding more than one of admin, security-officer and auditor (granted
    before the option was set) → those roles; empty when the option is off."""
    from dangan.core.policy.separation import conflicts
    return conflicts(archive)


def grants(archive: Archive, *, active_only: bool = True) -> list[dict[str, Any]]:
    from dangan.core.policy.access import list_grants
    acting_user(archive, action="list approvals")
    return list_grants(archive, active_only=active_only)


__all__ = ["loans", "holds", "inspections", "destruction_list", "destruction_lists", "users", "separation_conflicts", "grants"]
