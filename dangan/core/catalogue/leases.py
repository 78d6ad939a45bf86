"""Whose write is still alive, across machines: an intent's lease is a session advisory lock on PostgreSQL.

On SQLite (one machine) an intent row names its writer's pid and host, and recovery settles the intents of
dead pids on this host.  A catalogue on PostgreSQL is shared by machines that cannot see each other's pids,
so there the writer also holds a *session* advisory lock named after the object for as long as its intent
row exists (:func:`hold`, taken in the transaction that writes the row; :func:`release` when the row is
gone).  The server releases the lock when the writer's session ends — kill -9, a crashed machine, a lost
network (TCP keepalive) — so any machine's recovery asks :func:`holder_gone`: if it can take the lock, the
writer is gone and the intent is its to settle, under that lock, exactly once.
"""
from __future__ import annotations

from typing import Any

from dangan.core.catalogue import db

#: the first key of the two-key advisory locks of intents ("intn"); the second is hashtext(object id)
INTENT_CLASS = 0x696E746E


def applies(conn: Any) -> bool:
    return db.dialect(conn) == "postgresql"


def hold(conn: Any, object_id: str) -> None:
    """The writer's lease on ``object_id`` (PostgreSQL; re-entrant within the session)."""
    conn.execute_raw("SELECT pg_advisory_lock(%s, hashtext(%s))", (INTENT_CLASS, object_id))


def release(conn: Any, object_id: str) -> None:
    """Give up every hold of this session on ``object_id``."""
    while conn.execute_raw("SELECT pg_advisory_unlock(%s, hashtext(%s))", (INTENT_CLASS, object_id)).fetchone()[0]:
        pass


def holder_gone(conn: Any, object_id: str) -> bool:
    """True (and the lease is now this session's: :func:`release` it after settling) if no live session holds
    ``object_id``'s lease."""
    return bool(conn.execute_raw("SELECT pg_try_advisory_lock(%s, hashtext(%s))",
                                 (INTENT_CLASS, object_id)).fetchone()[0])
