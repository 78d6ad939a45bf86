"""Whose write is still alive, across machines: the leases of intents on a shared (PostgreSQL) catalogue.

On SQLite (one machine) an intent row names its writer's pid and host, and recovery settles the intents of
dead pids on this host.  A catalogue on PostgreSQL is shared by machines that cannot see each other's pids, so
there every intent — an ingest's or revision's (``ingest``: ``ingest_intents``), a batch scan's split
(``scan``: ``scan_splits``), a destruction (``destroy``: ``destruction_intents``), a watcher's hand-off
(``handoff``: ``watch_handoffs``), an API request's claim of its Idempotency-Key (``idempotency``:
``idempotency_keys``) — also has a *lease*, taken by :func:`hold` in the transaction that writes
the row and given up by :func:`release` when the row is gone (or settled):

* a row of ``intent_leases`` (kind, key, holder ``host:pid:uuid``, ``until`` in the *server's* Unix seconds,
  so the machines' clocks do not matter), renewed every third of :func:`lease_seconds` by one thread of the
  holding process (:class:`_Renewer`, a connection of its own) for as long as the process lives;
* a *session* advisory lock on (kind, key), held by the writer's catalogue connection: two recovering
  machines never settle one intent at once, and a settler never runs beside a live writer's session.  It is
  only ever *tried*: a writer finding it held (another machine revising the same record) is refused at once
  ("try again", exit 9) instead of waiting inside its write transaction for a holder that waits for that
  transaction's write lock.

:func:`take_over` — what any machine's recovery asks — succeeds only if no session holds the advisory lock
*and* the lease has ended (or was never written: an intent older than the leases).  A writer killed (kill -9,
a crashed machine, a lost network) stops renewing, so its intent is settled by a live process once its lease
ends; a live writer whose session was cut (PostgreSQL restarted under it) keeps its lease by renewing it, so
its intent is never settled while it lives.  The settler's lease is then written in the holder's place (it is
the writer now) until it :func:`release`\\ s it.
"""
from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from typing import Any

from dangan.core.catalogue import db

log = logging.getLogger("dangan.leases")

#: the first keys of the two-key advisory locks, one per kind of intent; the second is hashtext(key)
CLASSES = {"ingest": 0x696E746E, "scan": 0x7363616E, "destroy": 0x64657374, "handoff": 0x68616E64,
           "idempotency": 0x6964656D}
#: what each kind's key names, for the refusal when another live writer holds it
_WHAT = {"ingest": "record", "scan": "batch scan", "destroy": "the destruction of record", "handoff": "drop-folder file",
         "idempotency": "the request with Idempotency-Key"}
#: kept for callers of the first version (ingest intents only)
INTENT_CLASS = CLASSES["ingest"]
#: how long a lease lasts unless renewed; a writer dead longer than this has its intents settled by another
LEASE_SECONDS = 60
#: Tests and impatient clusters: the lease length in seconds (the settler reads each lease's own end).
LEASE_ENV = "DANGAN_LEASE_SECONDS"

_NOW = "CAST(EXTRACT(EPOCH FROM clock_timestamp()) AS BIGINT)"


def applies(conn: Any) -> bool:
    return db.dialect(conn) == "postgresql"


def server_now(conn: Any) -> int:
    """Now in Unix seconds by the clock every machine of the archive shares: the PostgreSQL server's (a lease
    written or compared by a machine's own clock would be taken early, or kept alive, by one whose clock is
    off); on SQLite (one machine) this machine's."""
    if not applies(conn):
        import time
        return int(time.time())
    return int(conn.execute_raw(f"SELECT {_NOW} AS now").fetchone()["now"])


def lease_seconds() -> int:
    try:
        return max(1, int(float(os.environ.get(LEASE_ENV) or LEASE_SECONDS)))
    except ValueError:
        return LEASE_SECONDS


_me: tuple[int, str] | None = None


def holder() -> str:
    """``host:pid:uuid``: this process's name in the leases (new after a fork)."""
    global _me
    if _me is None or _me[0] != os.getpid():
        _me = (os.getpid(), f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:12]}")
    return _me[1]


def _lock_args(kind: str, key: str) -> tuple[int, str]:
    return CLASSES[kind], str(key)


def hold(conn: Any, kind: str | None, key: str | None = None) -> None:
    """The writer's lease on ``key`` (PostgreSQL; call it in the transaction that writes the intent row).

    ``hold(conn, object_id)`` (one argument) is an ingest intent's, as in the first version."""
    kind, key = ("ingest", kind) if key is None else (kind, key)
    assert kind is not None and key is not None
    # never waited for: the caller holds the catalogue's write lock, and the holder of this one may be waiting
    # for it (two machines revising one record: a deadlock PostgreSQL ends after a second, said as "busy")
    if not conn.execute_raw("SELECT pg_try_advisory_lock(%s, hashtext(%s))", _lock_args(kind, key)).fetchone()[0]:
        from dangan.errors import LockTimeout
        raise LockTimeout(f"{_WHAT[kind]} {key} is being written by another dangan right now: try again")
    _write(conn, kind, key)


