"""The id of the row an INSERT just made.

``sqlite3.Cursor.lastrowid`` is typed ``int | None`` (None before any insert on the cursor); after an
INSERT that succeeded it is the new row's id.  Callers that hand the id on use this, so a None is a
clear error where it arises, not a null id further on.
"""
from __future__ import annotations

import sqlite3

from dangan.errors import IntegrityError


def inserted_id(cur: sqlite3.Cursor) -> int:
    rid = cur.lastrowid
    if rid is None:
        raise IntegrityError("the catalogue did not report the id of the row just inserted")
    return rid
