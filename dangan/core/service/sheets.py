"""Catalogue exports: the records, the lending register, the holds and the audit log as tables a
spreadsheet opens (``management.spreadsheets``), read as the acting user may see them and audited
(``export.table``: what, how many rows, which format — never the rows themselves).

Records come from the catalogue and are never opened: a sealed record's title is not in the catalogue,
so no export can write a confidential record's plaintext to a file.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

from dangan.core.policy.users import acting_user

if TYPE_CHECKING:
    from dangan.core.archive import Archive
    from dangan.core.catalogue.fields import RecordFields
    from dangan.model import Record

#: The record columns: (field, header).  The headers are what `dangan ingest --manifest` reads back.
RECORD_COLUMNS: tuple[tuple[str, str], ...] = (
    ("archival_code", "档号"), ("id", "档案ID"), ("title", "题名"), ("date", "日期"), ("year", "年度"),
    ("department", "机构"), ("category", "门类"), ("retention", "保管期限"), ("secrecy", "密级"),
    ("volume", "案卷"), ("pages", "页数"), ("doc_number", "文号"), ("author", "责任者"), ("tags", "标签"),
    ("status", "状态"), ("created", "归档时间"),
)

HOLD_COLUMNS = ("hold", "kind", "scope", "records", "authority", "since", "state", "reason", "released_at",
                "released_by")
AUDIT_COLUMNS = ("seq", "time", "actor", "action", "object", "outcome", "details")


def record_row(r: Record) -> list[Any]:
    m = r.metadata
    pages = str(m.get("pages", "") or m.get("x.pages", "")).strip()
    values = {"archival_code": r.archival_code, "id": r.id, "title": r.title, "date": r.date, "year": r.year,
              "department": r.department, "category": r.category, "retention": r.retention, "secrecy": r.secrecy,
              "volume": r.volume, "pages": pages, "doc_number": m.get("doc_number", ""),
              "author": m.get("author", ""), "tags": list(r.tags), "status": r.status, "created": r.created}
    return [values[k] for k, _ in RECORD_COLUMNS]


def records_table(archive: Archive, query: str = "", **filters: Any) -> tuple[list[str], list[list[Any]]]:
    """The records ``dangan ls`` lists with the same filters, one row each (catalogue fields only)."""
    from dangan.core.search.listing import list_filtered
    acting_user(archive, action="export the catalogue")
    recs = list_filtered(archive, query, **filters)
    return [h for _, h in RECORD_COLUMNS], [record_row(r) for r in recs]


def hold_rows(holds: Sequence[dict]) -> list[dict[str, Any]]:
    return [{"hold": h["id"], "kind": h["scope_kind"], "scope": h["scope"], "records": len(h["records"]),
             "authority": h["authority"], "since": h["created"][:10],
             "state": "released" if h["released_at"] else "in force", "reason": h["reason"],
             "released_at": h["released_at"] or "", "released_by": h["released_by"] or ""} for h in holds]


def audit_rows(events) -> list[dict[str, Any]]:
    import json
    return [{"seq": e.seq, "time": e.time, "actor": e.actor, "action": e.action, "object": e.object,
             "outcome": e.outcome, "details": json.dumps(e.details, ensure_ascii=False, sort_keys=True)}
            for e in events]


def export_table(archive: Archive, what: str, fmt: str, columns: Sequence[str], rows: Sequence[Any], *,
                 bom: bool = True) -> bytes:
    """``rows`` (lists, or dicts keyed by ``columns``) as a ``csv`` (with a BOM unless ``bom=False``) or
    ``xlsx`` file; audited."""
    from dangan.core.management.spreadsheets import csv_bytes, table_bytes
    values = [[r.get(c, "") for c in columns] if isinstance(r, dict) else list(r) for r in rows]
    if fmt == "csv":
        data = csv_bytes(list(columns), values, bom=bom)
    else:
        data = table_bytes(fmt, list(columns), values, sheet=what)
    with archive.transaction() as conn:
        archive.audit(conn, "export.table", what, details={"format": fmt, "rows": len(values)})
    return data


def ingest_manifest(archive: Archive, folder: Path, manifest: Path, fields: RecordFields, *,
                    create_volume: bool = False, **kw: Any) -> list:
    """Ingest the files of ``folder`` each with its row of ``manifest`` (fields under the rows: ``fields``),
    in the manifest's order, after every row is checked (``store.manifest.validate``: nothing is filed
    if one is bad).  ``kw``: as ``service.records.ingest`` takes them."""
    from dangan.core.store.batch import ingest_batch
    from dangan.core.store.manifest import validate
    acting_user(archive, action="ingest")
    rows = {r.path.resolve(): r.fields for r in validate(archive, Path(folder), Path(manifest), fields,
                                                          create_volume=create_volume, skip=(Path(manifest),))}
    return ingest_batch(archive, list(rows), fields, create_volume=create_volume,
                        fields_for=lambda p: rows[Path(p).resolve()], **kw)


__all__ = ["ingest_manifest", "RECORD_COLUMNS", "records_table", "hold_rows", "audit_rows",
           "export_table"]
