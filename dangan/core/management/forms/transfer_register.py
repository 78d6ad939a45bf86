"""移交清单 (hand-over register of a transfer package): what is handed over, and lines for both sides.

Per DA/T 93 practice a transfer is counted and signed by the handing-over side (移交单位, 移交人) and the
receiving side (接收单位, 接收人), each with the date; the register names the bag's fixity (the sha512
of its manifest and its Payload-Oxum) so both sides sign for exactly these bytes.
"""
from __future__ import annotations

from typing import Any, Sequence

from .render import Fields, Form, Grid, Heading, Signatures

COLUMNS = ["序号", "档号", "题名", "日期", "保管期限", "密级", "文件数", "字节数"]
WIDTHS = [0.6, 3.0, 4.2, 1.2, 0.9, 0.8, 0.7, 1.1]
SIGNERS = ["移交单位负责人", "移交人", "接收单位负责人", "接收人"]


def transfer_register_form(info: dict[str, Any], rows: Sequence[dict[str, Any]], *, archive_name: str = "") -> Form:
    """``info``: fonds, from, to, date, records, files, bytes, payload_oxum, manifest_sha512; ``rows``: dicts
    with the :data:`COLUMNS` keys, in archival-code order."""
    return Form("档案移交清单", [
        Fields([("移交单位", info.get("from") or ""), ("接收单位", info.get("to") or ""),
                ("全宗号", info.get("fonds") or ""), ("移交日期", info.get("date") or ""),
                ("件数", info.get("records", 0)), ("文件数", info.get("files", 0)),
                ("包内总字节数", info.get("bytes", 0)), ("Payload-Oxum", info.get("payload_oxum") or "")]),
        Grid(COLUMNS, [[r.get(c, "") for c in COLUMNS] for r in rows], WIDTHS),
        Heading(f"清单摘要 manifest-sha512：{info.get('manifest_sha512') or ''}", 7),
        *([Heading(f"移交单位签名密钥指纹（Ed25519）：{info['signing_key']}", 8)] if info.get("signing_key") else []),
        Heading(f"以上档案共 {info.get('records', 0)} 件，经双方清点无误。", 10),
        Heading("移交单位（盖章）：" + "　" * 16 + "接收单位（盖章）：", 10),
        Signatures(SIGNERS),
    ], landscape=True, footer=archive_name)
