"""Listing records from the catalogue with filters (no store access)."""
from __future__ import annotations

from typing import TYPE_CHECKING

from dangan.model import Record, normalise_secrecy
from dangan.core.catalogue import records
from dangan.core.catalogue.db import dialect

if TYPE_CHECKING:
    from dangan.core.archive import Archive


def list_filtered(archive: Archive, query: str = "", *, department=None, category=None, year=None, secrecy=None,
                  volume=None, puid: str | None = None, sort: str = "created",
                  limit: int | None = None) -> list[Record]:
    where, params = [], []
    if puid:
        from dangan.index.query import Filter, filters_to_sql
        sql, p = filters_to_sql([Filter("puid", "=", puid.strip())], dialect=dialect(archive.conn))
        where.append(sql)
        params.extend(p)
    for col, val in (("department", department), ("category", category), ("year", year), ("volume", volume)):
        if val is not None:
            where.append(f"{col} = ?")
            params.append(val)
    if secrecy is not None:
        where.append("secrecy = ?")
        params.append(normalise_secrecy(secrecy))
    if query.strip():
        from dangan.index.query import filters_to_sql, parse_query
        q = parse_query(query)
        from dangan.errors import UsageError
        if q.terms is not None:
            raise UsageError("`dangan ls` takes field filters only (dept:, year:, ...); use `dangan search` for words")
        sql, p = filters_to_sql(q.filters, folded=True, dialect=dialect(archive.conn))
        if sql:
            where.append(sql)
            params.extend(p)
    from dangan.core.policy.access import visibility
    visible = visibility(archive)
    if visible is None:
        return records.list_records(archive.conn, " AND ".join(where), params, sort=sort, limit=limit)
    out = [r for r in records.list_records(archive.conn, " AND ".join(where), params, sort=sort) if visible(r)]
    return out[:limit] if limit is not None else out
