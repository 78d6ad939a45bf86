"""Construction project information (施工信息), regulation 3: the project team (XMB).

* Categories ``SG-*`` follow clause 3 (project basics; actual engineering
  information; instructions and decisions).
* Clause 4: information is published only after the project manager signs it
  off — every ``SG-*`` record starts ``pending``; core records the approval
  and makes it ``active``.  While pending, only actors with the role
  ``project-manager`` may view, read, lend, export or copy it, and only they
  may ``approve`` it.
* Clause 6: every record carries a validity period and a secrecy level:
  metadata ``valid_until`` (ISO date, not before the record date) and
  ``secrecy`` (密级, declared explicitly, agreeing with the record's secrecy),
  and ``custodian`` (the named person storing it).
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import date

from ...errors import UsageError
from ...model import Record, normalise_secrecy
from ..hookspecs import hookimpl
from ..types import AccessContext, Actor, Category, Issue, Scheme, error

DEPT = "XMB"
PREFIX = "SG-"
MANAGER_ROLE = "project-manager"
#: The roles this plugin gives meaning to (shown by `dangan plugins list`; `dangan user add --role` accepts them).
ROLES = {MANAGER_ROLE: "项目经理: approves pending SG-* records; the only one who sees them until then"}
REQUIRED = ("valid_until", "secrecy", "custodian")
HIDDEN_WHILE_PENDING = frozenset({"view", "read", "lend", "export", "copy", "edit"})


def _c(code: str, name: str, retention: str = "long-term") -> Category:
    return Category(PREFIX + code, name, retention, "internal", REQUIRED, DEPT, "SG")


CATEGORIES = (
    _c("JB", "项目基本状况 (工程实体、场地环境、参建单位、施工合同)"),
    _c("JL", "施工记录"),
    _c("JS", "施工技术资料"),
    _c("JD", "工程进度、安全、质量、成本"),
    _c("RJ", "人员、机械、材料使用", "short-term"),
    _c("HT", "合同管理"),
    _c("XC", "现场管理组织协调", "short-term"),
    _c("YS", "竣工验收、考核评价", "permanent"),
    _c("ZL", "指令与决策 (指挥部、监理指令、企业重大决定)", "permanent"),
)
SCHEME = Scheme("construction", "项目部 施工信息", CATEGORIES, DEPT)


def ours(record: Record) -> bool:
    return bool(record.category and record.category.startswith(PREFIX))


@hookimpl
def dangan_register_schemes(register: Callable[[Scheme], None]) -> None:
    register(SCHEME)


@hookimpl
def dangan_initial_status(record: Record) -> str | None:
    return "pending" if ours(record) else None


@hookimpl
def dangan_access(actor: Actor, action: str, record: Record, context: AccessContext) -> bool | None:
    if not ours(record):
        return None
    manager = actor.has_role(MANAGER_ROLE)
    if action == "approve":
        return manager
    if record.status == "pending" and action in HIDDEN_WHILE_PENDING and not manager:
        return False
    return None


@hookimpl
def dangan_access_reason(actor: Actor, action: str, record: Record) -> str | None:
    if not ours(record):
        return None
    if action == "approve":
        return f"only a {MANAGER_ROLE} approves construction records (SG-*), clause 4"
    if record.status == "pending":
        return (f"construction records (SG-*) wait for a {MANAGER_ROLE}'s approval (`dangan approve {record.id}`);"
                f" until then only a {MANAGER_ROLE} may see them (clause 4)")
    return None


@hookimpl
def dangan_validate(record: Record, category: Category | None) -> list[Issue] | None:
    if not ours(record):
        return None
    issues = []
    valid_until = record.metadata.get("valid_until", "")
    if valid_until:
        try:
            until = date.fromisoformat(valid_until[:10])
            if record.date and until < date.fromisoformat(record.date[:10]):
                issues.append(error(f"valid_until {valid_until} is before the record date {record.date}",
                                    "valid_until"))
        except ValueError:
            issues.append(error(f"valid_until {valid_until!r} is not an ISO date", "valid_until"))
    declared = record.metadata.get("secrecy", "")
    if declared:
        try:
            if normalise_secrecy(declared) != record.secrecy:
                issues.append(error(f"declared secrecy {declared} does not agree with the record's "
                                    f"secrecy {record.secrecy}", "secrecy"))
        except UsageError as e:
            issues.append(error(e.message, "secrecy"))
    return issues
