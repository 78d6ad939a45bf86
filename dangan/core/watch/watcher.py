"""The drop-folder watcher: files dropped into folders end up archived, safely, at scanner speed.

    events / rescans → Tracker (complete files) → one file at a time:
      fingerprint → hand-off (pending) → ingest without extraction → hand-off decided
      (+ queued for extraction) → file to done/ (or deleted, or quarantine/) → hand-off done
    DeferredExtractor thread: extraction, a derivative version, index drain

Only this process archives from the drop folders (``WatcherLock``).  At start
it settles the hand-offs an earlier watcher left open (``watch_handoff``),
recovers interrupted writes, and takes every file already waiting (catch-up);
a periodic rescan catches missed events.  A ``DanganError`` quarantines the
file with its reason — except a full disk or a busy catalogue, which leave
the file where it is and try again later.  Nothing that goes wrong with one
file stops the watcher.

Logging (``dangan.watch``): file names only for plain folders; a folder that
files into a confidential volume logs counts and record ids only.
"""
from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dangan.errors import (DanganError, DuplicateRecord, FileRefused, LockTimeout, StorageFull, StoreUnavailable,
                           SymlinkedFolder)
from dangan.core.watch import files
from dangan.core.watch import handoff as handoffs
from dangan.core.store.source_files import escape_text, max_file_bytes, shown_name
from dangan.core.watch.config import DropFolder, refuse_unsafe_folders
from dangan.core.watch.lock import WatcherLock
from dangan.core.watch.tracker import Events, Tracker

if TYPE_CHECKING:
    from dangan.core.archive import Archive
    from dangan.core.store.deferred import DeferredExtractor
    from dangan.core.store.ingest import Ingestor

log = logging.getLogger("dangan.watch")

TICK = 0.05
HEARTBEAT_SECONDS = 2.0
RETRY_SECONDS = 30.0


@dataclass
class Counts:
    archived: int = 0
    duplicates: int = 0
    quarantined: int = 0
    failed: int = 0

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


