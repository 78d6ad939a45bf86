"""Drug quality information (药品质量信息), regulation 2: the quality department (ZLB).

Categories ``ZL-*`` are the kinds of quality information of clause (3).
Clause (7): abnormal or sudden quality information must reach the manager in
writing within 10 hours.  A record in category ``ZL-YC``, or any ``ZL-*``
record with metadata ``abnormal`` = yes/true/1/是, raises an :class:`Alert`
of kind ``quality-abnormal`` for recipient ``manager``, due 10 hours after
archiving.  Core stores it, runs the notification command configured for the
recipient, and lists it in ``dangan alerts`` until acknowledged.
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from ...model import Record
from ..hookspecs import hookimpl
from ..types import Alert, Category, Issue, Scheme, error

DEPT = "ZLB"
PREFIX = "ZL-"
ABNORMAL = "ZL-YC"
DEADLINE = timedelta(hours=10)
RECIPIENT = "manager"
#: The roles this plugin gives meaning to: core's ``manager`` receives the 10-hour alerts.
ROLES = {RECIPIENT: "receives the quality-abnormal alerts (within 10 hours)"}
ALERT_KIND = "quality-abnormal"
_TRUE = {"1", "true", "yes", "y", "是", "对"}


def _c(code: str, name: str, retention: str) -> Category:
    return Category(PREFIX + code, name, retention, "internal", department=DEPT, class_code="ZL")


CATEGORIES = (
    _c("FG", "药品质量法律法规政策", "long-term"),
    _c("GH", "供货单位质量保证能力", "long-term"),
    _c("JZ", "同行竞争对手质量信息", "short-term"),
    _c("NB", "内部经营环节质量数据记录报表", "long-term"),
    _c("JC", "药品监督检查公布的质量信息", "long-term"),
    _c("TS", "消费者质量查询、反映和投诉", "long-term"),
    _c("FK", "质量信息反馈单", "long-term"),
    Category(ABNORMAL, "异常、突发质量信息", "permanent", "internal", ("reported_by",), DEPT, "ZL",
             "clause (7): the manager must have it in writing within 10 hours"),
)
SCHEME = Scheme("drug_quality", "质量管理部 药品质量信息", CATEGORIES, DEPT)


def is_abnormal(record: Record) -> bool:
    if not (record.category or "").startswith(PREFIX):
        return False
    return record.category == ABNORMAL or str(record.metadata.get("abnormal", "")).strip().lower() in _TRUE


def abnormal_alert(record: Record, now: datetime) -> Alert:
    return Alert.new(record.id, ALERT_KIND,
                     f"异常/突发质量信息 {record.archival_code or record.id} 「{record.title}」: "
                     f"report to the manager in writing within 10 hours",
                     now + DEADLINE, RECIPIENT)


@hookimpl
def dangan_register_schemes(register: Callable[[Scheme], None]) -> None:
    register(SCHEME)


@hookimpl
def dangan_after_archive(record: Record, now: datetime) -> list[Alert] | None:
    return [abnormal_alert(record, now)] if is_abnormal(record) else None


@hookimpl
def dangan_validate(record: Record, category: Category | None) -> list[Issue] | None:
    if is_abnormal(record) and not record.title.strip():
        return [error("abnormal quality information needs a title the manager can act on", "title")]
    return None
