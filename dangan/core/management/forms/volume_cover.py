"""案卷封面 (volume cover): the fonds and archive names, the volume's title and its particulars."""
from __future__ import annotations

from typing import Any

from .render import Fields, Form, Heading


def volume_cover_form(volume: dict[str, Any], summary: dict[str, Any], *, archive_name: str = "",
                      fonds: str = "") -> Form:
    return Form(archive_name or "案卷", [
        Heading("案  卷", 28, "centre"),
        Heading(volume.get("title") or volume["name"], 18, "centre"),
        Fields([("全宗号", fonds), ("案卷号", volume["name"]), ("年度", volume.get("year") or ""),
                ("门类", volume.get("category") or ""), ("保管期限", volume.get("retention") or ""),
                ("密级", volume.get("secrecy") or ""), ("起止日期", summary.get("date_range") or ""),
                ("件数", summary["documents"]), ("页数", summary["pages"]),
                ("立卷单位", volume.get("department") or "")], columns=1),
    ], footer=archive_name, title_size=20)
