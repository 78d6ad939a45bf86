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

:func:`commit_versions` is the same protocol for a group of new records (group commit, ``dangan ingest``
of many files): one transaction commits every intent row; then ONE catalogue transaction runs each
version's checks and rows (each inside a savepoint, so a refused file leaves the others untouched), the
whole group is published with two filesystem syncs (``repository/ocfl_group``), and the transaction
commits.  A failure or a kill -9 anywhere leaves intent rows that settle each version as above.

On a bucket, version 1 of a new record (a group's, or one record's with ``new_object``) has its declaration
and content uploaded *between* 1 and 2 (``ocfl_group.upload_new_objects``), outside the catalogue's write
lock: only ``metadata.json`` (it carries the archival code given in the transaction) and the inventories are
put inside it.  Until its sidecar the object does not exist, so a crash there is settled as any other (its
keys deleted by recovery); a record refused in the transaction has its uploaded keys deleted there
(``ocfl_group.withdraw_new_object``), before its intent row goes.
"""
from __future__ import annotations

import os
import socket
import sqlite3
from dataclasses import dataclass
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
#: Tests only: ``after-begin:FILE`` or ``after-publish:FILE`` makes the writer, at that point inside its catalogue
#: transaction, create FILE and wait (at most a minute) until FILE is gone (tests/catalogue/test_pg_restart_in_ingest.py)
PAUSE_IN_WRITE = "DANGAN_TEST_PAUSE_IN_WRITE"


def _test_hooks(point: str) -> None:
    """The tests' ways into the transaction around publishing (the variables above)."""
    if point == "after-publish" and os.environ.get(EXIT_AFTER_PUBLISH):
        os._exit(137)                            # as kill -9 would
    where, _, hold = os.environ.get(PAUSE_IN_WRITE, "").partition(":")
    if where == point and hold:
        import time
        with open(hold, "x") as fh:
            fh.write(str(os.getpid()))
        deadline = time.monotonic() + 60
        while os.path.exists(hold) and time.monotonic() < deadline:
            time.sleep(0.02)
#: Tests only: the process dies right after a new record's content is uploaded ahead of its transaction
#: (tests/s3/test_s3_early_upload.py).
EXIT_AFTER_UPLOAD = "DANGAN_TEST_EXIT_AFTER_UPLOAD"


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
    write_intents(archive, [(object_id, source)])


def write_intents(archive: VersionWriter, items: list[tuple[str, str]]) -> None:
    """Commit the intent rows of (object id, source) pairs in one transaction."""
    pid, host, now = os.getpid(), socket.gethostname(), utc_text()
    try:
        with archive.transaction() as conn:
            if leases.applies(conn):
                for oid, _source in items:           # the leases other machines' recovery respects (PostgreSQL)
                    leases.hold(conn, "ingest", oid)
            conn.executemany("INSERT OR REPLACE INTO ingest_intents (object_id, pid, host, source, started)"
                             " VALUES (?, ?, ?, ?, ?)", [(oid, pid, host, source, now) for oid, source in items])
    except BaseException:
        for oid, _source in items:                   # no intent committed: no lease held either
            _release_lease(archive, oid)
        raise


def settle_after_failure(archive: VersionWriter, object_id: str) -> str | None:
    """The transaction failed: adopt what was published, or forget the intent (left for recovery if that fails).
    Returns what settling did ("adopted", "forgotten", "current"), None if it could not."""
    from dangan.core.store.recovery import settle_intent
    try:
        return settle_intent(archive, object_id)  # type: ignore[arg-type]  # an Archive in practice
    except DanganError:
        return None   # left for recovery at the next run; the intent row stays


def _catalogue_lost(exc: BaseException) -> bool:
    """``exc`` is the catalogue server gone in the middle of the transaction (a restart, a failover), not a refusal."""
    from dangan.core.catalogue.db import ConnectionLost
    return isinstance(exc, ConnectionLost) or isinstance(exc.__cause__, ConnectionLost)


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
                   after_publish: Callable[[sqlite3.Connection], None], new_object: bool = False) -> str:
    """Write one new version of ``object_id`` by the protocol in this module's docstring; returns "committed", or
    "adopted": the catalogue server went away after the version was published and settling the intent at once
    (on a new session) adopted it, so it is written all the same (as :func:`commit_versions` counts it).

    ``before_publish(conn)`` runs inside the transaction before anything is published: it makes the
    caller's checks (refusing by raising) and returns the version's ``metadata.json``.
    ``after_publish(conn)`` writes the caller's catalogue rows and audit event in the same transaction.
    ``source`` is what the intent row names (a file name, or a placeholder such as ``(revision)``).
    ``new_object``: version 1 of a new record (its content is uploaded to a bucket before the transaction).
    """
    write_intent(archive, object_id, source)
    try:
        return _write_version(archive, object_id, draft, message, created, before_publish, after_publish,
                              new_object)
    finally:
        _release_lease(archive, object_id)


def _release_lease(archive: VersionWriter, object_id: str) -> None:
    """The intent row is gone (or recovery's now): so is the writer's lease (PostgreSQL)."""
    conn = getattr(archive, "conn", None)
    if conn is not None and leases.applies(conn):
        try:
            leases.release(conn, "ingest", object_id)
        except Exception:  # noqa: BLE001 - a lost connection released it already
            pass


