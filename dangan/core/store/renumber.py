"""A record whose piece number (件号) another took while its write was interrupted gets the next one of its class.

An ingest allocates its piece number in the catalogue transaction that also publishes the version; if that
transaction is rolled back after the publish (PostgreSQL restarted under it, a lost connection), the counter
goes back and another writer may take the same number before recovery adopts the published version.  Adoption
(:func:`.recovery.adopt`) then leaves the code out rather than hold it twice; :func:`renumber` gives the record
the next piece number of its class and its archival code, by the new-version protocol (a metadata-only version
whose ``metadata.json`` carries them, the number allocated in that version's transaction: nothing is numbered
twice, nothing left without a number, however a crash falls).  The ``record.renumber`` event says which code
it had and why.  A sealed record is left to a person, as before (its metadata is sealed): `dangan check`
names it.
"""
from __future__ import annotations

import logging
import sqlite3
from typing import TYPE_CHECKING

from dangan.errors import DanganError, LockTimeout
from dangan.core.catalogue import records
from dangan.core.kernel.clock import utc_text
from dangan.core.store.layout import METADATA_PATH, metadata_document, parse_metadata
from dangan.core.store.new_version import carry_over, commit_version

if TYPE_CHECKING:
    from dangan.core.archive import Archive

log = logging.getLogger("dangan.recovery")


def renumber(archive: Archive, rid: str, conflict: str) -> str | None:
    """Give record ``rid`` (adopted without its code: ``conflict`` says why) the next piece number of its class;
    returns its new archival code, or None where it cannot (sealed, no class, changed meanwhile)."""
    from dangan.core.kernel.plugin_host import Classifier
    store = archive.store
    row = archive.conn.execute("SELECT version, piece, sealed FROM records WHERE id = ?", (rid,)).fetchone()
    if row is None or row["piece"] is not None or row["sealed"]:
        return None
    rec, names, cat = parse_metadata(store.read_bytes(rid, METADATA_PATH, row["version"]), rid)
    if cat.get("sealed"):
        return None
    piece_class = cat.get("piece_class")          # the class it was numbered in (its code's prefix)
    if not piece_class:
        return None
    classifier = Classifier(archive, archive.plugins)
    had = rec.archival_code
    now = utc_text()
    message = "renumbered: its piece number was taken while its write was interrupted"
    with store.stage(rid) as draft:
        inv_files = {f.logical_path: f for f in store.files(rid, row["version"])}
        for f in rec.files:
            carry_over(draft, inv_files, f)

        def before_publish(conn: sqlite3.Connection) -> bytes:
            now_row = conn.execute("SELECT version, piece FROM records WHERE id = ?", (rid,)).fetchone()
            if now_row is None or now_row["version"] != row["version"] or now_row["piece"] is not None:
                raise LockTimeout(f"record {rid} changed while renumbering it")
            piece = records.next_piece(conn, piece_class)
            conn.execute("INSERT INTO piece_counters (class_key, last) VALUES (?, ?) ON CONFLICT(class_key)"
                         " DO UPDATE SET last = excluded.last", (piece_class, piece))
            rec.archival_code = classifier.archival_code(rec, piece)
            rec.version, rec.updated = row["version"] + 1, now
            cat.update(piece_class=piece_class, piece=piece)
            return metadata_document(rec, names, cat)

        def after_publish(conn: sqlite3.Connection) -> None:
            records.update_record(conn, rec, actor=archive.actor.name, message=message, original_names=names)
            conn.execute("UPDATE records SET piece_class = ?, piece = ? WHERE id = ?",
                         (cat["piece_class"], cat["piece"], rid))
            archive.audit(conn, "record.renumber", rid, details={
                "version": rec.version, "archival_code": rec.archival_code, "had": had, "reason": conflict})

        try:
            commit_version(archive, draft, rid, source="(renumber)", message=message, created=now,
                           before_publish=before_publish, after_publish=after_publish)
        except DanganError as exc:
            log.warning("record %s keeps no archival code for now: %s", rid, exc.message)
            return None
    return rec.archival_code
