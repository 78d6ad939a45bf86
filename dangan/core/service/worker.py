"""``dangan worker`` as a user runs it: extraction and index jobs taken from the catalogue's queue as that user.

Like the watcher, a worker writes versions of records (their text derivatives), so it acts as a registered
user allowed to ingest (once any users exist); the refusal is audited before any job is claimed.
"""
from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from dangan.core.policy.users import acting_user

if TYPE_CHECKING:
    from dangan.core.archive import Archive
    from dangan.core.store.leased_jobs import Summary


def work(archive: Archive, *, jobs: tuple[str, ...], once: bool, lease_seconds: float, idle_seconds: float = 2.0,
         stop: threading.Event | None = None) -> Summary:
    """Run a worker over ``archive`` until ``stop`` (or, with ``once``, until the queue is empty)."""
    from dangan.core.store import leased_jobs
    acting_user(archive, action="ingest")
    return leased_jobs.run(archive, jobs=jobs, once=once, lease_seconds=lease_seconds, idle_seconds=idle_seconds,
                           stop=stop)


__all__ = ["work"]