@dataclass
class Watcher:
    archive: Archive
    folders: list[DropFolder]
    rescan_seconds: float = 60.0
    counts: Counts = field(default_factory=Counts)

    def __post_init__(self) -> None:
        refuse_unsafe_folders(self.archive, self.folders)     # never move the archive itself into done/
        self._max_bytes = max_file_bytes(self.archive.config)
        self.folders = [self._classify(f) for f in self.folders]
        self.tracker = Tracker(self.folders)
        self.base_actor = self.archive.actor
        self._ingestors: dict[tuple[bool, bool], Ingestor] = {}
        self._stop = threading.Event()
        self._decided: dict[Path, tuple[tuple[int, int], tuple[Any, ...], dict[str, Any]]] = {}      # decided but not yet moved (a failed move is retried, never re-archived)
        self.deferred: DeferredExtractor | None = None

    # -- set-up ----------------------------------------------------------------------
    def _classify(self, folder: DropFolder) -> DropFolder:
        """Mark folders whose records may be sealed: their files are extracted at archive time, names never logged."""
        from dangan.model import is_confidential
        from dangan.core.catalogue.volumes import get_volume
        d = folder.defaults
        vol = get_volume(self.archive, d.volume) if d.volume else None
        sealed = bool(vol and vol.confidential) or bool(d.secrecy and is_confidential(d.secrecy))
        if not sealed and ("{volume}" in folder.pattern or "{secrecy}" in folder.pattern):
            sealed = True            # a sub-folder may name a confidential volume: be careful with every file
        if not sealed and d.category and not d.volume:
            # a plugin's filing rule may file into a confidential volume; be safe if any exists
            sealed = self.archive.conn.execute("SELECT 1 FROM volumes WHERE confidential = 1").fetchone() is not None
        return replace(folder, confidential=sealed)

    def _ingestor(self, folder: DropFolder) -> Ingestor:
        from dangan.core.store.ingest import Ingestor
        from dangan.core.kernel.pipeline import pipeline_for
        key = (folder.confidential, folder.duplicates == "archive")
        if key not in self._ingestors:
            if folder.confidential:
                def warn(message: str) -> None:
                    log.warning("a sparse file is archived at its full length")      # no name: confidential
            else:
                def warn(message: str) -> None:
                    log.warning("%s", escape_text(message))
            self._ingestors[key] = Ingestor(self.archive, allow_duplicate=key[1], on_warning=warn,
                                            **pipeline_for(self.archive, extract=folder.confidential))
        return self._ingestors[key]

    def stop(self) -> None:
        self._stop.set()
        self.tracker.changed.set()

    # -- running ---------------------------------------------------------------------------
    def run(self, *, once: bool = False) -> Counts:
        """Watch until ``stop()`` (or, with ``once``, until every waiting file is handled)."""
        from dangan.core.store.deferred import DeferredExtractor
        with WatcherLock(self.archive.root) as lock:
            self._lock = lock
            self.deferred = deferred = DeferredExtractor(self.archive.root, self.base_actor,
                                                         busy=lambda: len(self.tracker) > 0).start()
            observers = [] if once else self._observe()
            try:
                self._catch_up()
                self._loop(once)
                if once:
                    deferred.wait_idle()
            finally:
                for o in observers:
                    o.stop()
                for o in observers:
                    o.join(10)
                deferred.stop(60)
                self._heartbeat()
            if deferred.error is not None:
                raise deferred.error
        return self.counts

    def _observe(self) -> list:
        from watchdog.observers.polling import PollingObserver
        handler = Events(self.tracker)
        observers = {}
        for f in self.folders:
            kind = "poll" if f.poll else "inotify"
            if kind not in observers:
                observers[kind] = PollingObserver(timeout=max(0.5, min(f.settle_seconds, 2.0))) if f.poll else _native()
            observers[kind].schedule(handler, str(f.path), recursive=True)
        for o in observers.values():
            o.start()
        log.info("watching %d drop folder(s)", len(self.folders))
        return list(observers.values())

    def _catch_up(self) -> None:
        """Finish what an earlier watcher left half done, then take every file already waiting."""
        from dangan.core.store.recovery import recover_interrupted
        found = [p for f in self.folders for p in files.scan(f)]
        keys = {handoffs.path_key(self.archive, p): p for p in found}
        busy: set[str] = set()            # PostgreSQL: files of hand-offs a live watcher elsewhere keeps
        for h, path in handoffs.settle_previous(self.archive, keys, {shown_name(f.path) for f in self.folders}, busy):
            folder = self.tracker.folder_of(path)
            if folder is None:
                continue
            self._leave(folder, path, h.state, h.reason or "", h.record_id, h.id, safe_reason=h.reason)
        handoffs.settle_dead_watcher(self.archive, self._lock.previous)
        recover_interrupted(self.archive)
        for p in found:
            if not busy or handoffs.path_key(self.archive, p) not in busy:
                self.tracker.add(p)
        if self.deferred:
            self.deferred.wake()        # records queued by an earlier run
        n = len(self.tracker)
        if n:
            log.info("catch-up: %d file(s) waiting in the drop folders", n)

    def _rescan(self, dirs: list[Path] | None = None) -> None:
        from dangan.core.store.recovery import recover_interrupted
        for f in self.folders:
            for p in files.scan(f):
                if dirs is None or any(Path(p).is_relative_to(d) for d in dirs):
                    self.tracker.add(p)
        if dirs is None:
            recover_interrupted(self.archive)

    def _loop(self, once: bool) -> None:
        next_rescan = time.monotonic() + self.rescan_seconds
        next_beat = 0.0
        while not self._stop.is_set():
            now = time.monotonic()
            if now >= next_beat:
                self._heartbeat()
                next_beat = now + HEARTBEAT_SECONDS
            if self.deferred is not None and self.deferred.error is not None:
                return
            dirs = self.tracker.take_dirs()
            if dirs:
                self._rescan(dirs)
            if not once and now >= next_rescan:
                try:
                    self._rescan()
                except (DanganError, OSError, sqlite3.OperationalError) as exc:   # a busy lock, a full disk, the
                    # catalogue's server restarting (ConnectionLost): the next rescan tries again
                    why = exc.message if isinstance(exc, DanganError) else str(getattr(exc, "strerror", None) or exc)
                    log.warning("periodic rescan postponed: %s", escape_text(why))
                next_rescan = now + self.rescan_seconds
            ready = self.tracker.ready()
            for path, folder in ready:
                if self._stop.is_set():
                    return
                self._handle(folder, path)
            if once and (not len(self.tracker) or self.tracker.all_postponed()):
                return                       # with --once, files left by a transient failure wait for the next run
            if not ready:
                self.tracker.changed.wait(TICK if len(self.tracker) else 1.0)
                self.tracker.changed.clear()

    def _heartbeat(self) -> None:
        waiting = self.tracker.waiting()
        try:
            self._lock.write_state(
                folders=[{"path": str(f.path), "confidential": f.confidential, "waiting": waiting.get(f.path, 0),
                          "quarantine": str(f.quarantine)} for f in self.folders],
                waiting=sum(waiting.values()), counts=self.counts.as_dict())
        except OSError as exc:
            log.warning("cannot write the watcher state file: %s", exc.strerror)

    # -- one file -----------------------------------------------------------------------------
    def _handle(self, folder: DropFolder, path: Path) -> None:
        name = "a file" if folder.confidential else escape_text(shown_name(folder.relative(path)))
        try:
            st = os.lstat(path)              # never follow a link planted in the folder
            if path in self._decided:
                fingerprint, args, kw = self._decided[path]
                if fingerprint == (st.st_size, st.st_mtime_ns):
                    self._leave(folder, path, *args, **kw)
                    return
                del self._decided[path]      # a new file under the same name
            try:
                sha = files.fingerprint(path, max_bytes=self._max_bytes, digest=not folder.confidential,
                                        beneath=folder.path)
            except SymlinkedFolder as exc:   # a sub-folder became a link: touch nothing behind it
                log.warning("%s is not taken: %s", name, escape_text(handoffs.safe_reason(exc.message, path, folder)))
                self.tracker.forget(path)
                self.counts.failed += 1
                return
            except FileRefused as exc:       # a symlink, FIFO, device, empty or too large: quarantined as it is
                self._refuse(folder, path, handoffs.begin(self.archive, folder, path, st, None), exc.message,
                             handoffs.safe_reason(exc.message, path, folder), name)
                return
            now = os.lstat(path)
            if (now.st_size, now.st_mtime_ns) != (st.st_size, st.st_mtime_ns):
                return                       # still changing: the tracker will see it and wait again
            self._archive_one(folder, path, st, sha, name)
        except DanganError as exc:           # around the hand-off bookkeeping itself (busy, disk full)
            log.warning("%s stays in its drop folder for now: %s", name,
                        escape_text(handoffs.safe_reason(exc.message, path, folder)))
            self.tracker.postpone(path, RETRY_SECONDS)
            self.counts.failed += 1
        except FileNotFoundError:
            self.tracker.forget(path)
        except OSError as exc:
            log.error("%s stays in its drop folder for now: %s", name, escape_text(str(exc.strerror or exc)))
            self.tracker.postpone(path, RETRY_SECONDS)
            self.counts.failed += 1
        except Exception as exc:  # noqa: BLE001 - a bug met by one file must not stop the watcher (invariant 9)
            log.error("%s stays in its drop folder for now: unexpected error (%s)", name, type(exc).__name__,
                      exc_info=not folder.confidential)
            self.tracker.postpone(path, RETRY_SECONDS)
            self.counts.failed += 1

    def _archive_one(self, folder: DropFolder, path: Path, st, sha: str | None, name: str) -> None:
        hid = handoffs.begin(self.archive, folder, path, st, sha)
        self.archive.actor = handoffs.HandoffActor.of(self.base_actor, hid)
        from dangan.core.store.scan_batch import ingest_scan
        try:
            scan = ingest_scan(self._ingestor(folder), path, folder.fields_for(path), beneath=folder.path,
                               sealed=folder.confidential)
            rec = scan.record
        except DuplicateRecord as exc:
            if folder.duplicates == "skip":
                self._leave(folder, path, "duplicate", "", exc.existing_id, hid)
                log.info("%s is already archived as record %s: moved aside, not archived again", name,
                         exc.existing_id)
                self.counts.duplicates += 1
                return
            reason = f"duplicate: the same content is already archived as record {exc.existing_id}"
            self._refuse(folder, path, hid, reason, reason, name)
            return
        except (StorageFull, LockTimeout, StoreUnavailable) as exc:     # transient: the file waits, never quarantined
            handoffs.note_failure(self.archive, hid, handoffs.safe_reason(exc.message, path, folder))
            log.warning("%s stays in its drop folder for now: %s", name,
                        handoffs.safe_reason(exc.message, path, folder))
            self.tracker.postpone(path, RETRY_SECONDS)
            self.counts.failed += 1
            return
        except DanganError as exc:
            self._refuse(folder, path, hid, exc.message, handoffs.safe_reason(exc.message, path, folder), name)
            return
        finally:
            self.archive.actor = self.base_actor
        sealed = folder.confidential and self.archive.conn.execute(
            "SELECT sealed FROM records WHERE id = ?", (rec.id,)).fetchone()["sealed"] is not None
        if scan.parts:
            self._split_noted(folder, scan, name)
        self._leave(folder, path, "archived", "", rec.id, hid,
                    extract=not sealed and not rec.extraction and not scan.parts)
        if self.deferred is not None:
            self.deferred.wake()             # extraction, or at least its index-outbox row
        self.counts.archived += 1
        if folder.confidential:
            log.info("archived a file as record %s", rec.id)
        else:
            log.info("archived %s as record %s%s", name, rec.id, f" {rec.archival_code}" if rec.archival_code else "")

    def _split_noted(self, folder: DropFolder, scan, name: str) -> None:
        """A batch scan was split: its documents are queued for extraction, each part's outcome logged."""
        from dangan.core.store.deferred import enqueue
        done = [p.record for p in scan.parts if p.record is not None and not p.record.extraction]
        with self.archive.transaction() as conn:
            for r in done:
                enqueue(conn, r.id)
        log.info("%s is a batch scan: %d document(s) at its separator sheets, batch record %s", name,
                 len(scan.parts), scan.record.id)
        for p in scan.parts:
            if p.record is not None:
                self.counts.archived += 1
                log.info("  part %d (pages %s) archived as record %s", p.number, p.part.page_range(), p.record.id)
            else:
                self.counts.failed += 1
                log.warning("  part %d (pages %s) not archived: %s; its pages stay in record %s", p.number,
                            p.part.page_range(), escape_text(p.error.message) if not folder.confidential else "refused",
                            scan.record.id)

    def _refuse(self, folder: DropFolder, path: Path, hid: int, reason: str, safe: str, name: str) -> None:
        self._leave(folder, path, "refused", reason, None, hid, safe_reason=safe)
        self.counts.quarantined += 1
        log.warning("quarantined %s: %s", name, escape_text(safe))

    def _leave(self, folder: DropFolder, path: Path, outcome: str, reason: str, record_id: str | None,
               hid: int, *, extract: bool = False, safe_reason: str | None = None) -> None:
        """The file leaves the drop folder (ingest has returned), then its hand-off is finished.

        If the move fails (permissions on done/, say), the file is retried by
        moving it again — never by archiving it again (``_decided``).
        """
        st = os.lstat(path)
        args = (outcome, reason, record_id, hid)
        self._decided[path] = ((st.st_size, st.st_mtime_ns), args, {"extract": extract, "safe_reason": safe_reason})
        if outcome == "refused":
            files.to_quarantine(folder, path, reason)
        else:
            files.to_done(folder, path)
        self.tracker.forget(path)
        del self._decided[path]
        handoffs.finish(self.archive, hid, outcome, record_id=record_id,
                        reason=safe_reason if safe_reason is not None else (reason or None), extract=extract)


def _native():
    """inotify with full move events (a rename in from outside is a move, not a creation), else the platform's."""
    try:
        from watchdog.observers.inotify import InotifyObserver
    except ImportError:
        from watchdog.observers import Observer
        return Observer()
    return InotifyObserver(generate_full_events=True)

