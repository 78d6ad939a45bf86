"""Record labels: a Code 128 barcode of the record id with its archival code and title under it."""
from __future__ import annotations

from typing import Sequence

from dangan.model import Record

from .render import Form, Labels


def record_labels_form(records: Sequence[Record], *, archive_name: str = "") -> Form:
    return Form("档案标签", [Labels([(r.id, [r.archival_code or "（未编档号）", r.title or "",
                                             f"{r.secrecy} · {r.retention or ''} · {r.volume or ''}"])
                                     for r in records])], footer=archive_name)
