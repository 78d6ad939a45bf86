"""Folded columns: the record fields the search filters compare, stored normalised as the index folds them.

``dept:辦公室`` must find a record filed under 办公室 (NFKC, case, Traditional → Simplified: the index's
``text_v1.normalise``).  That fold is Python; rather than call Python from SQL (SQLite's ``create_function``,
which PostgreSQL cannot do), each record row carries its fields folded, written with the row
(:func:`values`, called by :mod:`.records`), and ``filters_to_sql(..., folded=True)`` compares those columns.
Archives made before the columns existed are filled by a migration (:func:`fill`).
"""
from __future__ import annotations

import json
from typing import Any

#: the records column → its folded column (``archival_code`` is ``code`` in queries)
COLUMNS = ("title", "department", "category", "year", "date", "retention", "secrecy", "volume", "archival_code",
           "status")
FOLDED = tuple(f"{c}_fold" for c in COLUMNS) + ("tags_fold", "metadata_fold")



def _json_text(value: Any) -> str | None:
    """The text SQLite's ``json_extract`` gives for a JSON value (numbers as numbers, arrays minified)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, (int, float, str)):
        return str(value)
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def values(fields: dict[str, Any], tags: list[str], metadata: dict[str, Any]) -> tuple:
    """The folded columns of a row, in :data:`FOLDED` order."""
    from dangan.index.text_v1 import fold           # here, not at import: start-up does not load the analysis
    out: list[Any] = [fold(fields.get(c)) for c in COLUMNS]
    out.append(json.dumps([fold(t) for t in tags], ensure_ascii=False))
    out.append(json.dumps({k: fold(_json_text(v)) for k, v in metadata.items()}, ensure_ascii=False,
                          sort_keys=True))
    return tuple(out)


def fill(conn: Any) -> None:
    """Migration: fold every record row (archives made before the columns existed)."""
    rows = conn.execute(f"SELECT id, tags, metadata, {', '.join(COLUMNS)} FROM records").fetchall()
    sets = ", ".join(f"{c} = ?" for c in FOLDED)
    for r in rows:
        fields = {c: r[c] for c in COLUMNS}
        conn.execute(f"UPDATE records SET {sets} WHERE id = ?",
                     (*values(fields, json.loads(r["tags"]), json.loads(r["metadata"])), r["id"]))
