"""Watched drop folders as a user runs them: files dropped in are archived as that user.

Before, the watcher ingested for whoever started it; now it is a registered user (once any exist), like
``ingest``, and the refusal is audited before any folder is read.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from dangan.core.policy.users import acting_user

if TYPE_CHECKING:
    from dangan.core.archive import Archive
    from dangan.core.status import Section
    from dangan.core.watch.config import DropFolder
    from dangan.core.watch.watcher import Watcher


def watcher(archive: Archive, folders: list[DropFolder], *, rescan_seconds: float | None = None) -> Watcher:
    """A watcher over ``folders`` acting as the archive's user (``rescan_seconds``: default ``[watch]``'s);
    the face runs it (``Watcher.run``) and stops it (``Watcher.stop``) on a signal."""
    from dangan.core.watch.config import watch_settings
    from dangan.core.watch.watcher import Watcher
    acting_user(archive, action="ingest")
    return Watcher(archive, folders, rescan_seconds=rescan_seconds or watch_settings(archive.config)["rescan_seconds"])


def status(archive: Archive) -> list[Section]:
    """``dangan status``: the watcher, the queues (to archive, extract, index), recent errors — for a registered
    user (once any exist), as every other call: the sections name files."""
    from dangan.core.status import collect
    acting_user(archive, action="status")
    return collect(archive)


__all__ = ["watcher", "status"]
