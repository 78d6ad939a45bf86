"""The 归档章 (archival stamp) of DA/T 22-2015 §7: two rows of three cells, 15 mm × 7 mm each —
全宗号 · 年度 · 件号 over 机构（问题） · 保管期限 · 页数 — one stamp per record, to print on labels."""
from __future__ import annotations

from typing import Sequence

from dangan.model import Record

from .render import Form, Grid, Stamps

CELLS = ("全宗号", "年度", "件号", "机构（问题）", "保管期限", "页数")


def item_number(rec: Record) -> str:
    """The item number (件号): the last part of the archival code, else the ``item`` field."""
    if rec.metadata.get("item"):
        return str(rec.metadata["item"])
    return (rec.archival_code or "").rsplit("-", 1)[-1] if rec.archival_code else ""


def stamp_values(rec: Record, pages: str = "") -> list[str]:
    return [rec.fonds, str(rec.year or ""), item_number(rec), rec.department or "", rec.retention or "", pages]


def archival_stamp_form(records: Sequence[Record], pages: Sequence[str], *, archive_name: str = "") -> Form:
    values = [stamp_values(r, p) for r, p in zip(records, pages)]
    return Form("归档章", [
        Grid(["档案", *CELLS], [[r.id, *v] for r, v in zip(records, values)], [2, 1, 1, 1, 1.5, 1, 0.8], size=8),
        Stamps(values),
    ], footer=archive_name)
