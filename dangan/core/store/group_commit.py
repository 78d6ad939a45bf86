"""Group commit for a batch ingest: staged records wait here and are committed together.

Profiling ``dangan ingest`` of 1,000 small files (issue 15) found about 23 fsyncs and two catalogue
commits per record, a third of its time.  A :class:`CommitGroup` collects up to :data:`GROUP_SIZE`
staged records (their drafts made without per-file fsyncs) in input order and commits them with
``new_version.commit_versions``: one transaction for their intent rows, one filesystem sync for all
their files, one rename per object, a second sync, one catalogue transaction.  "Every file archived
exactly once or not at all" holds as for one record: each has its intent row before anything of it is
published, and recovery settles each one alone.

The group commits through an :class:`~dangan.core.archive.Archive` of its own (its own catalogue
connection), since the batch's worker threads each stage with theirs; one committing thread of the group's
own uses it, so the staging threads go on with the next files while a group commits (issue 15, third
pass).  Groups are handed over in input order (under the batch's turns) and committed in that order, so
archival codes still follow the input.  Each record's :class:`Settled` says, once its group
is committed, whether it was (``error`` None) and holds the work to do after archiving (plugin
alerts), run by the committing thread.
"""
from __future__ import annotations

import queue
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

from dangan.core.store.new_version import PendingVersion, commit_versions
from dangan.errors import StorageFull, StoreUnavailable

if TYPE_CHECKING:
    from dangan.core.archive import Archive

#: Records per group: 64 small files commit in one transaction; a batch's outcomes are reported as each
#: group commits (and at the end).
GROUP_SIZE = 64
#: ... and at most this many staged bytes: large files commit a few at a time, so the staging folder holds
#: little more than this and a bucket store's uploads of one group overlap the staging of the next
GROUP_BYTES = 256 * 1024 * 1024

#: Full groups that may wait for the committing thread before staging waits too.
IN_FLIGHT = 2


@dataclass
class Settled:
    """One record's place in a group: set when the group is committed."""

    object_id: str
    after: Callable[[Archive], object] | None = None
    record: Any = None                  # the Record: its archival code is given when the group commits
    error: BaseException | None = None
    done: threading.Event = field(default_factory=threading.Event)


class CommitGroup:
    """Groups of staged records, committed in input order by one committing thread of its own.

    A full group is handed to that thread and the staging threads go on with the next files while it
    commits (its filesystem syncs and renames overlap their hashing and extraction); at most
    :data:`IN_FLIGHT` full groups wait for it, so staging never runs far ahead of the store.
    :meth:`flush` hands over what is queued and waits until every group handed over is committed."""

    def __init__(self, archive: Archive, size: int = GROUP_SIZE) -> None:
        # an archive object of its own (own catalogue connection), of the caller's own kind: store sits below
        # core.archive in the layer order and does not import it
        self.archive = type(archive)(archive.root, archive.actor, extra_plugins=archive.extra_plugins)
        self.size = max(1, size)
        self._waiting: list[tuple[PendingVersion, Settled]] = []
        self._bytes = 0
        self._settled: dict[str, Settled] = {}
        self._lock = threading.Lock()
        self._groups: queue.Queue[list[tuple[PendingVersion, Settled]] | None] = queue.Queue(maxsize=IN_FLIGHT)
        self._failure: BaseException | None = None      # what stopped a group's commit; raised by flush
        self._stopper: BaseException | None = None      # a failure no later group can get past
        self._committer: threading.Thread | None = None
        # committed records' staging folders (empty by then) are removed by a thread of their own: an rmdir
        # costs a journal write, and the next group need not wait for them
        self._leftovers: queue.Queue[Any] = queue.Queue()
        self._janitor: threading.Thread | None = None

    def add(self, pending: PendingVersion, after: Callable[[Archive], object] | None = None,
            record: Any = None) -> Settled:
        """Queue a staged record (in input order); a full group is handed to the committing thread."""
        item = Settled(pending.object_id, after, record)
        with self._lock:
            self._waiting.append((pending, item))
            self._settled[pending.object_id] = item
            self._bytes += sum(getattr(pending.draft, "sizes", {}).values())
            batch = None
            if len(self._waiting) >= self.size or self._bytes >= GROUP_BYTES:
                batch, self._waiting, self._bytes = self._waiting, [], 0
        if batch:
            self._hand_over(batch)
        return item

    def take(self, object_id: str) -> Settled | None:
        """The :class:`Settled` of a queued record (once; None if it was never queued)."""
        with self._lock:
            return self._settled.pop(object_id, None)

    def flush(self) -> None:
        """Commit every queued record now: returns once every group handed over is committed."""
        with self._lock:
            batch, self._waiting, self._bytes = self._waiting, [], 0
        if batch:
            self._hand_over(batch)
        if self._committer is not None:
            self._groups.join()
        failure, self._failure = self._failure, None
        if failure is not None:
            raise failure

    def _hand_over(self, batch: list[tuple[PendingVersion, Settled]]) -> None:
        with self._lock:
            if self._committer is None:
                self._committer = threading.Thread(target=self._commit_loop, name="dangan-commit", daemon=True)
                self._committer.start()
                self._janitor = threading.Thread(target=self._clean_loop, name="dangan-staging-cleanup",
                                                 daemon=True)
                self._janitor.start()
        self._groups.put(batch)          # blocks while IN_FLIGHT groups wait: staging waits for the store

    def _commit_loop(self) -> None:
        while True:
            batch = self._groups.get()
            try:
                if batch is None:
                    return
                self._commit(batch)
            except Exception:  # noqa: BLE001 - every record of the group was told (its Settled.error)
                pass
            except BaseException as exc:  # noqa: BLE001 - KeyboardInterrupt and the like: raised by flush, in
                self._failure = self._failure or exc       # the batch's own thread
            finally:
                self._groups.task_done()

    def _clean_loop(self) -> None:
        while True:
            draft = self._leftovers.get()
            if draft is None:
                return
            draft.discard()          # a crash before this leaves empty folders that sweep_staging removes

    def _commit(self, batch: list[tuple[PendingVersion, Settled]]) -> None:
        answers: list[BaseException | None] = []
        try:
            if self._stopper is not None:         # the store out of reach, the disk full: the groups queued behind
                for p, _ in batch:                # the one that met it are not tried (no intent was written yet)
                    p.draft.discard()
                answers = [self._stopper] * len(batch)
                return
            answers = commit_versions(self.archive, [p for p, _ in batch], cleanup=self._leftovers.put)
            self._stopper = next((a for a in answers if isinstance(a, (StoreUnavailable, StorageFull))), None)
        except BaseException as exc:            # KeyboardInterrupt: every record told, then it goes on
            answers = [exc] * len(batch)
            raise
        finally:
            for (_p, item), answer in zip(batch, answers or [None] * len(batch)):
                item.error = answer
                if answer is None and item.after is not None:
                    try:
                        item.after(self.archive)
                    except Exception:  # noqa: BLE001 - the record is archived; an alert hook's bug must not undo that
                        import logging
                        logging.getLogger("dangan.ingest").error("after-archive hook failed for %s",
                                                                 item.object_id, exc_info=True)
                item.done.set()

    def close(self) -> None:
        try:
            self.flush()
        finally:
            if self._committer is not None:
                self._groups.put(None)
                self._committer.join()
                self._committer = None
            if self._janitor is not None:       # the staging folder is left empty, as the tests expect
                self._leftovers.put(None)
                self._janitor.join()
                self._janitor = None
            self.archive.close()
