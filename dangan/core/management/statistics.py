"""Statistics (统计): counts of the records the actor may see, grouped by catalogue fields, and loans.

Only records the actor may ``view`` are counted (the same filter as
listings), so statistics never reveal what a listing would hide.
"""
from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dangan.core.archive import Archive

DIMENSIONS = {"department": "department", "dept": "department", "year": "year", "category": "category",
              "secrecy": "secrecy", "status": "status", "retention": "retention", "volume": "volume"}


def stats(archive: Archive, by: list[str]) -> dict:
    from dangan.errors import UsageError
    from dangan.core.search.listing import list_filtered
    from dangan.core.policy.users import acting_user
    acting_user(archive, action="read statistics")
    fields = []
    for b in by:
        if b not in DIMENSIONS:
            raise UsageError(f"cannot count by {b!r}: use {', '.join(sorted(set(DIMENSIONS) - {'dept'}))}")
        fields.append(DIMENSIONS[b])
    recs = list_filtered(archive)
    counts = Counter(tuple(getattr(r, f) for f in fields) for r in recs)
    rows = [{**{f: ("" if v is None else v) for f, v in zip(fields, key)}, "records": n}
            for key, n in sorted(counts.items(), key=lambda kv: tuple(str(x) for x in kv[0]))]
    visible = {r.id for r in recs}
    loans: Counter[str] = Counter()
    for r in archive.conn.execute("SELECT l.status, i.record_id FROM loans l JOIN loan_items i ON i.loan_id = l.id"):
        if r["record_id"] in visible:
            loans[r["status"]] += 1
    return {"columns": [*fields, "records"], "rows": rows, "total": len(recs), "loans": dict(loans)}
