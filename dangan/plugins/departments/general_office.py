"""General office: records and audio-visual archives (文书档案、声像档案), regulation 1.

Categories (``BGS-*``, department ``BGS``) are the filing scope of Ch.2
Arts.5–15.  Record metadata this plugin reads (all optional unless stated):

``doc_kind``        ``request`` 请示, ``reply`` 批复, ``plan`` 规划, ``summary`` 总结,
                    ``meeting`` 会议文件, ``other`` (default)
``request_date``    ISO date of the request (for a request/reply pair)
``reply_date``      ISO date of the reply; absent = no reply yet
``period_start``    first year (``2021`` or ISO date) a plan or summary covers
``period_end``      last year it covers
``meeting_opened``  ISO date the meeting opened
``group``           id shared by documents kept together (request+reply,
                    main+attachments, draft+final, language versions)
``part``            ``main`` (default) or ``attachment``
``stage``           ``draft`` or ``final`` (default)
``doc_number``      文号;  ``author`` 责任者;  ``pages`` page count (else the extracted ``x.pages``);  ``notes`` 备注
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import date

from ...model import Record
from ..hookspecs import hookimpl
from ..types import (
    Category, FilingDecision, Issue, RecordContext, ReportContext, ReportResult, ReportSpec, Scheme, error,
    warning,
)

DEPT = "BGS"
PREFIX = "BGS-"
#: The roles this plugin gives meaning to: none of its own (core's roles apply).
ROLES: dict[str, str] = {}
DOC_KINDS = ("request", "reply", "plan", "summary", "meeting", "other")


def _c(code: str, name: str, retention: str, article: str, secrecy: str = "public", cls: str = "WS") -> Category:
    return Category(PREFIX + code, name, retention, secrecy, department=DEPT, class_code=cls,
                    description=f"Ch.2 {article}")


CATEGORIES = (
    _c("HY", "重要会议资料", "permanent", "Art.5"),
    _c("SJ", "上级机关来文", "long-term", "Art.6"),
    _c("FW", "对外发文与来往文书", "long-term", "Art.7"),
    _c("QS", "请示与批复、工作报告总结", "permanent", "Art.8"),
    _c("NB", "内部计划总结报告统计报表简报", "long-term", "Art.9"),
    _c("XF", "来访及信访资料", "short-term", "Art.10"),
    _c("HT", "合同协议", "long-term", "Art.11"),
    _c("RS", "任免奖惩", "permanent", "Art.12"),
    _c("ZD", "规章制度、实施细则、程序文件", "permanent", "Art.13"),
    _c("DS", "历史沿革、大事记、活动简报", "permanent", "Art.14"),
    _c("SX", "照片、录音、录像 (声像档案)", "permanent", "Art.14", cls="SX"),
    _c("BM", "保密范围材料", "long-term", "Art.15", secrecy="secret"),
)
SCHEME = Scheme("general_office", "总经理办公室 文书档案、声像档案 归档范围", CATEGORIES, DEPT)


def ours(record: Record) -> bool:
    return bool(record.category and record.category.startswith(PREFIX))


def _year(value: str | None) -> int | None:
    """``2021`` or ``2021-05-06`` -> 2021; None when absent."""
    return int(str(value).strip()[:4]) if value and str(value).strip() else None


def filing_year(record: Record) -> tuple[int | None, str]:
    """The year a record is filed under by the cross-year rules (Ch.2 Art.24), and why."""
    meta = record.metadata
    kind = meta.get("doc_kind", "other")
    own = _year(record.date) or record.year
    if kind in ("request", "reply"):
        if meta.get("reply_date"):
            return _year(meta["reply_date"]), "request and reply: the reply's year"
        return _year(meta.get("request_date")) or own, "request without reply: the request's year"
    if kind == "plan" and meta.get("period_start"):
        return _year(meta["period_start"]), "multi-year plan: its first year"
    if kind == "summary" and meta.get("period_end"):
        return _year(meta["period_end"]), "multi-year summary: its last year"
    if kind == "meeting" and meta.get("meeting_opened"):
        return _year(meta["meeting_opened"]), "meeting: the year it opened"
    return own, "year of the record date"


@hookimpl
def dangan_register_schemes(register: Callable[[Scheme], None]) -> None:
    register(SCHEME)


@hookimpl
def dangan_filing(record: Record, category: Category) -> FilingDecision | None:
    if not ours(record):
        return None
    year, reason = filing_year(record)
    if year is None:
        return None          # builtin files it under the archiving year; validation warns
    top = record.secrecy == "top-secret"
    key = f"{category.code}·{year}" + ("·绝密" if top else "")
    return FilingDecision(year, key, "top-secret" if top else None, reason)


_KIND_RANK = {"reply": 0, "request": 1}
_PART_RANK = {"main": 0, "attachment": 1}
_STAGE_RANK = {"draft": 0, "final": 1}


def order_volume(records: list[Record]) -> list[Record]:
    """Order inside a volume (Ch.2 Art.25): documents of one ``group`` stay
    together (groups in order of their earliest date); inside a group reply
    before request, main text before attachment, draft before final; then by date."""
    first: dict[str, str] = {}
    for r in records:
        g = r.metadata.get("group") or r.id
        first[g] = min(first.get(g, r.date or ""), r.date or "")

    def key(r: Record) -> tuple:
        g = r.metadata.get("group") or r.id
        m = r.metadata
        return (first[g], g, _KIND_RANK.get(m.get("doc_kind", ""), 2), _PART_RANK.get(m.get("part", "main"), 0),
                _STAGE_RANK.get(m.get("stage", "final"), 1), r.date or "", r.id)

    return sorted(records, key=key)


@hookimpl
def dangan_volume_order(records: list[Record]) -> list[Record] | None:
    if not records or not all(ours(r) for r in records):
        return None
    return order_volume(records)


@hookimpl
def dangan_validate(record: Record, category: Category | None, context: RecordContext) -> list[Issue] | None:
    if not ours(record):
        return None
    meta, issues = record.metadata, []
    kind = meta.get("doc_kind", "other")
    if kind not in DOC_KINDS:
        issues.append(error(f"doc_kind {kind!r} is not one of {', '.join(DOC_KINDS)}", "doc_kind"))
    for key in ("request_date", "reply_date", "period_start", "period_end", "meeting_opened"):
        value = meta.get(key)
        if value and not (str(value)[:4].isdigit() and (len(str(value)) == 4 or _iso(str(value)))):
            issues.append(error(f"{key} {value!r} must be a year or an ISO date", key))
    if meta.get("part", "main") not in _PART_RANK:
        issues.append(error("part must be main or attachment", "part"))
    if meta.get("stage", "final") not in _STAGE_RANK:
        issues.append(error("stage must be draft or final", "stage"))
    if record.volume:
        vol = context.volume(record.volume)
        if vol is not None and record.secrecy == "top-secret" and vol.secrecy != "top-secret":
            issues.append(error(f"top-secret record cannot go in volume {vol.id} ({vol.secrecy}); "
                                "top-secret documents form volumes of their own (Ch.2 Art.23)", "volume"))
        if vol is not None and vol.secrecy == "top-secret" and record.secrecy != "top-secret" \
                and not meta.get("group"):
            issues.append(warning(f"ordinary record in top-secret volume {vol.id}: allowed only when closely "
                                  "related to its top-secret documents (set 'group')", "volume"))
    if not (record.date or record.year):
        issues.append(warning("no date: filed under the archiving year", "date"))
    return issues


def _iso(value: str) -> bool:
    try:
        date.fromisoformat(value[:10])
        return True
    except ValueError:
        return False


# ------------------------------------------------------------------ reports

CONTENTS_COLUMNS = ["序号", "档号", "文号", "责任者", "题名", "日期", "页数", "备注"]


def page_count(record: Record) -> str:
    """The page count a user gave (``pages``), else the one extracted from the file (``x.pages``)."""
    given = str(record.metadata.get("pages", "")).strip()
    return given or str(record.metadata.get("x.pages", "")).strip()


def contents_list(context: ReportContext, volume: str) -> ReportResult:
    """卷内文件目录: one row per document, in volume order."""
    records = order_volume(list(context.records(volume=volume)))
    rows = [{"序号": i, "档号": r.archival_code or "", "文号": r.metadata.get("doc_number", ""),
             "责任者": r.metadata.get("author", ""), "题名": r.title, "日期": r.date or "",
             "页数": page_count(r), "备注": r.metadata.get("notes", "")}
            for i, r in enumerate(records, 1)]
    return ReportResult(CONTENTS_COLUMNS, rows, title=f"卷内文件目录 {volume}")


def reference_sheet(context: ReportContext, volume: str) -> ReportResult:
    """卷内备考表: document and page counts, notes, filer (立卷人), checker (检查人)."""
    records = list(context.records(volume=volume))
    info = context.volume(volume)
    pages = 0
    unknown = 0
    for r in records:
        p = page_count(r)
        if p.isdigit():
            pages += int(p)
        else:
            unknown += 1
    notes = info.notes if info else ""
    if unknown:
        notes = (notes + "; " if notes else "") + f"{unknown} document(s) without a page count"
    rows = [
        {"项目": "案卷", "内容": volume},
        {"项目": "文件数 (documents)", "内容": len(records)},
        {"项目": "页数 (pages)", "内容": pages},
        {"项目": "说明 (notes)", "内容": notes},
        {"项目": "立卷人 (filer)", "内容": info.filer if info else ""},
        {"项目": "检查人 (checker)", "内容": info.checker if info else ""},
        {"项目": "日期 (as of)", "内容": context.as_of.isoformat()},
    ]
    return ReportResult(["项目", "内容"], rows, title=f"卷内备考表 {volume}")


@hookimpl
def dangan_register_reports(register: Callable[[ReportSpec], None]) -> None:
    register(ReportSpec("contents_list", "卷内文件目录: volume contents list", contents_list, ("volume",)))
    register(ReportSpec("reference_sheet", "卷内备考表: volume reference sheet", reference_sheet, ("volume",)))
