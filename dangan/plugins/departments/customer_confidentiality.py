"""Customer-information confidentiality (客户信息保密), regulation 5 (KXB).

* Art.3: general (``KX-YB``) and special (``KX-TS``) customers.
* Art.22: secret, confidential (机密) and top-secret (绝密) customer files are
  marked in every listing: :func:`dangan_listing_marker` gives ``【秘密】``,
  ``【机密】`` or ``【绝密】``; core shows the marker in every listing.
* Art.18: reading a confidential or top-secret customer file needs the
  manager's approval (``read`` in ``AccessContext.approvals``) or the role
  ``customer-service-manager``.
* Art.19: lending lasts at most 3 days.
* Art.23-24: copying, excerpting or handing data out needs approval: actions
  ``copy`` and ``export`` are denied unless ``copy`` / ``export`` is in
  ``AccessContext.approvals``.
* Access by permission only: staff of another department (not ``KXB``, not
  ``customer-service-manager``) read (download) a customer file only on a loan
  (``loan`` in the approvals: an issued loan of it), a ``read`` approval, or
  within an approved export; and they do not find customer files by
  searching for a resident ID number (``view`` asked with the purpose
  ``SEARCH_BY_ID_NUMBER``).
* Art.14: files are inspected every six months: report ``inspection_due``
  (core records inspections as audit events of type ``inspection``).
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import date

from ...model import Record, secrecy_rank
from ..hookspecs import hookimpl
from ..types import (SEARCH_BY_ID_NUMBER, AccessContext, Actor, Category, ReportContext, ReportResult, ReportSpec,
                     Scheme)

DEPT = "KXB"
PREFIX = "KX-"
LENDING_DAYS = 3
INSPECTION_MONTHS = 6
MANAGER_ROLE = "customer-service-manager"
#: The roles this plugin gives meaning to (shown by `dangan plugins list`; `dangan user add --role` accepts them).
ROLES = {MANAGER_ROLE: "客户服务部经理: reads confidential and top-secret KX-* files without an approval"}
MARKERS = {"secret": "【秘密】", "confidential": "【机密】", "top-secret": "【绝密】"}

CATEGORIES = (
    Category("KX-YB", "一般客户档案 (经销单位及个人)", "long-term", "internal", ("customer_name",), DEPT, "KX"),
    Category("KX-TS", "特殊客户档案 (律师、财务顾问、广告、公关、银行、保险)", "long-term", "internal",
             ("customer_name",), DEPT, "KX"),
    Category("KX-BB", "客户信息统计报表", "short-term", "internal", (), DEPT, "KX"),
    Category("KX-JC", "客户档案检查记录", "short-term", "internal", (), DEPT, "KX"),
)
SCHEME = Scheme("customer_confidentiality", "客户服务部 客户信息保密", CATEGORIES, DEPT)


def ours(record: Record) -> bool:
    return bool(record.category and record.category.startswith(PREFIX))


def add_months(d: date, months: int) -> date:
    y, m = divmod(d.month - 1 + months, 12)
    year, month = d.year + y, m + 1
    for day in (d.day, 30, 29, 28):
        try:
            return date(year, month, day)
        except ValueError:
            continue
    raise AssertionError("unreachable")


@hookimpl
def dangan_register_schemes(register: Callable[[Scheme], None]) -> None:
    register(SCHEME)


@hookimpl
def dangan_listing_marker(record: Record) -> str | None:
    return MARKERS.get(record.secrecy) if ours(record) else None


@hookimpl
def dangan_lending_limit(record: Record) -> int | None:
    return LENDING_DAYS if ours(record) else None


@hookimpl
def dangan_access(actor: Actor, action: str, record: Record, context: AccessContext) -> bool | None:
    if not ours(record):
        return None
    if action in ("copy", "export") and action not in context.approvals:
        return False
    if action in ("read", "lend") and secrecy_rank(record.secrecy) >= secrecy_rank("confidential") \
            and not actor.has_role(MANAGER_ROLE) and action not in context.approvals:
        return False
    other_department = actor.department != DEPT and not actor.has_role(MANAGER_ROLE)
    if action == "read" and other_department and not context.approvals & {"loan", "read", "export"}:
        return False
    if action == "view" and other_department and context.purpose == SEARCH_BY_ID_NUMBER:
        return False
    return None


@hookimpl
def dangan_access_reason(actor: Actor, action: str, record: Record) -> str | None:
    if not ours(record):
        return None
    if action in ("copy", "export"):
        return (f"copying or handing out customer files needs an approval"
                f" (`dangan access grant {action} {record.id} --to USER`), art. 23-24")
    if action in ("read", "lend"):
        return (f"confidential customer files are read only by a {MANAGER_ROLE} or with a manager's approval"
                f" (`dangan access grant {action} {record.id} --to USER`), art. 18")
    return None


def inspection_due(context: ReportContext) -> ReportResult:
    """Customer files whose six-monthly inspection is due on or before ``as_of``."""
    rows = []
    for record in context.records(status="active"):
        if not ours(record):
            continue
        last = context.last_event(record.id, "inspection")
        since = last.date() if last else date.fromisoformat((record.created or context.as_of.isoformat())[:10])
        due = add_months(since, INSPECTION_MONTHS)
        if due <= context.as_of:
            rows.append({"archival_code": record.archival_code or record.id, "title": record.title,
                         "last_inspection": last.date().isoformat() if last else "never",
                         "due": due.isoformat(), "days_overdue": (context.as_of - due).days})
    rows.sort(key=lambda r: (r["due"], r["archival_code"]))
    return ReportResult(["archival_code", "title", "last_inspection", "due", "days_overdue"], rows,
                        title=f"客户档案检查 (every {INSPECTION_MONTHS} months) due as of {context.as_of}")


@hookimpl
def dangan_register_reports(register: Callable[[ReportSpec], None]) -> None:
    register(ReportSpec("inspection_due", "客户档案每半年检查: files due for inspection", inspection_due))
