"""Group commit for a batch ingest: staged records wait here and are committed together.

Profiling ``dangan ingest`` of 1,000 small files (issue 15) found about 23 fsyncs and two catalogue
commits per record, a third of its time.  A :class:`CommitGroup` collects up to :data:`GROUP_SIZE`
staged records (their drafts made without per-file fsyncs) in input order and commits them with
``new_version.commit_versions``: one transaction for their intent rows, one filesystem sync for all
their files, one rename per object, a second sync, one catalogue transaction.  "Every file archived
exactly once or not at all" holds as for one record: each has its intent row before anything of it is
published, and recovery settles each one alone.

The group commits through an :class:`~dangan.core.archive.Archive` of its own (its own catalogue
connection), since the batch's worker threads each stage with theirs; commits are serialised by the
batch's turns, so one thread at a time uses it.  Each record's :class:`Settled` says, once its group
is committed, whether it was (``error`` None) and holds the work to do after archiving (plugin
alerts), run by the committing thread.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

from dangan.core.store.new_version import PendingVersion, commit_versions

if TYPE_CHECKING:
    from dangan.core.archive import Archive

#: Records per group: 64 small files commit in one transaction; a batch's outcomes are reported as each
#: group commits (and at the end).
GROUP_SIZE = 64
#: ... and at most this many staged bytes: large files commit a few at a time, so the staging folder holds
#: little more than this and a bucket store's uploads of one group overlap the staging of the next
GROUP_BYTES = 256 * 1024 * 1024


@dataclass
class Settled:
    """One record's place in a group: set when the group is committed."""

    object_id: str
    after: Callable[[Archive], object] | None = None
    record: Any = None                  # the Record: its archival code is given when the group commits
    error: BaseException | None = None
    done: threading.Event = field(default_factory=threading.Event)


class CommitGroup:
    def __init__(self, archive: Archive, size: int = GROUP_SIZE) -> None:
        # an archive object of its own (own catalogue connection), of the caller's own kind: store sits below
        # core.archive in the layer order and does not import it
        self.archive = type(archive)(archive.root, archive.actor, extra_plugins=archive.extra_plugins)
        self.size = max(1, size)
        self._waiting: list[tuple[PendingVersion, Settled]] = []
        self._bytes = 0
        self._settled: dict[str, Settled] = {}
        self._lock = threading.Lock()

    def add(self, pending: PendingVersion, after: Callable[[Archive], object] | None = None,
            record: Any = None) -> Settled:
        """Queue a staged record (in input order); the group is committed when it is full."""
        item = Settled(pending.object_id, after, record)
        with self._lock:
            self._waiting.append((pending, item))
            self._settled[pending.object_id] = item
            self._bytes += sum(getattr(pending.draft, "sizes", {}).values())
            full = len(self._waiting) >= self.size or self._bytes >= GROUP_BYTES
        if full:
            self.flush()
        return item

    def take(self, object_id: str) -> Settled | None:
        """The :class:`Settled` of a queued record (once; None if it was never queued)."""
        with self._lock:
            return self._settled.pop(object_id, None)

    def flush(self) -> None:
        """Commit every queued record now."""
        with self._lock:
            batch, self._waiting, self._bytes = self._waiting, [], 0
        if not batch:
            return
        answers: list[BaseException | None] = []
        try:
            answers = commit_versions(self.archive, [p for p, _ in batch])
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
        self.flush()
        self.archive.close()
