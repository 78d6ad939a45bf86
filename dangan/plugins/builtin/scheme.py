"""The default scheme, as a plugin: DA/T 22 archival codes, category defaults
(retention, required fields), filing by the year of the record date, and
ordering inside a volume by date.  Department plugins override filing and
ordering for their own categories; retention merges (longest wins).
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import date

from ...errors import DanganError
from ...model import Record, normalise_retention, normalise_secrecy
from ..hookspecs import hookimpl
from ..types import Category, FilingDecision, Issue, RetentionRule, Scheme, error, how_to_give
from . import dat22

SCHEME = Scheme(
    name="default",
    title="DA/T 22 general classes",
    categories=(
        Category("WS", "文书档案 (records)", "short-term", description="DA/T 22 class WS; set retention per record"),
        Category("SX", "声像档案 (audio-visual)", "long-term", description="photos, audio, video"),
    ),
)


@hookimpl
def dangan_register_schemes(register: Callable[[Scheme], None]) -> None:
    register(SCHEME)


def filing_year(record: Record) -> int:
    """The year of the record date; else ``record.year``; else the current year (归档年度)."""
    if record.date:
        return int(record.date[:4])
    if record.year:
        return record.year
    return int((record.created or date.today().isoformat())[:4])


@hookimpl
def dangan_filing(record: Record, category: Category) -> FilingDecision:
    year = filing_year(record)
    return FilingDecision(year, f"{category.code}·{year}·{record.department or category.department or '-'}",
                          reason="year of the record date")


@hookimpl
def dangan_volume_order(records: list[Record]) -> list[Record]:
    return sorted(records, key=lambda r: (r.date or "", r.created, r.id))


@hookimpl
def dangan_retention_for(record: Record, category: Category) -> RetentionRule:
    """The category's default; a retention set on the record by the filer counts too (longest wins)."""
    rule = RetentionRule.from_retention(category.default_retention, f"default of category {category.code}")
    if record.retention:
        own = RetentionRule.from_retention(record.retention, "set on the record")
        if own.years is None or (rule.years is not None and own.years > rule.years):
            return own
    return rule


@hookimpl
def dangan_archival_class(record: Record, category: Category) -> str:
    if not (record.department or category.department):
        return ""               # no class without a department: dangan_validate refuses the record, saying so
    return dat22.archival_class(record.fonds, category.class_code, record.year or filing_year(record),
                                record.retention or category.default_retention,
                                record.department or category.department or "")


@hookimpl
def dangan_archival_code(record: Record, category: Category, piece_number: int) -> str:
    return dat22.archival_code(dangan_archival_class(record, category), piece_number)


@hookimpl
def dangan_validate(record: Record, category: Category | None) -> list[Issue]:
    """Core checks every record needs: a known category, its required fields,
    well-formed date, secrecy, retention, and the parts of the archival code."""
    if category is None:
        return [error(f"unknown category {record.category!r}", "category")]
    issues = []
    for key in category.required_fields:
        if not str(record.metadata.get(key, "")).strip():
            issues.append(error(f"{key} is required for category {category.code}: give {how_to_give(key)}"
                                f" (all fields: dangan schemes show {category.code})", key))
    if record.date:
        try:
            date.fromisoformat(record.date[:10])
        except ValueError:
            issues.append(error(f"date {record.date!r} is not an ISO date (YYYY-MM-DD)", "date"))
    for name, value, check in (("secrecy", record.secrecy, normalise_secrecy),
                               ("retention", record.retention, normalise_retention)):
        if value:
            try:
                check(value)
            except DanganError as e:
                issues.append(error(e.message, name))
    if not (record.department or category.department):
        issues.append(error(f"department (机构代码) is required for the archival code of category {category.code}:"
                            " give --dept CODE", "department"))
    elif not issues:
        try:
            dangan_archival_class(record, category)
        except ValueError as e:
            issues.append(error(str(e), "archival_code"))
    return issues


