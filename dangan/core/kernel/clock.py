"""The time: one source of "now" for core, and the text form the catalogue stores.

Every time core writes to the catalogue (records, versions, intents, the index outbox, loans,
holds, users, volumes…) is UTC, to the second, with a ``Z``: ``2026-12-03T13:45:00Z``
(:data:`CATALOGUE_FORMAT`).  These texts sort as the times they name, which is what the
catalogue's ``ORDER BY`` and ``<`` comparisons rely on.  The one exception is the audit trail: an
event's time has always been kept to the microsecond (``timespec="microseconds"``), and the
event's hash covers that text, so its form must not change.
"""
from __future__ import annotations

import datetime as dt
from typing import Literal

#: The catalogue's time text (what :func:`utc_text` gives by default), as a ``strftime`` pattern.
CATALOGUE_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def utc_now() -> dt.datetime:
    """Now, as an aware UTC datetime."""
    return dt.datetime.now(dt.timezone.utc)


def utc_text(when: dt.datetime | None = None, *,
             timespec: Literal["seconds", "microseconds"] = "seconds") -> str:
    """``when`` (default: now) as the catalogue's UTC text, ``2026-12-03T13:45:00Z``; the audit trail
    asks for ``timespec="microseconds"`` (``2026-12-03T13:45:00.123456Z``)."""
    if when is None:
        when = utc_now()
    elif when.tzinfo is None:
        when = when.replace(tzinfo=dt.timezone.utc)       # a naive time is taken as UTC
    return when.astimezone(dt.timezone.utc).isoformat(timespec=timespec).replace("+00:00", "Z")
