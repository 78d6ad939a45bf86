"""Any report's table as a form: a plugin report (``ReportResult``) or core's statistics."""
from __future__ import annotations

from typing import Any, Sequence

from .render import Form, Grid, Heading


def report_table_form(title: str, columns: Sequence[str], rows: Sequence[dict[str, Any]],
                      notes: Sequence[str] = (), *, archive_name: str = "") -> Form:
    blocks: list = [Grid(list(columns), [[r.get(c, "") for c in columns] for r in rows])]
    blocks += [Heading(n, 9) for n in notes]
    return Form(title, blocks, landscape=len(columns) > 5, footer=archive_name)
