"""A destroyed or transferred record stays dead: every change is refused, and reading says what happened.

``assert_alive`` is the guard at the top of every mutating path (revise,
deferred extraction, holds, loans, grants, retention extensions, volume
filing); ``assert_alive_in`` repeats it inside the writer's own transaction,
where a destruction that began meanwhile (its intent, see
``destruction_intent``) is visible.  ``what_happened`` reads the tombstone's
certificate from the store: "record … was destroyed on DATE by list L,
certificate C".  All raise ``RecordGone`` (a ``NotFound``, exit 4).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from dangan.errors import DanganError, RecordGone
from dangan.model import Record

if TYPE_CHECKING:
    from dangan.core.archive import Archive

GONE = ("destroyed", "transferred")


def what_happened(archive: Archive, rec: Record) -> str:
    """One line: when, by which list and under which certificate the record went."""
    from dangan.core.store.layout import METADATA_PATH, parse_metadata
    verb = rec.status
    try:
        _r, _n, cat = parse_metadata(archive.store.read_bytes(rec.id, METADATA_PATH), rec.id)
    except DanganError:
        cat = {}
    cert = cat.get("destruction") or cat.get("transfer") or {}
    when = (cert.get(f"{verb}_at") or rec.updated or "")[:10]
    lst = (cert.get("approval") or {}).get("list")
    text = f"record {rec.id} was {verb}" + (f" on {when}" if when else "") + (f" by list {lst}" if lst else "")
    if cert.get("certificate_sha256"):
        text += f", certificate {cert['certificate_sha256'][:16]}"
    if verb == "transferred" and (cert.get("transfer") or {}).get("bag"):
        text += f" (bag {cert['transfer']['bag']})"
    return text


def assert_alive(archive: Archive, rec: Record, doing: str) -> None:
    """Refuse to change a destroyed or transferred record, or one whose destruction has begun."""
    if rec.status in GONE:
        raise RecordGone(f"{what_happened(archive, rec)}: it cannot be {doing}")
    assert_alive_in(archive.conn, rec.id, doing)


def assert_alive_in(conn, rid: str, doing: str) -> None:
    """The same inside a writer's transaction (the catalogue as it is now)."""
    row = conn.execute("SELECT status FROM records WHERE id = ?", (rid,)).fetchone()
    if row is not None and row["status"] in GONE:
        raise RecordGone(f"record {rid} was {row['status']}: it cannot be {doing}")
    if conn.execute("SELECT 1 FROM destruction_intents WHERE record_id = ?", (rid,)).fetchone():
        raise RecordGone(f"record {rid} is being destroyed: it cannot be {doing}")