def _write(conn: Any, kind: str, key: str) -> None:
    conn.execute_raw(f"INSERT INTO intent_leases (kind, key, holder, until) VALUES (%s, %s, %s, {_NOW} + %s)"
                     " ON CONFLICT (kind, key) DO UPDATE SET holder = excluded.holder, until = excluded.until",
                     (kind, str(key), holder(), lease_seconds()))
    _renewer.add(conn.url, kind, str(key))


def release(conn: Any, kind: str | None, key: str | None = None) -> None:
    """Give up this process's lease on ``key`` (its row and every hold of the session's advisory lock)."""
    kind, key = ("ingest", kind) if key is None else (kind, key)
    assert kind is not None and key is not None
    _renewer.discard(kind, str(key))
    conn.execute_raw("DELETE FROM intent_leases WHERE kind = %s AND key = %s AND holder = %s", (kind, str(key), holder()))
    while conn.execute_raw("SELECT pg_advisory_unlock(%s, hashtext(%s))", _lock_args(kind, key)).fetchone()[0]:
        pass


def take_over(conn: Any, kind: str, key: str) -> bool:
    """True (and the lease is now this process's: :func:`release` it after settling) if the intent's writer is
    gone: no session holds its advisory lock and its lease has ended (or it never had one)."""
    key = str(key)
    if not conn.execute_raw("SELECT pg_try_advisory_lock(%s, hashtext(%s))", _lock_args(kind, key)).fetchone()[0]:
        return False
    row = conn.execute_raw(f"SELECT until > {_NOW} AS live FROM intent_leases WHERE kind = %s AND key = %s",
                           (kind, key)).fetchone()
    if row is not None and row["live"]:
        conn.execute_raw("SELECT pg_advisory_unlock(%s, hashtext(%s))", _lock_args(kind, key))
        return False                     # its writer lives (renewing), though its session may have been cut
    _write(conn, kind, key)
    return True


def holder_gone(conn: Any, object_id: str) -> bool:
    """:func:`take_over` of an ingest intent (the first version's name)."""
    return take_over(conn, "ingest", object_id)


def live(conn: Any, kind: str, key: str) -> bool:
    """Someone's lease on ``key`` has not ended (a look only: nothing is taken)."""
    row = conn.execute_raw(f"SELECT until > {_NOW} AS live FROM intent_leases WHERE kind = %s AND key = %s",
                           (kind, str(key))).fetchone()
    return bool(row is not None and row["live"])


def forget_ended(conn: Any) -> int:
    """Remove the leases that have ended (their writers died; an ended lease and none at all mean the same to
    :func:`take_over`, so this is only tidying); returns how many."""
    return max(conn.execute_raw(f"DELETE FROM intent_leases WHERE until <= {_NOW}").rowcount, 0)


def holder_of(conn: Any, kind: str, key: str) -> str | None:
    """Who holds (or last held) the lease on ``key``."""
    row = conn.execute_raw("SELECT holder FROM intent_leases WHERE kind = %s AND key = %s", (kind, str(key))).fetchone()
    return row["holder"] if row is not None else None


def holder_live(conn: Any, name: str) -> bool:
    """Some lease of process ``name`` has not ended: it may be alive (and writing)."""
    return conn.execute_raw(f"SELECT 1 FROM intent_leases WHERE holder = %s AND until > {_NOW} LIMIT 1",
                            (name,)).fetchone() is not None


class _Renewer:
    """One thread per process renews every lease the process holds, from a connection of its own, every third of
    the lease; a renewal that fails (the server restarting) is logged and tried again."""

    def __init__(self) -> None:
        self._held: dict[tuple[str, str], str] = {}      # (kind, key) → catalogue URL
        self._mutex = threading.Lock()
        self._thread: threading.Thread | None = None
        self._pid = 0

    def add(self, url: str, kind: str, key: str) -> None:
        with self._mutex:
            self._held[(kind, key)] = url
            if self._thread is None or self._pid != os.getpid() or not self._thread.is_alive():
                self._pid = os.getpid()
                self._thread = threading.Thread(target=self._run, name="dangan-intent-leases", daemon=True)
                self._thread.start()

    def discard(self, kind: str, key: str) -> None:
        with self._mutex:
            self._held.pop((kind, key), None)

    def held(self) -> list[tuple[str, str]]:
        with self._mutex:
            return list(self._held)

    def _run(self) -> None:
        conns: dict[str, Any] = {}
        stop = threading.Event()
        while not stop.wait(lease_seconds() / 3):
            with self._mutex:
                urls = set(self._held.values())
            for url in set(conns) - urls:           # no lease held there any more: let the connection go
                try:
                    conns.pop(url).close()
                except Exception:  # noqa: BLE001 - already broken
                    pass
            for url in urls:
                try:
                    conn = conns.get(url) or db.PgConnection(url)
                    conns[url] = conn
                    conn.execute_raw(f"UPDATE intent_leases SET until = {_NOW} + %s WHERE holder = %s",
                                     (lease_seconds(), holder()))
                except Exception as exc:  # noqa: BLE001 - the server away: the next round tries again
                    log.warning("renewing this process's intent leases failed (%s); trying again", exc)
                    conns.pop(url, None)


_renewer = _Renewer()
