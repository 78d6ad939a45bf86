"""Whether an interrupted destruction waits to be completed: the cheap look every command takes first.

Kept apart from ``destruction_intent`` (the protocol, with its locks, logging and store layout) so
that a command with nothing pending — nearly every one — loads none of that: two one-row queries
and a look at the store's ``doomed`` folder.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dangan.core.archive import Archive


def destruction_pending(archive: Archive) -> bool:
    """True if an intent row, a list still executing, or an object set aside for destruction exists."""
    conn = archive.conn
    if conn.execute("SELECT 1 FROM destruction_intents LIMIT 1").fetchone() is not None:
        return True
    if conn.execute("SELECT 1 FROM disposal_lists WHERE status = 'executing' LIMIT 1").fetchone() is not None:
        return True
    doomed = archive.work / "doomed"             # the store's ``doomed`` folder, without opening the store
    return doomed.is_dir() and any(doomed.iterdir())
