"""Retention arithmetic, as pure functions: when a record's retention ends."""
from __future__ import annotations

from datetime import date

from ...model import Record
from ..types import RetentionRule


def _add_years(d: date, years: int) -> date:
    try:
        return d.replace(year=d.year + years)
    except ValueError:           # 29 February -> 28 February
        return d.replace(year=d.year + years, day=28)


def retention_start(rule: RetentionRule, record: Record) -> date | None:
    """The date the period counts from, or None when the record lacks it.

    ``end-of-year``: 31 December of the record's filing year (``record.year``,
    else the year of ``record.date``); ``record-date``: ``record.date``;
    ``metadata:KEY``: the ISO date in ``record.metadata[KEY]``.
    """
    if rule.trigger == "end-of-year":
        year = record.year or (int(record.date[:4]) if record.date else None)
        return date(year, 12, 31) if year else None
    if rule.trigger == "record-date":
        return date.fromisoformat(record.date[:10]) if record.date else None
    if rule.trigger.startswith("metadata:"):
        value = record.metadata.get(rule.trigger.split(":", 1)[1])
        return date.fromisoformat(value[:10]) if value else None
    raise ValueError(f"unknown retention trigger {rule.trigger!r}")


def retention_ends(rule: RetentionRule, record: Record) -> date | None:
    """The day the retention period is over (disposition falls due); None when
    permanent or when the start date is unknown.

    >>> retention_ends(RetentionRule(10), Record("r", "Z109", year=2021))
    datetime.date(2031, 12, 31)
    """
    if rule.years is None:
        return None
    start = retention_start(rule, record)
    return _add_years(start, rule.years) if start else None


def is_due(rule: RetentionRule, record: Record, today: date) -> bool:
    """True when the period is over on ``today`` (disposition may be proposed)."""
    end = retention_ends(rule, record)
    return end is not None and today >= end
