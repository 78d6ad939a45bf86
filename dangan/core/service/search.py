"""Full-text search and reindexing as a user runs them."""
from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Callable

from dangan.core.policy.users import acting_user

if TYPE_CHECKING:
    from dangan.core.archive import Archive
    from dangan.index import SearchResults


def search(archive: Archive, text: str, *, sort: str = "relevance", limit: int = 20, page: int = 1,
           count_only: bool = False, options: dict | None = None,
           notice: Callable[[str], None] | None = None) -> SearchResults:
    """Catalogue and full text (words, "phrases", AND/OR/NOT, -word, dept: year:2019..2021 ...): the hits the
    acting user may see, unlocked confidential volumes merged in; the index is brought up to date first.

    ``options``: the ``ls`` options (department, category, year, secrecy, volume), ANDed as filters;
    ``notice`` hears that the index is being rebuilt (an archive of the previous release, a new engine).
    Clearance is applied inside the engine query (``search_access``); plugin rules per hit.
    """
    from dangan.core.search.held_index import search_index
    from dangan.core.search.indexing import ensure_fresh
    from dangan.core.search.search_access import search_access
    from dangan.core.search.volume_search import merged_search
    from dangan.index.query import option_filters
    acting_user(archive, action="search")
    filters = option_filters(**(options or {}))
    ensure_fresh(archive, notice=notice)
    access = search_access(archive, text)
    with search_index(archive, notice=notice) as index:
        return merged_search(archive, index, text, sort=sort, limit=limit, page=page, allowed=access.allowed,
                             within=access.within, filters=filters, count_only=count_only)


def facets(archive: Archive, text: str, *, options: dict | None = None) -> dict[str, dict[str, int]]:
    """Counts by department, year, category, secrecy, volume and format (``mime``) over ALL the hits ``search``
    gives this user for ``text`` (every page, the same access filtering), not only one page's."""
    from dangan.core.search.held_index import search_index
    from dangan.core.search.indexing import ensure_fresh
    from dangan.core.search.search_access import search_access
    from dangan.core.search.volume_search import merged_facets
    from dangan.index.query import option_filters
    acting_user(archive, action="search")
    filters = option_filters(**(options or {}))
    ensure_fresh(archive)
    access = search_access(archive, text)
    with search_index(archive) as index:
        return merged_facets(archive, index, text, allowed=access.allowed, within=access.within, filters=filters)


def release_indexes() -> None:
    """Drop the search indexes this process kept open between searches (``keep_search_index``: a server's)."""
    from dangan.core.search.held_index import release_all
    release_all()


def reindex(archive: Archive, progress: Callable[[int, int], None] | None = None,
            notice: Callable[[str], None] | None = None) -> int:
    """Rebuild the full-text index from the store alone; the number of records indexed."""
    from dangan.core.search.indexing import reindex as run
    acting_user(archive, action="reindex")
    return run(archive, progress, notice=notice)


def follow(archive: Archive, stop: threading.Event, interval: float = 1.0) -> None:
    """Keep this node's index following the catalogue's change log until ``stop`` is set: every ``interval``
    seconds, apply what other nodes (and this one) changed (``search.nodes``).  What ``dangan serve`` runs in a
    thread of its own, with an archive of its own; a failure is logged and tried again, never ends the loop."""
    import time

    from dangan.core.search.nodes import behind, catch_up, touch
    touched = 0.0
    while not stop.is_set():
        try:
            if behind(archive):
                catch_up(archive, blocking=False)
            if time.monotonic() - touched > 3600:      # an idle node is still a node: the log waits for it
                touch(archive)
                touched = time.monotonic()
        except Exception as exc:  # noqa: BLE001 - a background loop: the catalogue away, a damaged index ...
            import logging                  # only on this path: a search imports no logging (start-up)
            logging.getLogger("dangan.index").warning(
                "dangan: the search index could not follow the change log (tried again): %s", exc)
        stop.wait(interval)


__all__ = ["search", "facets", "reindex", "release_indexes", "follow"]
