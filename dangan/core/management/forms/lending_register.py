"""借阅登记簿 (the lending register): one line per item lent, with the lines to sign the page off."""
from __future__ import annotations

from typing import Any, Sequence

from .render import Fields, Form, Grid, Signatures

COLUMNS = ["序号", "借阅单", "申请日期", "借阅人", "单位/部门", "利用目的", "档号", "批准人", "借出", "方式",
           "应还日期", "归还", "接收人", "状态"]
WIDTHS = [0.5, 1.6, 1.1, 1, 1.4, 2.2, 2.4, 0.9, 1.1, 0.8, 1.1, 1.1, 0.9, 0.8]
MODES = {"in-place": "原件/阅览", "copy": "复制件"}
STATUSES = {"requested": "已申请", "approved": "已批准", "issued": "已出借", "returned": "已归还", "refused": "未批准"}


def lending_register_form(rows: Sequence[dict[str, Any]], *, since: str | None = None, until: str | None = None,
                          archive_name: str = "") -> Form:
    """``rows``: the register's rows (``service.lending.register``), in the order they are to print."""
    lines = [[n, r["loan"], r["requested"], r["borrower"], r["unit"] or r["department"], r["purpose"],
              r["archival_code"] or r["record"], r["approved_by"], r["issued"], MODES.get(r["mode"], r["mode"]),
              r["due"], r["returned"], r["received_by"], STATUSES.get(r["status"], r["status"])]
             for n, r in enumerate(rows, 1)]
    out = sum(1 for r in rows if r["issued"] and not r["returned"])
    return Form("档案借阅登记簿", [
        Fields([("登记期间", f"{since or '—'} 至 {until or '—'}"), ("件次", len(rows)),
                ("未归还", out), ("已归还", sum(1 for r in rows if r["returned"]))], columns=4),
        Grid(COLUMNS, lines, WIDTHS, size=8, min_rows=max(0, 12 - len(lines))),
        Signatures(["登记人", "档案部门负责人（核对）"]),
    ], landscape=True, footer=archive_name)
