"""Access filtering for search, inside the engine query where the rules allow it.

The policy point (``core.policy.access.view_restriction``) splits the view
rules: clearance becomes the secrecy values a hit may have, which the index
filters on in the same query as the words (exact totals, no per-hit Python);
only plugin rules, which may look at anything, are still asked per hit (the
record as the catalogue holds it, as before).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:
    from dangan.core.archive import Archive


@dataclass
class SearchAccess:
    within: dict[str, list[str]] | None        # filter field -> allowed values, applied by the engine
    allowed: Callable[[dict], bool] | None     # the per-hit check of plugin rules, or None


def search_access(archive: Archive, text: str = "") -> SearchAccess:
    """What the acting user may see among search hits (``text`` is the query: plugins hear its purpose)."""
    from dangan.core.policy.access import view_restriction
    within, by_plugins = view_restriction(archive)
    allowed = None
    from dangan.core.search.indexing import _catalogue_filters, search_filter
    if by_plugins or _catalogue_filters(text) is not None:     # format: is answered by the catalogue, per hit
        allowed = search_filter(archive, text)
    return SearchAccess(within=within, allowed=allowed)
