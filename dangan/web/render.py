"""Jinja2 templates (autoescape on) and the UI's words, Chinese first, English switchable (``/lang?lang=en``).

The words follow the glossary (DESIGN.md): 档号 archival code, 案卷 volume, 密级 secrecy, 借阅 lending,
保管期限 retention, 处置 disposition, 法律保全 legal hold.
"""
from __future__ import annotations

from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse

WORDS: dict[str, tuple[str, str]] = {
    "app": ("档案系统", "Records archive"),
    "search": ("检索", "Search"), "lending": ("借阅", "Lending"), "upload": ("归档上传", "Upload"),
    "audit": ("审计日志", "Audit trail"), "dashboard": ("统计", "Dashboard"), "holds": ("法律保全", "Legal holds"),
    "signin": ("登录", "Sign in"), "signout": ("退出", "Sign out"), "user": ("用户名", "User name"),
    "password": ("密码", "Password"), "query": ("检索词", "Query"), "results": ("条结果", "hits"),
    "code": ("档号", "Archival code"), "title": ("题名", "Title"), "year": ("年度", "Year"),
    "department": ("部门", "Department"), "category": ("门类", "Category"), "secrecy": ("密级", "Secrecy"),
    "volume": ("案卷", "Volume"), "retention": ("保管期限", "Retention"), "date": ("日期", "Date"),
    "fonds": ("全宗", "Fonds"), "status": ("状态", "Status"), "version": ("版本", "Version"),
    "versions": ("版本记录", "Versions"), "files": ("文件", "Files"), "preview": ("预览", "Preview"),
    "download": ("下载", "Download"), "size": ("大小", "Size"), "format": ("格式", "Format"),
    "no_access": ("无权查看：仅可知此档案存在及其密级", "No access: only that this record exists and its marking"),
    "locked": ("已封存：卷未解锁", "Sealed: the volume is locked"),
    "my_requests": ("我的借阅申请", "My requests"), "queue": ("待审批", "Awaiting approval"),
    "desk": ("出借与归还", "Issue and return"), "overdue": ("逾期未还", "Overdue"),
    "request_loan": ("申请借阅", "Request a loan"), "purpose": ("借阅目的", "Purpose"), "days": ("天数", "Days"),
    "approve": ("批准", "Approve"), "refuse": ("拒绝", "Refuse"), "issue": ("出借", "Issue"),
    "return": ("归还", "Return"), "reason": ("理由", "Reason"), "borrower": ("借阅人", "Borrower"),
    "due": ("应还日期", "Due"), "loan": ("借阅单", "Loan"), "records": ("档案", "Records"),
    "requested": ("已申请", "requested"), "approved": ("已批准", "approved"), "issued": ("已出借", "issued"),
    "returned": ("已归还", "returned"), "refused": ("已拒绝", "refused"),
    "actor": ("操作人", "Actor"), "action": ("操作", "Action"), "object": ("对象", "Object"),
    "outcome": ("结果", "Outcome"), "time": ("时间", "Time"), "filter": ("筛选", "Filter"),
    "since": ("起始日期", "From"), "until": ("截止日期", "To"), "file": ("文件", "File"),
    "submit": ("提交", "Submit"), "choose_category": ("选择门类", "Choose a category"),
    "required": ("必填", "required"), "archived": ("已归档", "Archived"),
    "extraction_queued": ("全文提取已排队，由后台处理（dangan worker）", "text extraction queued for dangan worker"),
    "sort": ("排序", "Sort"),
    "relevance": ("相关度", "relevance"), "by_date": ("日期", "date"), "by_code": ("档号", "code"),
    "page": ("页", "page"), "prev": ("上一页", "Previous"), "next": ("下一页", "Next"),
    "count": ("数量", "Count"), "none": ("无", "none"), "error": ("出错", "Error"),
    "records_by": ("按部门和年度统计", "Records by department and year"),
    "placed": ("保全时间", "Placed"), "place_hold": ("设置法律保全", "Place a hold"), "release": ("解除保全", "Release"),
    "authority": ("决定机关", "Ordered by"), "scope": ("范围", "Scope"), "in_force": ("保全中", "in force"),
    "hold_query": ("按条件", "By query"), "record_refs": ("档号或记录号，空格分隔", "archival codes or ids, space-separated"),
    "scope_records": ("档案", "records"), "scope_volume": ("案卷", "volume"), "scope_query": ("条件", "query"), "released": ("解除", "Released"), "facets": ("分面", "Facets"),
    "text": ("正文", "Text"), "condition": ("状况", "Condition"),
    "volumes": ("案卷", "Volumes"), "contents_list": ("卷内文件目录", "Contents list"),
    "reference_sheet": ("卷内备考表", "Reference sheet"), "print": ("打印", "Print"), "users": ("用户", "Users"),
    "roles": ("角色", "Roles"), "clearance": ("涉密等级", "Clearance"), "set_password": ("设置密码", "Set password"),
    "encrypted": ("加密", "Encrypted"), "unlock": ("解锁", "Unlock"), "lock": ("加锁", "Lock"),
    "passphrase": ("口令", "Passphrase"), "minutes": ("分钟", "Minutes"), "unlocked_until": ("已解锁至", "Unlocked until"),
    "mime": ("格式", "Format"),
    "backup_age": ("最近备份", "Last backup"), "hours_ago": ("小时前", "hours ago"), "no_backup": ("尚无备份", "No backup yet"),
    "backup_overdue": ("备份已超过间隔", "Older than the backup interval"), "backup_failed": ("最近一次备份失败", "The last attempt failed"),
    "server_unlock": ("为全体授权用户解锁", "Unlock for the server"), "server_lock": ("解除服务器解锁", "Lock for the server"),
    "server_unlocked_until": ("服务器已解锁至", "Unlocked for the server until"),
    "disposition": ("处置", "Disposition"), "due_records": ("到期档案", "Records due"),
    "lists": ("销毁清册", "Destruction lists"), "propose": ("提出销毁清册", "Propose a list"),
    "reject": ("驳回", "Reject"), "execute": ("执行销毁", "Execute"), "will": ("将执行", "Will"),
    "confirm": ("确认", "Confirm"), "certificate": ("销毁证明", "Certificate"), "alerts": ("提醒", "Alerts"),
    "acknowledge": ("确认收到", "Acknowledge"), "message": ("内容", "Message"),
    "proposed_by": ("提出人", "Proposed by"), "decided_by": ("审批人", "Decided by"),
    "confirm_destroy": ("以下档案将被销毁，不可恢复。确认执行？", "These records will be destroyed, irreversibly. Execute?"),
}
SECRECY_ZH = {"public": "公开", "internal": "内部", "secret": "★秘密", "confidential": "★机密", "top-secret": "★绝密"}


def language(request: Request) -> str:
    return "en" if request.cookies.get("lang") == "en" else "zh"


class Templates:
    def __init__(self) -> None:
        self.env = Environment(loader=PackageLoader("dangan.web", "templates"),
                               autoescape=select_autoescape(default=True, default_for_string=True))

    def response(self, request: Request, name: str, status: int = 200, **ctx) -> HTMLResponse:
        lang = language(request)
        i = 1 if lang == "en" else 0
        sess = getattr(request.state, "session", None)
        user = getattr(request.state, "user", None)

        def t(key: str) -> str:
            return WORDS[key][i] if key in WORDS else key

        def mark(secrecy: str | None) -> str:
            s = secrecy or "public"
            return SECRECY_ZH.get(s, s) if lang == "zh" else s
        html = self.env.get_template(name).render(t=t, mark=mark, lang=lang, csrf=sess.csrf if sess else "",
                                                   user=user, path=request.url.path, **ctx)
        return HTMLResponse(html, status_code=status)
