"""Who a request is, and the archive it acts on.

Each worker thread keeps one opened ``Archive`` (its catalogue connection, loaded plugins, open index);
a request borrows its thread's archive with the actor set to the signed-in user,
``Actor(name=USER, session="web:USER")``: the user the face authenticated (password session or API
token), one identity per person for the four-eyes rules.  The volume keys an archive caches are
forgotten before and after each request (unlocks are per user and expire).  An anonymous request acts as ``web``,
which is no registered user, so every core call that asks who acts refuses it.
"""
from __future__ import annotations

import threading
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from dangan.core.kernel.actor import Actor, os_identity

ANONYMOUS = "web"


@dataclass(frozen=True)
class Settings:
    root: Path
    max_upload_bytes: int = 100 * 1024 * 1024
    secure_cookies: bool = False
    session_cookie: str = "dangan_session"
    #: uvicorn worker processes (``dangan serve --workers``): a server unlock needs one, holding the key
    workers: int = 1
    #: how often the server's search index applies the catalogue's change log (``[serve] follow_changes_seconds``;
    #: 0: only before each search)
    follow_seconds: float = 1.0


def web_actor(user: str | None) -> Actor:
    os_user, uid = os_identity()
    if user is None:
        return Actor(ANONYMOUS, os_user, overridden=True, uid=uid)
    return Actor(user, os_user, overridden=True, uid=uid, session=f"web:{user}")


#: What an ``Archive`` caches of a confidential volume for the life of the object (core.confidential.sealing):
#: the thread's archive serves many users, and unlocks are per user and expire, so none of it outlives a request.
KEY_CACHES = ("_record_keys", "_volume_keys")


def forget_keys(archive) -> None:
    for name in KEY_CACHES:
        archive.__dict__.pop(name, None)


class Archives:
    """One ``Archive`` per worker thread, lent to one request at a time."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self._local = threading.local()
        self._all: list = []
        self._lock = threading.Lock()

    @contextmanager
    def acting(self, user: str | None) -> Iterator:
        from dangan.core.archive import Archive
        archive = getattr(self._local, "archive", None)
        if archive is None:
            archive = Archive(self.root, web_actor(None))
            archive.plugins            # loaded once per thread: a request then never scans for entry points
            archive.keep_search_index = True     # one open index for all threads (core.search.held_index)
            self._local.archive = archive
            with self._lock:
                self._all.append(archive)
        forget_keys(archive)
        archive.actor = web_actor(user)
        archive.__dict__.pop("_audit_pending", None)
        try:
            yield archive
        finally:
            forget_keys(archive)
            archive.actor = web_actor(None)
            if archive.conn.in_transaction:          # never leave a read transaction open between requests
                archive.conn.execute("ROLLBACK")

    def close(self) -> None:
        from dangan.web import ops
        with self._lock:
            for a in self._all:
                ops.close(a)
                a.close()
            self._all.clear()
