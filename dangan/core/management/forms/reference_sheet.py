"""卷内备考表 (volume reference sheet): counts, pages, notes, and the filer's and checker's signatures."""
from __future__ import annotations

from typing import Any

from .render import Fields, Form, Heading, Signatures


def reference_sheet_form(volume: dict[str, Any], summary: dict[str, Any], *, archive_name: str = "") -> Form:
    """``summary``: ``documents``, ``pages``, ``notes``, ``filer``, ``checker``, ``as_of``."""
    return Form("卷内备考表", [
        Fields([("案卷", volume["name"]), ("案卷题名", volume.get("title") or "")], columns=1),
        Heading("本卷情况说明", 11),
        Fields([("文件数", f"{summary['documents']} 件"), ("页数", f"{summary['pages']} 页"),
                ("说明", summary.get("notes") or "")], columns=1),
        Fields([("立卷人", summary.get("filer") or ""), ("检查人", summary.get("checker") or ""),
                ("立卷时间", summary.get("as_of") or "")], columns=1),
        Signatures(["立卷人", "检查人"]),
    ], footer=archive_name)
