"""Inspections as a user records and reads them: entries, what is due, the six-monthly report, DA/T 70
four-property checks.  ``registers.inspections`` lists the entries."""
from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any, Iterable

from dangan.core.policy.users import acting_user

if TYPE_CHECKING:
    from dangan.core.archive import Archive


def record(archive: Archive, refs: Iterable[str] = (), *, volume: str | None = None, condition: str,
           fading: str = "none", damage: str = "", environment: str = "", notes: str = "") -> list[int]:
    """Record an inspection of records or a volume; the ids of the entries written."""
    from dangan.core.management.inspection import record_inspection
    acting_user(archive, action="record an inspection")
    return record_inspection(archive, list(refs), volume=volume, condition=condition, fading=fading, damage=damage,
                             environment=environment, notes=notes)


def due(archive: Archive, as_of: dt.date | None = None) -> list[dict[str, Any]]:
    """Records the acting user may see whose six-monthly inspection is due by ``as_of``."""
    from dangan.core.management.inspection import due as run
    acting_user(archive, action="list inspections due")
    return run(archive, as_of)


def report(archive: Archive, *, sample: int | None = None, as_of: dt.date | None = None) -> dict[str, Any]:
    """The six-monthly inspection report (fixity, readability, catalogue ↔ store, holds, overdue loans,
    disposition due, the last backup), recorded as an audit event."""
    from dangan.core.management.inspection import inspection_report
    acting_user(archive, action="inspection report")
    return inspection_report(archive, sample=sample, as_of=as_of)


def four_property(archive: Archive, refs: Iterable[str] = (), *, volume: str | None = None) -> dict[str, Any]:
    """DA/T 70 checks (authenticity, integrity, usability, security), item by item."""
    from dangan.core.management.four_property import four_property as run
    acting_user(archive, action="four-property check")
    return run(archive, list(refs), volume=volume)


__all__ = ["record", "due", "report", "four_property"]
