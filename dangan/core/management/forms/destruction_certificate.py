"""销毁证明 (destruction certificate): what was destroyed, by whom, and lines for the witnesses (监销人)."""
from __future__ import annotations

from typing import Any

from .render import Fields, Form, Grid, Heading, Signatures

COLUMNS = ["序号", "档号", "档案", "题名", "密级", "结果", "证明摘要 (sha256)"]
WIDTHS = [0.6, 2.4, 1.8, 3.6, 0.8, 1, 3]
#: Lines for two witnesses: a destruction is witnessed (监销) by at least two people.
WITNESSES = 2


def destruction_certificate_form(cert: dict[str, Any], *, archive_name: str = "") -> Form:
    rows = [[n, i.get("archival_code") or "", i["record_id"], i.get("title") or "", i.get("secrecy") or "",
             i.get("outcome") or "", (i.get("certificate_sha256") or "")[:16]]
            for n, i in enumerate(cert["items"], 1)]
    return Form("档案销毁证明", [
        Fields([("清册编号", cert["list"]), ("全宗号", cert.get("fonds") or ""),
                ("提出人", cert.get("proposed_by") or ""), ("批准人", cert.get("approved_by") or ""),
                ("批准时间", (cert.get("approved_at") or "")[:16]), ("执行人", cert.get("executed_by") or ""),
                ("执行时间", (cert.get("executed_at") or "")[:16]),
                ("结果", f"销毁 {cert.get('destroyed', 0)} 件，移交 {cert.get('transferred', 0)} 件，"
                         f"未处置 {cert.get('not_destroyed', 0)} 件")]),
        Grid(COLUMNS, rows, WIDTHS),
        Heading(f"证明摘要 sha256：{cert.get('certificate_sha256') or ''}", 8),
        Signatures(["批准人", "销毁人"] + [f"监销人 {n}" for n in range(1, WITNESSES + 1)]),
    ], landscape=True, footer=archive_name)
