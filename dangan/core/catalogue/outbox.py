"""The index outbox, which is the change log: how a change to the catalogue tells every search index.

A writer that changes what search finds (a new version -- a revision, a metadata edit, a move, a seal or
unseal --, an adopted or restored object, a destruction, a purge) appends one row per record here, inside
the transaction that makes the change, so no index can miss it.  ``seq`` increases monotonically and the
rows commit in ``seq`` order: every append runs in a write transaction (SQLite's write lock, PostgreSQL's
advisory write lock), and those are serialised, so a row with a smaller ``seq`` is always visible before one
with a larger (``AUTOINCREMENT`` / an identity column: a number is never handed out twice, even after a
prune).  ``queued`` is the catalogue's UTC text (``kernel.clock.utc_text``); nothing orders by it.

Each **search node** -- an archive folder with an index of its own, named by ``index/node.json`` -- has a
row in ``search_nodes``: the last change it applied (its cursor).  ``search.nodes`` applies the rows after
the cursor and then advances it; rows are never changed, only pruned once every known node has applied
them (and they are older than ``[index] change_log_keep_hours``).  A node not seen for
``[index] node_forget_days`` no longer holds the log back; ``change_log_pruned`` keeps the highest change
ever pruned, so such a node, when it returns, knows it missed changes and rebuilds its index.
"""
from __future__ import annotations

import datetime as dt
import sqlite3
from typing import Iterable, Literal

from dangan.core.kernel.clock import utc_now, utc_text

IndexOp = Literal["upsert", "delete"]


def queue_index(conn: sqlite3.Connection, record_ids: str | Iterable[str], op: IndexOp = "upsert", *,
                queued: str | None = None) -> None:
    """Append ``op`` on the index for one record id or several to the change log, inside the caller's write
    transaction (``queued``: when, as catalogue text; default now)."""
    from dangan.core.catalogue import db
    if isinstance(conn, db.PgConnection) and not conn.in_transaction:
        # outside the write lock, ids could commit out of order and a node's cursor step over one
        raise RuntimeError("queue_index outside a write transaction")
    ids = [record_ids] if isinstance(record_ids, str) else list(record_ids)
    when = queued or utc_text()
    conn.executemany("INSERT INTO index_outbox (record_id, op, queued) VALUES (?, ?, ?)",
                     [(rid, op, when) for rid in ids])


# -- the log ------------------------------------------------------------------------------------------------

def last_change(conn: sqlite3.Connection) -> int:
    """The newest change's id (0 when the log is empty and nothing was ever pruned)."""
    row = conn.execute("SELECT (SELECT max(seq) FROM index_outbox),"
                       " (SELECT pruned_through FROM change_log_pruned WHERE id = 1)").fetchone()
    return max(row[0] or 0, row[1] or 0)


def pruned_through(conn: sqlite3.Connection) -> int:
    """The highest change id ever pruned from the log (a cursor below it has missed changes)."""
    row = conn.execute("SELECT pruned_through FROM change_log_pruned WHERE id = 1").fetchone()
    return row[0] if row else 0


def changes_after(conn: sqlite3.Connection, applied: int, limit: int) -> list:
    """The next ``limit`` changes after ``applied``, oldest first (rows with ``seq``, ``record_id``, ``op``)."""
    return conn.execute("SELECT seq, record_id, op FROM index_outbox WHERE seq > ? ORDER BY seq LIMIT ?",
                        (applied, limit)).fetchall()


def forget_all(conn: sqlite3.Connection) -> int:
    """Prune the whole log (the catalogue was rebuilt from the store: every node's index is out of date);
    inside the caller's write transaction.  Returns the change id pruned through."""
    from dangan.core.catalogue.rowid import inserted_id
    # a change of its own, so the horizon passes every cursor, even that of a node which had applied everything
    top = inserted_id(conn.execute("INSERT INTO index_outbox (record_id, op, queued) VALUES ('', 'delete', ?)",
                                   (utc_text(),)))
    conn.execute("DELETE FROM index_outbox")
    _raise_pruned(conn, top)
    return pruned_through(conn)


def _raise_pruned(conn: sqlite3.Connection, seq: int) -> None:
    conn.execute("UPDATE change_log_pruned SET pruned_through = ? WHERE id = 1 AND pruned_through < ?", (seq, seq))


# -- nodes and their cursors ----------------------------------------------------------------------------------

def cursor(conn: sqlite3.Connection, node_id: str) -> int | None:
    """The last change ``node_id`` applied, or None for a node the catalogue does not know."""
    row = conn.execute("SELECT applied FROM search_nodes WHERE node_id = ?", (node_id,)).fetchone()
    return None if row is None else row[0]


def backlog(conn: sqlite3.Connection, node_id: str) -> tuple[int, int | None]:
    """(newest change id, or the prune horizon if higher; the node's cursor or None) in one round trip: the check
    before every search."""
    row = conn.execute("SELECT (SELECT max(seq) FROM index_outbox),"
                       " (SELECT pruned_through FROM change_log_pruned WHERE id = 1),"
                       " (SELECT applied FROM search_nodes WHERE node_id = ?)", (node_id,)).fetchone()
    return max(row[0] or 0, row[1] or 0), row[2]      # a log pruned past the cursor is work too: a rebuild


def register(conn: sqlite3.Connection, node_id: str, applied: int, *, host: str, folder: str) -> None:
    """Record ``node_id`` with cursor ``applied`` (a node already known is set to it); in a write transaction."""
    now = utc_text()
    conn.execute("DELETE FROM search_nodes WHERE node_id = ?", (node_id,))
    conn.execute("INSERT INTO search_nodes (node_id, applied, host, folder, registered, seen) VALUES (?, ?, ?, ?, ?, ?)",
                 (node_id, applied, host, folder, now, now))


def advance(conn: sqlite3.Connection, node_id: str, applied: int) -> None:
    """Move ``node_id``'s cursor forward to ``applied`` (never back); in the caller's write transaction."""
    conn.execute("UPDATE search_nodes SET applied = CASE WHEN applied < ? THEN ? ELSE applied END, seen = ?"
                 " WHERE node_id = ?", (applied, applied, utc_text(), node_id))


def nodes(conn: sqlite3.Connection) -> list[dict]:
    """Every known node: id, cursor, host, folder, registered, seen."""
    return [dict(r) for r in conn.execute(
        "SELECT node_id, applied, host, folder, registered, seen FROM search_nodes ORDER BY registered, node_id")]


def prune(conn: sqlite3.Connection, *, keep_hours: float = 0, forget_days: float = 30) -> int:
    """Delete the changes every node seen within ``forget_days`` has applied and that are older than
    ``keep_hours``; in the caller's write transaction.  Returns how many rows went."""
    now = utc_now()
    seen_since = utc_text(now - dt.timedelta(days=forget_days))
    low = conn.execute("SELECT min(applied) FROM search_nodes WHERE seen >= ?", (seen_since,)).fetchone()[0]
    if low is None:
        return 0
    if keep_hours > 0:
        older = utc_text(now - dt.timedelta(hours=keep_hours))
        top = conn.execute("SELECT max(seq) FROM index_outbox WHERE seq <= ? AND queued < ?", (low, older)).fetchone()[0]
    else:
        top = low
    if not top:
        return 0
    gone = conn.execute("DELETE FROM index_outbox WHERE seq <= ?", (top,)).rowcount
    if gone:
        _raise_pruned(conn, top)
    return gone
