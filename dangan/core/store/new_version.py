"""The crash-safe new-version protocol: the one way a version of a record reaches the store and the catalogue.

Ingest (version 1), revision and the derivative-text version of deferred extraction all go through
:func:`commit_version`:

1. an *intent* row (object id, pid, host, what is being written) is committed first;
2. then ONE catalogue transaction: the audit trail is checked (a broken one is refused before
   anything is published), the caller's checks run and give the version's ``metadata.json``, the
   version is published to OCFL, the caller writes its catalogue rows and audit event, an
   index-outbox row is queued, and the intent row is deleted;
3. if anything in 2 fails, the intent is settled at once (``recovery.settle_intent``: a published
   version is adopted into the catalogue, an unpublished one forgotten); if even that fails, the
   intent row stays and ``recover_interrupted`` settles it at the next run.

A kill -9 anywhere therefore leaves each version written exactly once or not at all.
"""
from __future__ import annotations

import os
import socket
import sqlite3
from typing import TYPE_CHECKING, Callable, ContextManager, Mapping, Protocol

from dangan.errors import DanganError
from dangan.core.catalogue import leases
from dangan.core.catalogue.outbox import queue_index
from dangan.core.kernel.actor import Actor
from dangan.core.kernel.clock import utc_text
from dangan.core.store.layout import METADATA_PATH, text_path

if TYPE_CHECKING:
    from dangan.model import RecordFile
    from dangan.repository.ocfl import OcflStore, StoredFile, VersionDraft

#: Tests only: with this variable set, the process dies (as kill -9 would) right after publishing
#: (tests/catalogue/test_piece_counters.py).
EXIT_AFTER_PUBLISH = "DANGAN_TEST_EXIT_AFTER_PUBLISH"


class VersionWriter(Protocol):
    """What the protocol needs of an opened archive (``dangan.core.archive.Archive`` is one)."""

    @property
    def store(self) -> OcflStore: ...

    @property
    def actor(self) -> Actor: ...

    @property
    def conn(self) -> sqlite3.Connection: ...

    def transaction(self) -> ContextManager[sqlite3.Connection]: ...

    def audit_ready(self, conn: sqlite3.Connection) -> None: ...


def write_intent(archive: VersionWriter, object_id: str, source: str) -> None:
    """Commit the intent row for ``object_id``: who (pid, host) is writing what (``source``), since when."""
    with archive.transaction() as conn:
        if leases.applies(conn):
            leases.hold(conn, object_id)           # the lease other machines' recovery respects (PostgreSQL)
        conn.execute("INSERT OR REPLACE INTO ingest_intents (object_id, pid, host, source, started)"
                     " VALUES (?, ?, ?, ?, ?)", (object_id, os.getpid(), socket.gethostname(), source, utc_text()))


def settle_after_failure(archive: VersionWriter, object_id: str) -> None:
    """The transaction failed: adopt what was published, or forget the intent (left for recovery if that fails)."""
    from dangan.core.store.recovery import settle_intent
    try:
        settle_intent(archive, object_id)  # type: ignore[arg-type]  # an Archive in practice
    except DanganError:
        pass   # left for recovery at the next run; the intent row stays


def carry_over(draft: VersionDraft, stored: Mapping[str, StoredFile], entry: RecordFile) -> None:
    """Keep a file of the previous version (and its derivatives: text, thumbnail, PDF/A copy) in the new one,
    uncopied."""
    kept = stored[entry.path]
    draft.keep(entry.path, kept.digest)
    from dangan.core.store.layout import thumbnail_path
    from dangan.core.store.pdfa import pdfa_path
    for tp in (text_path(entry.path), thumbnail_path(entry.path), pdfa_path(entry.path)):
        if tp in stored:
            draft.keep(tp, stored[tp].digest)


def commit_version(archive: VersionWriter, draft: VersionDraft, object_id: str, *, source: str, message: str,
                   created: str, before_publish: Callable[[sqlite3.Connection], bytes],
                   after_publish: Callable[[sqlite3.Connection], None]) -> None:
    """Write one new version of ``object_id`` by the protocol in this module's docstring.

    ``before_publish(conn)`` runs inside the transaction before anything is published: it makes the
    caller's checks (refusing by raising) and returns the version's ``metadata.json``.
    ``after_publish(conn)`` writes the caller's catalogue rows and audit event in the same transaction.
    ``source`` is what the intent row names (a file name, or a placeholder such as ``(revision)``).
    """
    write_intent(archive, object_id, source)
    try:
        _write_version(archive, object_id, draft, message, created, before_publish, after_publish)
    finally:
        conn = archive.conn
        if leases.applies(conn):
            try:
                leases.release(conn, object_id)    # the intent row is gone (or recovery's now): so is the lease
            except Exception:
                pass                               # a lost connection released it already


def _write_version(archive: VersionWriter, object_id: str, draft, message: str, created: str,
                   before_publish, after_publish) -> None:
    try:
        with archive.transaction() as conn:
            archive.audit_ready(conn)            # a broken audit trail is refused before publishing
            draft.add_bytes(METADATA_PATH, before_publish(conn))
            draft.publish(message=message, user_name=archive.actor.name, created=created)
            if os.environ.get(EXIT_AFTER_PUBLISH):
                os._exit(137)                    # tests: the crash window between publish and commit
            after_publish(conn)
            queue_index(conn, object_id, queued=created)
            conn.execute("DELETE FROM ingest_intents WHERE object_id = ?", (object_id,))
    except BaseException:
        settle_after_failure(archive, object_id)
        raise
