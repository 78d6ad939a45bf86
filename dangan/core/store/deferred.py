"""Background extraction: archive first, extract and index afterwards.

The drop-folder watcher archives plain records without extraction (pickup
never waits for OCR) and queues their ids in ``extraction_queue``.  The
``DeferredExtractor`` worker thread takes queued records, runs the archive's
extractor on the stored main file and adds a new version that carries the
text derivative (``add_derivative_text``), then drains the index outbox so
the text is searchable.

Sealed records (confidential volumes) are never queued: their stored bytes
are ciphertext and their plaintext must never touch disk, so they are
extracted at archive time from the source file (``watch_ingest`` chooses the
extracting pipeline for them).

Crash safety: a derivative version is written by the new-version protocol
(``new_version.commit_version``, as ingest and revision are: intent row, then
publish + catalogue rows + audit event + index-outbox row + queue row removal
in one transaction); ``recover_interrupted`` settles an interrupted one.  A queue row is removed only in the transaction that records the
extraction, so a kill repeats the work but never loses it; a record whose
head version already carries an extraction result is simply dequeued.
"""
from __future__ import annotations

import sqlite3
import logging
import threading
import time
from dataclasses import replace
from typing import TYPE_CHECKING

from dangan.errors import DanganError, IntegrityError, LockTimeout, StorageFull, StoreUnavailable
from dangan.model import Record
from dangan.core.catalogue import records
from dangan.core.kernel.clock import utc_text
from dangan.core.store.layout import (metadata_document, recorded_extraction, stored_original_names, text_path,
                                      thumbnail_path)
from dangan.core.store import pronom
from dangan.core.store.derivative_formats import describe
from dangan.core.store.new_version import carry_over, commit_version

if TYPE_CHECKING:
    from dangan.core.archive import Archive

log = logging.getLogger("dangan.watch")

MAX_ATTEMPTS = 3
#: Background work yields to pickup (``busy()``) at most this long at a time, then takes one batch.
MAX_YIELD_SECONDS = 10.0
INTENT_SOURCE = "(deferred extraction)"


# -- the queue ------------------------------------------------------------------
def enqueue(conn, record_id: str) -> None:
    """Queue a record for background extraction (inside the caller's transaction; idempotent)."""
    conn.execute("INSERT OR IGNORE INTO extraction_queue (record_id, queued) VALUES (?, ?)", (record_id, utc_text()))


def requeue(conn, record_id: str) -> None:
    """Queue a record whose main file is new (a revision): a job given up on an earlier file starts afresh;
    a worker's claim on it is left as it is (its result for the old head is refused when it commits)."""
    conn.execute("INSERT INTO extraction_queue (record_id, queued) VALUES (?, ?) ON CONFLICT (record_id)"
                 " DO UPDATE SET attempts = 0, last_error = NULL", (record_id, utc_text()))


def queue_adopted(archive: Archive, conn, record_id: str) -> bool:
    """Recovery adopted a version a writer died before committing (:mod:`.recovery`): with ``[ingest] extraction =
    "workers"`` its queue row died with that transaction, so a plain head without text is queued again here, in
    the adopting transaction (not a batch scan's whole record: its parts carry the text).  True if queued."""
    import json
    from dangan.core.kernel.pipeline import extraction_mode
    if extraction_mode(archive.config) != "workers":
        return False
    row = conn.execute("SELECT extraction_status, sealed, metadata FROM records WHERE id = ?", (record_id,)).fetchone()
    if row is None or row["extraction_status"] is not None or row["sealed"]:
        return False
    if "scan.parts" in json.loads(row["metadata"] or "{}"):
        return False
    requeue(conn, record_id)
    return True


def queued(conn, record_id: str) -> bool:
    """The record's extraction job is waiting (or held by a worker), not given up."""
    return conn.execute("SELECT 1 FROM extraction_queue WHERE record_id = ? AND attempts < ?",
                        (record_id, MAX_ATTEMPTS)).fetchone() is not None


def pending(archive: Archive) -> int:
    return archive.conn.execute("SELECT count(*) FROM extraction_queue WHERE attempts < ?",
                                (MAX_ATTEMPTS,)).fetchone()[0]


def next_batch(archive: Archive, limit: int = 50) -> list[str]:
    from dangan.core.catalogue.leases import server_now      # a worker's lease, by the catalogue's clock
    rows = archive.conn.execute("SELECT record_id FROM extraction_queue WHERE attempts < ? AND (lease_until IS NULL"
                                " OR lease_until <= ?) ORDER BY queued, rowid LIMIT ?",   # not one a worker holds
                                (MAX_ATTEMPTS, server_now(archive.conn), limit)).fetchall()
    return [r["record_id"] for r in rows]


def failures(archive: Archive, limit: int = 5) -> list[dict]:
    rows = archive.conn.execute("SELECT record_id, attempts, last_error, last_attempt FROM extraction_queue"
                                " WHERE last_error IS NOT NULL ORDER BY last_attempt DESC LIMIT ?", (limit,))
    return [dict(r) for r in rows]


