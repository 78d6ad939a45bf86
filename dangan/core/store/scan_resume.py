"""A batch scan's split survives a crash: the parts a dead process did not make are made once, later.

:func:`scan_batch.ingest_scan` commits a ``scan_splits`` row (a token, the parts' fields, who is
splitting: pid and host) *before* it archives the batch record, which carries the token as
``scan.split``; it deletes the row once every part has been tried.  Should the process die in
between (kill -9, power cut), the row stays.  :func:`resume_splits`, run by
``recovery.recover_interrupted`` after the interrupted writes are settled (so a part that was
published but not committed is adopted first), takes each row of a dead process on this host:

* no batch record carries the token: the batch was never archived (its file is still where it was);
  the row is forgotten;
* else the batch's stored file is split again at its separator sheets, and each part whose number
  (``scan.part``) no record of that batch holds yet is archived; then the row goes.

So every page of the scan ends in exactly one part record (or, for a refused part, in the batch record
only), however often recovery runs.  Two recovering processes cannot both resume a row: each claims it
by replacing the dead pid with its own, and only one update matches.  A batch that may be sealed
leaves neither its file name nor its fields in the row (the catalogue keeps those sealed): recovery
takes the parts' fields from the batch record (:func:`fields_of_batch`).  The batch file is read from the
store into the memory-backed folder (``kernel.memory_tmp.memory_dir``); a sealed batch record is not split
again (its plaintext would need the volume's key): its pages stay in the batch record, and an
audit event says so.  Recovery runs in ``dangan ingest``, the watcher and ``dangan check``.
"""
from __future__ import annotations

import dataclasses
import json
import logging
import os
import socket
import sqlite3
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

from dangan.errors import DanganError
from dangan.core.catalogue.fields import RecordFields
from dangan.core.kernel.clock import utc_text
from dangan.repository.fsutil import pid_alive

if TYPE_CHECKING:
    from dangan.core.archive import Archive

log = logging.getLogger("dangan.ingest")
TOKEN_KEY = "scan.split"


def begin(archive: Archive, source_name: str, fields: RecordFields, *, sealed: bool = False) -> str:
    """Commit the split's row before its batch record is archived; returns the token the batch carries.

    A batch that may be sealed leaves neither its file name nor its fields in the row (they are confidential:
    the catalogue keeps them sealed); recovery takes them from the batch record itself."""
    token = uuid.uuid4().hex
    shown = "batch" + Path(source_name).suffix if sealed else source_name
    kept = "null" if sealed else json.dumps(dataclasses.asdict(fields), ensure_ascii=False)
    with archive.transaction() as conn:
        conn.execute("INSERT INTO scan_splits (token, batch_id, source_name, fields, pid, host, started)"
                     " VALUES (?, NULL, ?, ?, ?, ?, ?)",
                     (token, shown, kept, os.getpid(), socket.gethostname(), utc_text()))
    return token


def fields_of_batch(batch) -> RecordFields:
    """The fields the batch was given (for its parts): the batch record's, less what marks it as a batch."""
    from dangan.core.store.scan_batch import BATCH_TAG
    return RecordFields(title=batch.title, department=batch.department, category=batch.category, year=batch.year,
                        date=batch.date, retention=batch.retention, secrecy=batch.secrecy, volume=batch.volume,
                        tags=[t for t in batch.tags if t != BATCH_TAG],
                        metadata={k: v for k, v in batch.metadata.items()
                                  if not k.startswith("scan.") and not k.startswith("x.")})


def batch_archived(archive: Archive, token: str, batch_id: str) -> None:
    with archive.transaction() as conn:
        conn.execute("UPDATE scan_splits SET batch_id = ? WHERE token = ?", (batch_id, token))


def finish(archive: Archive, token: str) -> None:
    """Every part has been tried (archived or refused): the split needs no recovery."""
    with archive.transaction() as conn:
        conn.execute("DELETE FROM scan_splits WHERE token = ?", (token,))


