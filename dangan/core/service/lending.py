"""Lending as a user does it: request, approve, refuse, issue, return, and the lending register.

``registers.loans`` lists loans; the rules (who approves, who issues, the loan limits, outside borrowers)
are ``management.lending``'s and ``policy.loan_policy``'s, asked after the acting user is resolved.
"""
from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable

from dangan.core.policy.users import acting_user

if TYPE_CHECKING:
    from dangan.core.archive import Archive

#: The lending register's columns (借阅登记簿), one row per item lent.
REGISTER_COLUMNS = ["loan", "requested", "borrower", "unit", "department", "purpose", "record", "archival_code",
                    "approved_by", "issued", "mode", "due", "returned", "received_by", "condition", "status"]


def request(archive: Archive, refs: Iterable[str], *, purpose: str, days: int | None = None,
            borrower: str | None = None, unit: str | None = None, letter: str | None = None,
            id_number: str | None = None) -> dict[str, Any]:
    """Ask to borrow records (for oneself, another user, or an outside borrower); the loan awaits approval."""
    from dangan.core.management.lending import request as run
    acting_user(archive, action="request a loan")
    return run(archive, list(refs), purpose=purpose, days=days, borrower=borrower, unit=unit, letter=letter,
               id_number=id_number)


def approve(archive: Archive, loan_id: str, note: str = "") -> dict[str, Any]:
    """Approve a loan (the borrower's department head; a manager for secret files; never one's own)."""
    from dangan.core.management.lending import approve as run
    acting_user(archive, action="approve a loan", obj=loan_id)
    return run(archive, loan_id, note)


def refuse(archive: Archive, loan_id: str, reason: str) -> dict[str, Any]:
    """Refuse a loan request."""
    from dangan.core.management.lending import refuse as run
    acting_user(archive, action="refuse a loan", obj=loan_id)
    return run(archive, loan_id, reason)


def issue(archive: Archive, loan_id: str, refs: Iterable[str] = (), *, copy_to: Path | None = None,
          paper: bool = True) -> dict[str, Any]:
    """Issue an approved loan's items (all not yet issued, or ``refs``): in place (a boxed record's paper
    original handed out unless ``paper`` is False), or watermarked copies."""
    from dangan.core.management.lending import issue as run
    acting_user(archive, action="issue loans", obj=loan_id)
    return run(archive, loan_id, list(refs), copy_to=copy_to, paper=paper)


def return_items(archive: Archive, loan_id: str, refs: Iterable[str] = (), *, everything: bool = False,
                 condition: str = "intact") -> dict[str, Any]:
    """Receive returned records, checked item by item (``everything``: each item still out on the loan); the
    loan, with ``received``: the references received by this call."""
    from dangan.core.management.lending import get_loan, return_items as run
    acting_user(archive, action="receive returned records", obj=loan_id)
    refs = list(refs)
    if everything:
        refs = [i["record_id"] for i in get_loan(archive, loan_id)["items"] if not i["returned_at"]]
    return {**run(archive, loan_id, refs, condition=condition), "received": refs}


def register(archive: Archive, *, since: dt.date | None = None, until: dt.date | None = None) -> list[dict[str, Any]]:
    """The lending register (借阅登记簿): one row per item lent, on loans requested between the dates."""
    from dangan.core.service.registers import loans
    rows = loans(archive, action="read the lending register", since=since and since.isoformat(),
                 until=until and until.isoformat())
    return [{"loan": b["id"], "requested": b["requested_at"][:10], "borrower": b["borrower"],
             "unit": b["external_unit"] or "", "department": b["department"] or "", "purpose": b["purpose"],
             "record": i["record_id"], "archival_code": i["archival_code"] or "", "approved_by": b["decided_by"] or "",
             "issued": (i["issued_at"] or "")[:10], "mode": i["issue_mode"] or "",
             "due": b["due"] or "", "returned": (i["returned_at"] or "")[:10], "received_by": i["received_by"] or "",
             "condition": i["condition"] or "", "status": b["status"]}
            for b in rows for i in b["items"]]


__all__ = ["request", "approve", "refuse", "issue", "return_items", "register", "REGISTER_COLUMNS"]
