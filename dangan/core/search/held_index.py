"""The search index one search uses: opened and closed, or kept open on a server thread's archive.

A command searches once, so it opens the index and closes it.  A server thread's ``Archive`` serves search
after search; opening a tantivy index (reading its meta and segment files) and closing it cost a few
milliseconds each, a fair share of an API search.  An archive with ``keep_search_index`` set (the web face
sets it on each worker thread's archive) keeps the index it opened, and uses it while the index folder's
marker file is the same file: a rebuild (``dangan reindex``, a schema or engine change) writes a new marker
(a new inode), so the next search closes the kept index and opens the new one.  Between those, new commits
are seen as ever (each search reloads the reader).  ``release`` closes the kept index (the server's
shutdown).
"""
from __future__ import annotations

import os
from contextlib import contextmanager
from typing import TYPE_CHECKING, Callable, Iterator

if TYPE_CHECKING:
    from dangan.core.archive import Archive

_KEPT = "_kept_search_index"


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
    kept = archive.__dict__.get(_KEPT)
    ident = _identity(archive)
    if kept is not None and ident is not None and kept[0] == ident:
        yield kept[1]
        return
    release(archive)
    index = open_search_index(archive, notice=notice)
    archive.__dict__[_KEPT] = (_identity(archive), index)
    yield index


def release(archive: Archive) -> None:
    """Close the index an archive keeps, if any."""
    kept = archive.__dict__.pop(_KEPT, None)
    if kept is not None:
        kept[1].close()


__all__ = ["search_index", "release"]
