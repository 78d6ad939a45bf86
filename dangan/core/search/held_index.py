"""The search index one search uses: opened and closed, or kept open for a server's archives.

A command searches once, so it opens the index and closes it.  A server's archives (one per worker thread)
serve search after search; opening a tantivy index (reading its meta and segment files) and closing it cost
a few milliseconds each, a fair share of an API search.  Archives with ``keep_search_index`` set (the web
face sets it on each worker thread's archive) share one open index per index folder in this process (the
index is thread-safe; one per thread would map its files and fill its caches once per thread), used while
the folder's marker file is the same file: a rebuild from scratch (a schema or engine change, a damaged
index set aside) writes a new marker (a new inode), so the next search opens the new index.  The old one is
dropped, not closed, since another thread may be searching it.  Between rebuilds new commits are seen as
ever (each search reloads the reader).  ``release_all`` drops the kept indexes (the server's shutdown).
"""
from __future__ import annotations

import os
import threading
from contextlib import contextmanager
from typing import TYPE_CHECKING, Callable, Iterator

if TYPE_CHECKING:
    from dangan.core.archive import Archive

_KEPT: dict[str, tuple[tuple | None, object]] = {}       # index folder -> (marker identity, open index)
_LOCK = threading.Lock()


def _identity(archive: Archive) -> tuple | None:
    from dangan.core.search.indexing import engine_dir, engine_of
    from dangan.index.common import MARKER
    engine = engine_of(archive)
    try:
        st = os.stat(engine_dir(archive, engine) / MARKER)
    except OSError:
        return None
    return engine, st.st_dev, st.st_ino, st.st_mtime_ns


@contextmanager
def search_index(archive: Archive, notice: Callable[[str], None] | None = None) -> Iterator:
    """The configured engine's index for one search (built first if there is none: ``open_search_index``)."""
    from dangan.core.search.indexing import open_search_index
    if not getattr(archive, "keep_search_index", False):
        index = open_search_index(archive, notice=notice)
        try:
            yield index
        finally:
            index.close()
        return
    from dangan.core.search.indexing import engine_dir, engine_of
    folder = str(engine_dir(archive, engine_of(archive)))
    ident = _identity(archive)
    kept = _KEPT.get(folder)
    if kept is not None and ident is not None and kept[0] == ident:
        yield kept[1]
        return
    index = open_search_index(archive, notice=notice)
    with _LOCK:
        _KEPT[folder] = (_identity(archive), index)     # a replaced index is dropped: another thread may use it
    yield index


def release_all() -> None:
    """Drop every kept index (the server's shutdown)."""
    with _LOCK:
        _KEPT.clear()


def kept_index(archive: Archive):
    """The index kept for this archive's index folder, or None."""
    from dangan.core.search.indexing import engine_dir, engine_of
    kept = _KEPT.get(str(engine_dir(archive, engine_of(archive))))
    return kept[1] if kept else None


__all__ = ["search_index", "release_all", "kept_index"]
