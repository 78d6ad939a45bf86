"""Legal holds (冻结) as a user places and releases them; ``registers.holds`` lists them."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterable

from dangan.core.policy.users import acting_user

if TYPE_CHECKING:
    from dangan.core.archive import Archive


def add(archive: Archive, refs: Iterable[str] = (), *, volume: str | None = None, query: str | None = None,
        reason: str, authority: str) -> dict[str, Any]:
    """Place a hold on records, a volume (records added later too) or a query's records (legal, archivist,
    admin); held records cannot be destroyed or revised."""
    from dangan.core.management.holds import add_hold
    acting_user(archive, action="place legal holds")
    return add_hold(archive, list(refs), volume=volume, query=query, reason=reason, authority=authority)


def release(archive: Archive, hold_id: str, reason: str) -> dict[str, Any]:
    """Release a hold (other holds on the same records stay)."""
    from dangan.core.management.holds import release_hold
    acting_user(archive, action="release legal holds", obj=hold_id)
    return release_hold(archive, hold_id, reason)


__all__ = ["add", "release"]