def batch_failed(archive: Archive, token: str) -> None:
    """The batch's ingest raised.  Had it been published and adopted all the same (a commit that failed after
    publishing), the row is handed to the next recovery (pid 0: no live process); else it is forgotten."""
    try:
        row = archive.conn.execute("SELECT token, batch_id FROM scan_splits WHERE token = ?", (token,)).fetchone()
        if row is not None and _batch_of(archive, row) is not None:
            with archive.transaction() as conn:
                conn.execute("UPDATE scan_splits SET pid = 0 WHERE token = ?", (token,))
        else:
            finish(archive, token)
    except (DanganError, sqlite3.Error):
        pass                          # the row stays; recovery settles it once this process is gone


def pending(archive: Archive) -> bool:
    return archive.conn.execute("SELECT 1 FROM scan_splits LIMIT 1").fetchone() is not None


def parts_made(archive: Archive, batch_id: str) -> set[int]:
    """The part numbers (``scan.part`` ``n/total``) that records of batch ``batch_id`` hold."""
    rows = archive.conn.execute(
        "SELECT json_extract(metadata, '$.\"scan.part\"') AS part FROM records"
        " WHERE json_extract(metadata, '$.\"scan.batch\"') = ?", (batch_id,)).fetchall()
    return {int(str(r["part"]).partition("/")[0]) for r in rows if r["part"]}


def resume_splits(archive: Archive) -> int:
    """Make the missing parts of the splits dead processes on this host left; returns how many were made."""
    if not pending(archive):
        return 0
    host = socket.gethostname()
    made = 0
    rows = archive.conn.execute("SELECT * FROM scan_splits ORDER BY started").fetchall()
    for row in rows:
        if row["host"] != host or pid_alive(row["pid"]):
            continue
        with archive.transaction() as conn:          # claim it: one recovering process only
            claimed = conn.execute("UPDATE scan_splits SET pid = ? WHERE token = ? AND pid = ?",
                                   (os.getpid(), row["token"], row["pid"])).rowcount
        if claimed:
            made += _resume(archive, row)
    return made


def _batch_of(archive: Archive, row) -> str | None:
    if row["batch_id"]:
        return row["batch_id"]
    found = archive.conn.execute("SELECT id FROM records WHERE json_extract(metadata, '$.\"scan.split\"') = ?",
                                 (row["token"],)).fetchone()
    return found["id"] if found else None


def _resume(archive: Archive, row) -> int:
    from dangan.core.confidential.sealing import sealed_of
    from dangan.core.kernel import memory_tmp
    from dangan.core.store.scan_batch import cut_parts, memory_dir
    from dangan.core.store.separators import Settings, find_parts
    token = row["token"]
    batch_id = _batch_of(archive, row)
    if batch_id is None:                             # died before the batch was archived: nothing to finish
        finish(archive, token)
        return 0
    if sealed_of(archive, batch_id):
        archive.record_event("scan.split.resume", batch_id, "failure", details={
            "problem": "a sealed batch scan is not split again by recovery: the pages of parts a crash left"
                   " unmade are in this record only (cut them with `dangan revise` or ingest them again)"})
        finish(archive, token)
        return 0
    batch = archive.record(batch_id)
    kept = json.loads(row["fields"])
    fields = RecordFields(**kept) if kept is not None else fields_of_batch(batch)
    main = next(f for f in batch.files if f.role == "main")
    have = parts_made(archive, batch_id)
    where = memory_dir()
    made = 0
    with memory_tmp.folder("resume", where) as tmp:
        copy = Path(tmp) / ("batch" + (Path(row["source_name"]).suffix or ".bin"))
        copy.write_bytes(archive.store.read_bytes(batch_id, main.path))
        split = find_parts(copy, main.mime, Settings.of(archive.config))
        if split is None:
            finish(archive, token)
            return 0
        from dangan.core.kernel.pipeline import pipeline_for
        from dangan.core.store.ingest import Ingestor
        ingestor = Ingestor(archive, **pipeline_for(archive))
        results = cut_parts(ingestor, copy, main.mime, split, fields, batch, row["source_name"], Path(tmp),
                            skip=have)
    for pr in results:
        if pr.record is not None:
            made += 1
        elif pr.error is not None:
            log.warning("batch %s: %s", batch_id, pr.error.message)
    archive.record_event("scan.split.resume", batch_id, "success", details={
        "parts_made": [pr.number for pr in results if pr.record is not None],
        "parts_refused": [pr.number for pr in results if pr.error is not None],
        "parts_already_there": sorted(have)})
    finish(archive, token)
    return made