# -- one record -------------------------------------------------------------------
def extract_queued(archive: Archive, record_id: str) -> str:
    """Extract one queued record and record the result; returns 'extracted', 'skipped' or 'gone'."""
    row = archive.conn.execute("SELECT version, sealed, status, extraction_status FROM records WHERE id = ?",
                               (record_id,)).fetchone()
    if row is None or row["status"] in ("destroyed", "transferred") or row["sealed"] or row["extraction_status"] is not None:
        with archive.transaction() as conn:          # nothing (more) to do: destroyed, sealed or already extracted
            conn.execute("DELETE FROM extraction_queue WHERE record_id = ?", (record_id,))
        return "gone" if row is None else "skipped"
    rec = archive.record_from_store(record_id)
    main = rec.main_file
    if main is None:
        raise IntegrityError(f"record {record_id}: its metadata.json names no main file")
    stored = {f.logical_path: f for f in archive.store.files(record_id)}[main.path]
    from dangan.core.store.pdfa import pdfa_path, searchable_copy
    with archive.store.local_file(record_id, stored) as source:       # (a bucket's file: a temporary copy)
        result, copy = searchable_copy(archive, source, main.mime, sealed=False, extractor=archive.extractor)
    info, meta, text = recorded_extraction(result)
    add_derivative_text(archive, record_id, text, info, meta, expect_version=rec.version,
                        thumbnail=result.thumbnail, derivatives={pdfa_path(main.path): copy} if copy else None)
    return "extracted"


def add_derivative_text(archive: Archive, record_id: str, text: str, extraction: dict, metadata: dict[str, str] | None = None,
                        *, expect_version: int | None = None, message: str = "text extracted",
                        thumbnail: bytes = b"", derivatives: dict[str, bytes] | None = None) -> Record:
    """A new version of a plain record carrying the extracted text of its main file as a derivative.

    Every file of the head version is kept as it is (no copy); the text goes to
    ``.dangan/text/<main>.txt``; the extraction result and technical metadata
    (``x.`` keys, never overriding a user's) go into the record.  Catalogue rows,
    an audit event (``record.extract``) and an index-outbox row are written in the
    transaction that publishes the version, and the record leaves the queue.
    """
    from dangan.core.catalogue.tombstones import assert_alive_in
    old = archive.record_from_store(record_id)
    if expect_version is not None and old.version != expect_version:
        raise LockTimeout(f"record {record_id} changed while extracting its text: try again")
    if archive.conn.execute("SELECT sealed FROM records WHERE id = ?", (record_id,)).fetchone()["sealed"]:
        raise DanganError(f"record {record_id} is sealed: its text is extracted when it is archived, never later")
    now = utc_text()
    version = old.version + 1
    meta = dict(old.metadata)
    for k, v in (metadata or {}).items():
        meta.setdefault(k, v)
    rec = replace(old, version=version, updated=now, extraction=dict(extraction), metadata=meta,
                  files=list(old.files))
    names = stored_original_names(archive.store, record_id, old.version)
    with archive.store.stage(record_id) as draft:
        inv_files = {f.logical_path: f for f in archive.store.files(record_id, old.version)}
        main = old.main_file
        if main is None:
            raise IntegrityError(f"record {record_id}: its metadata.json names no main file")
        for f in old.files:
            if f is main and text:
                draft.keep(f.path, inv_files[f.path].digest)       # its old text (if any) is replaced
            else:
                carry_over(draft, inv_files, f)
        if text:
            draft.add_bytes(text_path(main.path), text.encode("utf-8"))
        thumb = thumbnail_path(main.path)
        if thumb in inv_files:
            if text:                                    # the main file was kept without its derivatives
                draft.keep(thumb, inv_files[thumb].digest)
        elif thumbnail:
            draft.add_bytes(thumb, thumbnail)
        from dangan.core.store.pdfa import pdfa_path
        copy_path = pdfa_path(main.path)
        if text and copy_path in inv_files and copy_path not in (derivatives or {}):
            draft.keep(copy_path, inv_files[copy_path].digest)
        for path, data in (derivatives or {}).items():        # a scan's PDF/A copy (store.pdfa)
            draft.add_bytes(path, data)
        rec.derivatives = describe(draft, old.derivatives, identify=pronom.identify_enabled(archive.config),
                                   sizes={lp: s.size for lp, s in inv_files.items()},
                                   read_kept=lambda lp: archive.store.local_file(record_id, inv_files[lp]))

        def before_publish(conn: sqlite3.Connection) -> bytes:
            row = conn.execute("SELECT piece_class, piece, version FROM records WHERE id = ?",
                               (record_id,)).fetchone()
            assert_alive_in(conn, record_id, "given extracted text")     # its destruction may have begun
            if row["version"] != old.version:
                raise LockTimeout(f"record {record_id} changed while extracting its text: try again")
            catalogue = {"piece_class": row["piece_class"], "piece": row["piece"], "sealed": None}
            return metadata_document(rec, names, catalogue)

        def after_publish(conn: sqlite3.Connection) -> None:
            records.update_record(conn, rec, actor=archive.actor.name, message=message, original_names=names)
            archive.audit(conn, "record.extract", record_id,
                          details={"version": version, "status": extraction.get("status"),
                                   "ocr": extraction.get("ocr"), "chars": len(text)})
            conn.execute("DELETE FROM extraction_queue WHERE record_id = ?", (record_id,))

        commit_version(archive, draft, record_id, source=INTENT_SOURCE, message=message, created=now,
                       before_publish=before_publish, after_publish=after_publish)
    return rec


