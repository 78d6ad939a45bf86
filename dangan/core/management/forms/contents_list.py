"""卷内文件目录 (volume contents list): one row per record in the volume's order, item numbers 1..n."""
from __future__ import annotations

from typing import Any, Sequence

from .render import Fields, Form, Grid

COLUMNS = ["序号", "档号", "文号", "责任者", "题名", "日期", "页数", "备注"]
WIDTHS = [0.6, 3.2, 1.6, 1.4, 4.0, 1.2, 0.7, 1.0]


def contents_list_form(volume: dict[str, Any], rows: Sequence[dict[str, Any]], *, archive_name: str = "") -> Form:
    """``rows``: dicts with the :data:`COLUMNS` keys, already in the volume's order."""
    return Form("卷内文件目录", [
        Fields([("案卷", volume["name"]), ("案卷题名", volume.get("title") or "")], columns=2),
        Grid(COLUMNS, [[r.get(c, "") for c in COLUMNS] for r in rows], WIDTHS, min_rows=10),
    ], landscape=True, footer=archive_name)