def _write_version(archive: VersionWriter, object_id: str, draft, message: str, created: str,
                   before_publish, after_publish, new_object: bool = False) -> str:
    try:
        if new_object:
            _upload_ahead(archive, [draft])
        with archive.transaction() as conn:
            _test_hooks("after-begin")
            archive.audit_ready(conn)            # a broken audit trail is refused before publishing
            draft.add_bytes(METADATA_PATH, before_publish(conn))
            draft.publish(message=message, user_name=archive.actor.name, created=created)
            _test_hooks("after-publish")         # tests: the crash window between publish and commit
            after_publish(conn)
            queue_index(conn, object_id, queued=created)
            conn.execute("DELETE FROM ingest_intents WHERE object_id = ?", (object_id,))
    except Exception as exc:
        if settle_after_failure(archive, object_id) == "adopted" and _catalogue_lost(exc):
            return "adopted"
        raise
    except BaseException:
        settle_after_failure(archive, object_id)
        raise
    return "committed"


@dataclass
class PendingVersion:
    """Version 1 of a new record, staged (``draft``, made with ``durable=False``) and waiting for its group's
    commit.  The callbacks are :func:`commit_version`'s, given the archive that commits the group."""

    draft: VersionDraft
    object_id: str
    source: str
    message: str
    created: str
    before_publish: Callable[[VersionWriter, sqlite3.Connection], bytes]
    after_publish: Callable[[VersionWriter, sqlite3.Connection], None]


def commit_versions(archive: VersionWriter, group: list[PendingVersion], *,
                    cleanup: Callable[[VersionDraft], None] | None = None) -> list[BaseException | None]:
    """Commit a group of new records by the protocol (this module's docstring); one answer per version, in
    order: None (committed) or the exception that refused or failed it.  A refusal by ``before_publish``
    or ``after_publish`` (a duplicate, a taken archival code) leaves that one out; a failure of the whole
    group (disk full while publishing, a broken audit trail) settles every intent and is every answer.
    A version adopted from the store by that settling (published before the failure) counts as committed.
    ``cleanup`` gets each committed version's draft (its staging folders, empty by then) to discard later,
    off the committing path; without it they are discarded at once."""
    answers: list[BaseException | None] = [None] * len(group)
    if not group:
        return answers
    write_intents(archive, [(p.object_id, p.source) for p in group])
    try:
        return _commit_group(archive, group, answers, cleanup)
    finally:
        for p in group:
            _release_lease(archive, p.object_id)


def _upload_ahead(archive: VersionWriter, drafts: list[VersionDraft]) -> None:
    """New objects' content to a bucket before the catalogue transaction (nothing on a folder)."""
    from dangan.repository.ocfl_group import upload_new_objects
    upload_new_objects(archive.store, drafts)
    if os.environ.get(EXIT_AFTER_UPLOAD) and archive.store.remote:
        os._exit(137)                            # tests: the crash window between the upload and the transaction


def _commit_group(archive: VersionWriter, group: list[PendingVersion], answers: list[BaseException | None],
                  cleanup: Callable[[VersionDraft], None] | None = None) -> list[BaseException | None]:
    from dangan.repository.ocfl_group import publish_new_objects, withdraw_new_object
    chosen: list[int] = []
    try:
        _upload_ahead(archive, [p.draft for p in group])
        with archive.transaction() as conn:
            _test_hooks("after-begin")
            archive.audit_ready(conn)
            checkpoint = getattr(archive, "audit_checkpoint", lambda: None)()
            for i, p in enumerate(group):
                conn.execute("SAVEPOINT one_version")
                sealed = (checkpoint.seq, checkpoint.hash) if checkpoint is not None else None
                try:
                    p.draft.add_bytes(METADATA_PATH, p.before_publish(archive, conn))
                    p.after_publish(archive, conn)
                    queue_index(conn, p.object_id, queued=p.created)
                    conn.execute("DELETE FROM ingest_intents WHERE object_id = ?", (p.object_id,))
                    conn.execute("RELEASE one_version")
                    chosen.append(i)
                except Exception as exc:  # noqa: BLE001 - this file is refused; the others go on
                    conn.execute("ROLLBACK TO one_version")
                    conn.execute("RELEASE one_version")
                    if sealed is not None and checkpoint is not None:   # its audit event, if any, went with the savepoint
                        checkpoint.seq, checkpoint.hash = sealed
                    answers[i] = exc
                    withdraw_new_object(archive.store, p.draft)   # its uploaded keys, before its intent goes
                    conn.execute("DELETE FROM ingest_intents WHERE object_id = ?", (p.object_id,))
                    p.draft.discard()
            publish_new_objects(archive.store, [(group[i].draft, group[i].message, archive.actor.name,
                                                 group[i].created) for i in chosen], keep_published=True)
            _test_hooks("after-publish")         # tests: the crash window between publish and commit
    except BaseException as exc:
        for i, p in enumerate(group):
            p.draft.discard()
            settle_after_failure(archive, p.object_id)   # a refused one's too: its intent row came back with
            if answers[i] is None and not _committed(archive, p.object_id):   # the rollback, maybe its keys
                answers[i] = exc
        if not isinstance(exc, Exception):
            raise                                # KeyboardInterrupt and the like: after settling
        return answers
    for i in chosen:                             # committed: their staging folders (empty) go
        (cleanup or _discard)(group[i].draft)
    return answers


def _discard(draft: VersionDraft) -> None:
    draft.discard()


def _committed(archive: VersionWriter, object_id: str) -> bool:
    conn = getattr(archive, "conn", None)
    return conn is not None and conn.execute("SELECT 1 FROM records WHERE id = ?", (object_id,)).fetchone() is not None
