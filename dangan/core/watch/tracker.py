"""Which files in the drop folders are complete: events in, ready files out.

A file is **ready** when nobody we saw open it still has it open, and either
it arrived by a rename into the folder (a rename is atomic: the writer
finished under another name, e.g. ``x.pdf.part``) or its size and mtime have
not changed for the folder's stability window.  Every change restarts the
window, so a scanner that writes a PDF page by page over minutes keeps its
file waiting until it stops growing.

Events (watchdog's inotify or polling observer) only *nudge*: the tracker
stats files itself, and the periodic rescan adds any file whose event was
missed.  Opens are counted from inotify's open/close events (our own reads
open and close too, and balance out); polling has no such events, so network
shares rely on the window alone — give them a longer ``settle_seconds``.
"""
from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from watchdog.events import FileSystemEventHandler

from dangan.core.watch.config import DropFolder

#: An open seen without its close is trusted this long at most (a lost close event must not block forever).
OPEN_TRUST_SECONDS = 600.0


@dataclass
class Entry:
    folder: DropFolder
    size: int = -1
    mtime_ns: int = -1
    last_change: float = 0.0
    moved_in: bool = False
    not_before: float = 0.0          # back-off after a transient failure


class Tracker:
    def __init__(self, folders: list[DropFolder]) -> None:
        self.folders = sorted(folders, key=lambda f: len(str(f.path)), reverse=True)   # innermost first
        self.entries: dict[Path, Entry] = {}
        self.opens: dict[Path, int] = {}
        self.dirs: set[Path] = set()         # folders that appeared: scanned by the loop
        self._lock = threading.Lock()
        self.changed = threading.Event()

    def folder_of(self, path: Path) -> DropFolder | None:
        for f in self.folders:
            try:
                path.relative_to(f.path)
            except ValueError:
                continue
            return f
        return None

    # -- fed by the observer thread and by scans ---------------------------------
    def add(self, path: Path, *, moved_in: bool = False) -> None:
        folder = self.folder_of(path)
        if folder is None or not folder.takes(path):
            return
        with self._lock:
            e = self.entries.get(path)
            if e is None:
                self.entries[path] = Entry(folder, moved_in=moved_in)
            elif moved_in:
                e.moved_in, e.size, e.mtime_ns = True, -1, -1
        self.changed.set()

    def moved(self, src: Path, dest: Path) -> None:
        with self._lock:
            self.entries.pop(src, None)
            if src in self.opens:
                self.opens[dest] = self.opens.pop(src)
        self.add(dest, moved_in=True)

    def new_dir(self, path: Path) -> None:
        with self._lock:
            self.dirs.add(path)
        self.changed.set()

    def take_dirs(self) -> list[Path]:
        with self._lock:
            out, self.dirs = sorted(self.dirs), set()
        return out

    def forget(self, path: Path) -> None:
        with self._lock:
            self.entries.pop(path, None)

    def opened(self, path: Path) -> None:
        with self._lock:
            self.opens[path] = self.opens.get(path, 0) + 1

    def closed(self, path: Path) -> None:
        with self._lock:
            n = self.opens.get(path, 0) - 1
            if n > 0:
                self.opens[path] = n
            else:
                self.opens.pop(path, None)
        self.changed.set()

    # -- read by the processing loop ---------------------------------------------------
    def ready(self, now: float | None = None) -> list[tuple[Path, DropFolder]]:
        """Files complete now (oldest first); entries of vanished files are dropped."""
        now = time.monotonic() if now is None else now
        wall = time.time()
        out = []
        with self._lock:
            items = list(self.entries.items())
        for path, e in items:
            try:
                st = os.lstat(path)          # a symlink is judged itself (and refused), never its target
            except OSError:
                self.forget(path)
                continue
            if (st.st_size, st.st_mtime_ns) != (e.size, e.mtime_ns):
                first = e.size < 0
                e.size, e.mtime_ns = st.st_size, st.st_mtime_ns
                age = max(0.0, wall - st.st_mtime_ns / 1e9)
                # a file first seen with an old mtime (catch-up) has been still for that long already
                e.last_change = now - age if first else now
                if not first:
                    e.moved_in = False
            if now < e.not_before:
                continue
            still = now - e.last_change
            if self.opens.get(path, 0) > 0 and still < OPEN_TRUST_SECONDS:
                continue
            if e.moved_in or still >= e.folder.settle_seconds:
                out.append((path, e.folder))
        out.sort(key=lambda pe: self.entries[pe[0]].last_change if pe[0] in self.entries else 0)
        return out

    def postpone(self, path: Path, seconds: float) -> None:
        with self._lock:
            e = self.entries.get(path)
            if e is not None:
                e.not_before = time.monotonic() + seconds

    def all_postponed(self) -> bool:
        now = time.monotonic()
        with self._lock:
            return bool(self.entries) and all(e.not_before > now for e in self.entries.values())

    def waiting(self) -> dict[Path, int]:
        """Files waiting per drop folder."""
        with self._lock:
            out: dict[Path, int] = {f.path: 0 for f in self.folders}
            for e in self.entries.values():
                out[e.folder.path] = out.get(e.folder.path, 0) + 1
            return out

    def __len__(self) -> int:
        return len(self.entries)


class Events(FileSystemEventHandler):
    """watchdog events → the tracker (cheap: no I/O in the observer thread)."""

    def __init__(self, tracker: Tracker) -> None:
        self.tracker = tracker

    def on_created(self, event) -> None:
        if not event.is_directory:
            self.tracker.add(Path(event.src_path))
        else:
            self.tracker.new_dir(Path(event.src_path))      # a folder copied in: its files are scanned

    def on_modified(self, event) -> None:
        if not event.is_directory:
            self.tracker.add(Path(event.src_path))

    def on_closed(self, event) -> None:
        if not event.is_directory:
            self.tracker.closed(Path(event.src_path))
            self.tracker.add(Path(event.src_path))

    def on_closed_no_write(self, event) -> None:
        if not event.is_directory:
            self.tracker.closed(Path(event.src_path))

    def on_opened(self, event) -> None:
        if not event.is_directory:
            self.tracker.opened(Path(event.src_path))

    def on_moved(self, event) -> None:
        # full events: a rename from outside the folder has no source, a rename out of it no destination
        src = Path(event.src_path) if event.src_path else None
        dest = Path(event.dest_path) if event.dest_path else None
        if event.is_directory:
            if dest is not None:
                self.tracker.new_dir(dest)
            return
        if dest is None:
            if src is not None:
                self.tracker.forget(src)
        elif src is None:
            self.tracker.add(dest, moved_in=True)
        else:
            self.tracker.moved(src, dest)

    def on_deleted(self, event) -> None:
        if not event.is_directory:
            self.tracker.forget(Path(event.src_path))
