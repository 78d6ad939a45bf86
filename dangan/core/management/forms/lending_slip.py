"""借阅单 (lending slip): the loan's borrower, purpose and term, its items, and the lines to sign."""
from __future__ import annotations

from typing import Any

from .render import Fields, Form, Grid, Signatures

COLUMNS = ["序号", "档号", "档案", "题名", "密级", "借出", "归还", "状况"]


def lending_slip_form(loan: dict[str, Any], titles: dict[str, str], *, archive_name: str = "") -> Form:
    outside = bool(loan.get("external_unit"))
    pairs = [("借阅单号", loan["id"]), ("状态", loan["status"]), ("借阅人", loan["borrower"]),
             ("部门" if not outside else "单位", loan.get("external_unit") or loan.get("department") or ""),
             ("借阅目的", loan["purpose"]), ("借阅天数", loan["days"]),
             ("申请时间", (loan.get("requested_at") or "")[:16]), ("申请经办", loan.get("requested_by") or ""),
             ("批准人", loan.get("decided_by") or ""), ("批准时间", (loan.get("decided_at") or "")[:16]),
             ("应还日期", loan.get("due") or ""), ("办结时间", (loan.get("closed_at") or "")[:16])]
    if outside:
        pairs += [("介绍信", loan.get("letter_ref") or ""), ("证件号", loan.get("id_number") or "")]
    rows = [[n, i.get("archival_code") or "", i["record_id"], titles.get(i["record_id"], ""), i.get("secrecy") or "",
             (i.get("issued_at") or "")[:10], (i.get("returned_at") or "")[:10], i.get("condition") or ""]
            for n, i in enumerate(loan["items"], 1)]
    return Form("档案借阅单", [
        Fields(pairs), Grid(COLUMNS, rows, [0.6, 2.2, 1.8, 3, 0.8, 1.1, 1.1, 0.8], min_rows=5),
        Signatures(["借阅人", "批准人", "经办人（借出）", "经办人（归还）"]),
    ], footer=archive_name)
