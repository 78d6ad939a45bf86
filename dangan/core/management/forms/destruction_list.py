"""销毁清册 (destruction list): the appraisal's records and the lines for the appraisers and approvers."""
from __future__ import annotations

from typing import Any

from .render import Fields, Form, Grid, Signatures

COLUMNS = ["序号", "档号", "档案", "题名", "保管期限", "到期", "处置", "结果"]
WIDTHS = [0.6, 2.4, 1.8, 4, 1, 1.2, 1, 1]


def destruction_list_form(lst: dict[str, Any], *, archive_name: str = "") -> Form:
    rows = [[n, i.get("archival_code") or "", i["record_id"], i.get("title") or "", i.get("retention") or "",
             i.get("due") or "", i.get("action") or "", i.get("outcome") or ""]
            for n, i in enumerate(lst["items"], 1)]
    return Form("档案销毁清册", [
        Fields([("清册编号", lst["id"]), ("状态", lst["status"]), ("鉴定日期", lst.get("as_of") or ""),
                ("件数", len(lst["items"])), ("提出人", lst.get("proposed_by") or ""),
                ("提出时间", (lst.get("proposed_at") or "")[:16]), ("审批人", lst.get("decided_by") or ""),
                ("审批时间", (lst.get("decided_at") or "")[:16]), ("鉴定意见", lst.get("reason") or "")]),
        Grid(COLUMNS, rows, WIDTHS),
        Signatures(["鉴定小组", "档案部门负责人", "单位负责人（审批）"]),
    ], landscape=True, footer=archive_name)