def _note_failure(archive: Archive, record_id: str, reason: str) -> None:
    with archive.transaction() as conn:
        conn.execute("UPDATE extraction_queue SET attempts = attempts + 1, last_error = ?, last_attempt = ?"
                     " WHERE record_id = ?", (reason[:500], utc_text(), record_id))


def run_batch(archive: Archive, limit: int = 50, *, yield_to=None) -> int:
    """Extract up to ``limit`` queued records, then drain the index; returns how many were handled.
    ``yield_to()`` true between records: stop early (the rest waits for the next batch)."""
    from dangan.core.search.indexing import drain
    done = 0
    for rid in next_batch(archive, limit):
        if yield_to is not None and yield_to():
            return done
        try:
            outcome = extract_queued(archive, rid)
        except (LockTimeout, StorageFull, StoreUnavailable) as exc:
            log.warning("extraction of record %s postponed: %s", rid, exc.message)
            break                                   # transient (the store away too): the row stays, tried later
        except DanganError as exc:
            log.error("extraction of record %s failed: %s", rid, exc.message)
            _note_failure(archive, rid, exc.message)
            continue
        done += 1
        log.debug("record %s: %s", rid, outcome)
    from dangan.core.search.nodes import behind
    if done or behind(archive):
        drain(archive)
    return done


def _pending_or_away(archive: Archive) -> bool:
    """:func:`pending`, or True while the catalogue's server is away (a restart): not idle yet."""
    try:
        return pending(archive) > 0
    except sqlite3.OperationalError:
        return True


class DeferredExtractor:
    """A worker thread with its own ``Archive`` (own catalogue connection and extraction worker).

    ``wake()`` after queuing; ``stop()`` finishes the record in hand and returns.

    ``busy()`` (the watcher: files are waiting in the drop folders) makes it yield: pickup comes
    first.  Extraction and indexing are CPU-bound Python work in the watcher's process (the GIL) and
    write the catalogue and the disk as pickup does; run alongside a catch-up of many files they
    slowed it several-fold on a loaded machine.  It yields at most ``MAX_YIELD_SECONDS`` at a time,
    so a file that never settles cannot hold extraction back for ever.
    """

    def __init__(self, root, actor, *, idle_seconds: float = 5.0, busy=None) -> None:
        self.root = root
        self.actor = actor
        self.idle_seconds = idle_seconds
        self.busy = busy
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._idle = threading.Event()
        self._thread = threading.Thread(target=self._run, name="dangan-deferred", daemon=True)
        self.error: BaseException | None = None

    def start(self) -> "DeferredExtractor":
        self._thread.start()
        return self

    def wake(self) -> None:
        self._idle.clear()
        self._wake.set()

    def stop(self, timeout: float | None = None) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout)

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Wait until the queue and the index outbox are empty (for ``--once``)."""
        self.wake()
        return self._idle.wait(timeout)

    def _run(self) -> None:
        from dangan.core.archive import Archive
        archive = Archive(self.root, self.actor)
        try:
            yielding_since = None
            while not self._stop.is_set():
                self._wake.clear()
                if self.busy is not None and self.busy():
                    now = time.monotonic()
                    yielding_since = yielding_since or now
                    if now - yielding_since < MAX_YIELD_SECONDS:
                        self._stop.wait(0.1)
                        continue
                yield_to = self.busy if yielding_since is None else None
                yielding_since = None
                try:
                    n = run_batch(archive, yield_to=yield_to)
                except (LockTimeout, StorageFull, StoreUnavailable) as exc:
                    log.warning("background extraction postponed: %s", exc.message)
                    n = 0
                except sqlite3.OperationalError as exc:     # the catalogue's server restarting (ConnectionLost)
                    log.warning("background extraction postponed: %s", exc)
                    n = 0
                except DanganError as exc:
                    log.error("background extraction: %s", exc.message)
                    n = 0
                if n == 0 and yield_to is not None and yield_to():
                    continue                    # it yielded before the first record: pickup first
                if n == 0 and not _pending_or_away(archive):
                    self._idle.set()
                if n == 0:
                    self._wake.wait(self.idle_seconds)
        except BaseException as exc:   # noqa: BLE001 - reported by the watcher, which stops
            self.error = exc
            log.exception("background extraction stopped")
            self._idle.set()
        finally:
            archive.close()
