"""Helpers for the watcher tests (no tests here): a watcher in a thread, waiting for conditions, catalogue queries."""
from __future__ import annotations

import hashlib
import sqlite3
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path

TIMEOUT = 60.0


def wait_for(predicate, timeout: float = TIMEOUT, what: str = "condition") -> None:
    """Wait until ``predicate()`` is true; fail (never a timed assertion: a generous ceiling) otherwise."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        _fail_if_a_watcher_stopped(what)
        time.sleep(0.05)
    try:
        report = _thread_stacks()
    except Exception as exc:  # noqa: BLE001 - the report must never hide the timeout itself
        report = f"(no stall report: {exc!r})"
    raise AssertionError(f"timed out after {timeout} s waiting for {what}\n{report}")


def _fail_if_a_watcher_stopped(what: str) -> None:
    """A watcher thread that died (its exception is kept, not printed) fails the wait at once, with its traceback."""
    import traceback
    for w, errors, thread in list(_WATCHERS):
        if errors:
            tb = "".join(traceback.format_exception(errors[0]))
            raise AssertionError(f"the watcher stopped while waiting for {what}:\n{tb}") from errors[0]
        if not thread.is_alive() and not w._stop.is_set():
            raise AssertionError(f"the watcher returned on its own while waiting for {what}")


def _thread_stacks() -> str:
    """Every thread's stack, so that a stall says where it is stuck."""
    import traceback
    names = {t.ident: t.name for t in threading.enumerate()}
    out = []
    for ident, frame in sys._current_frames().items():
        out.append(f"--- thread {names.get(ident, ident)}")
        out.extend(line.rstrip() for line in traceback.format_stack(frame)[-8:])
    for w, _errors, _thread in _WATCHERS:
        now = time.monotonic()
        t = w.tracker
        out.append(f"--- tracker: opens={ {p.name: n for p, n in t.opens.items()} } dirs={sorted(map(str, t.dirs))}")
        for p, e in list(t.entries.items()):
            out.append(f"    {p.name}: size={e.size} still={now - e.last_change:.1f}s moved_in={e.moved_in} "
                       f"not_before={e.not_before - now:.1f}s")
        out.append(f"--- counts {w.counts.as_dict()} deferred_error={getattr(w.deferred, 'error', None)!r}")
    return "\n".join(out)


_WATCHERS: list = []           # (watcher, its thread's errors, its thread) running now, for the stall report


def query(root: Path, sql: str, *args):
    conn = sqlite3.connect(root / "catalogue.sqlite", timeout=60)
    try:
        return conn.execute(sql, args).fetchall()
    finally:
        conn.close()


def digests(root: Path) -> list[str]:
    return [r[0] for r in query(root, "SELECT main_sha512 FROM records")]


def sha512(path: Path) -> str:
    return hashlib.sha512(Path(path).read_bytes()).hexdigest()


def folder(path: Path, **kw):
    from dangan.core.catalogue.fields import RecordFields
    from dangan.core.watch.config import DropFolder
    fields = {k: kw.pop(k) for k in list(kw) if k in ("department", "category", "retention", "secrecy", "volume",
                                                       "year", "tags")}
    return DropFolder(path=Path(path).resolve(), defaults=RecordFields(**fields).normalised(), **kw)


@contextmanager
def watching(root: Path, *folders, rescan_seconds: float = 60.0):
    """A real watcher (watchdog observer, deferred extraction) on ``folders``, in a thread."""
    from dangan.core.kernel.actor import Actor
    from dangan.core.archive import Archive
    from dangan.core.watch.watcher import Watcher
    from dangan.core.watch.lock import lock_held
    archive = Archive(root, Actor("watcher", "watcher"))
    w = Watcher(archive, list(folders), rescan_seconds=rescan_seconds)
    errors: list[BaseException] = []

    def run():
        try:
            w.run()
        except BaseException as exc:  # noqa: BLE001 - re-raised in the test
            errors.append(exc)

    t = threading.Thread(target=run, daemon=True)
    entry = (w, errors, t)
    _WATCHERS.append(entry)
    t.start()
    wait_for(lambda: lock_held(root) and w.deferred is not None or errors, what="the watcher to start")
    time.sleep(0.2)                       # the observers are scheduled right after the lock is taken
    try:
        yield w
    finally:
        _WATCHERS.remove(entry)
        w.stop()
        t.join(120)
        archive.close()
    if errors:
        raise errors[0]


def dangan(root: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "dangan", "--archive", str(root), "--as", "tester", *args]


def write(path: Path, data: bytes | str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return path


def settled(w) -> bool:
    """No file waiting and nothing left to extract or index."""
    from dangan.core.archive import Archive
    if len(w.tracker):
        return False
    a = Archive(w.archive.root)
    try:
        return not a.conn.execute("SELECT (SELECT count(*) FROM extraction_queue) + "
                                  "(SELECT count(*) FROM index_outbox)").fetchone()[0]
    finally:
        a.close()


__all__ = ["wait_for", "query", "digests", "sha512", "folder", "watching", "dangan", "write", "settled", "TIMEOUT"]

