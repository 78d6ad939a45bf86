"""The index outbox: how a change to the catalogue tells the search index, in the change's own transaction.

A writer that changes what search finds (a new version, an adopted or restored object, a
destruction, a purge) queues one row per record here, inside the transaction that makes the
change, so the index can never miss it; ``search.indexing.drain`` applies the rows in ``seq``
order and deletes them.  ``queued`` is the catalogue's UTC text (``kernel.clock.utc_text``);
nothing orders by it.
"""
from __future__ import annotations

import sqlite3
from typing import Iterable, Literal

from dangan.core.kernel.clock import utc_text

IndexOp = Literal["upsert", "delete"]


def queue_index(conn: sqlite3.Connection, record_ids: str | Iterable[str], op: IndexOp = "upsert", *,
                queued: str | None = None) -> None:
    """Queue ``op`` on the index for one record id or several, inside the caller's transaction
    (``queued``: when, as catalogue text; default now)."""
    ids = [record_ids] if isinstance(record_ids, str) else list(record_ids)
    when = queued or utc_text()
    conn.executemany("INSERT INTO index_outbox (record_id, op, queued) VALUES (?, ?, ?)",
                     [(rid, op, when) for rid in ids])
