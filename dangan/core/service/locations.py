"""Locations and boxes as a user handles them: the archive's staff add, fill and move; anyone who may
view a record asks where its paper original is (and whether it is out on loan)."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Sequence

from dangan.core.policy.users import acting_user
from dangan.core.service.volumes import KEEPERS, _require

if TYPE_CHECKING:
    from dangan.core.archive import Archive


def add(archive: Archive, kind: str, name: str, parent: str | None = None) -> dict[str, Any]:
    from dangan.core.management import locations
    _require(archive, KEEPERS, "manage locations", name)
    return locations.add(archive, kind, name, parent)


def fill(archive: Archive, box: str, refs: Sequence[str]) -> list[str]:
    from dangan.core.catalogue.tombstones import assert_alive
    from dangan.core.management import locations
    _require(archive, KEEPERS, "fill boxes", box)
    if not refs:
        from dangan.errors import UsageError
        raise UsageError("name the records whose paper originals go into the box")
    recs = [archive.record(r) for r in dict.fromkeys(refs)]
    for rec in recs:
        assert_alive(archive, rec, "boxed")
    return locations.fill(archive, box, [r.id for r in recs])


def move(archive: Archive, box: str, to: str | None) -> dict[str, Any]:
    from dangan.core.management import locations
    _require(archive, KEEPERS, "move boxes", box)
    return locations.move(archive, box, to)


def list_all(archive: Archive) -> list[dict[str, Any]]:
    from dangan.core.management import locations
    acting_user(archive, action="list locations")
    return locations.list_locations(archive)


def where(archive: Archive, ref: str) -> dict[str, Any]:
    """Where the record's paper original is: its box and the path to its room, and the loan it is out on."""
    from dangan.core.management import locations
    from dangan.core.management.lending import on_loan
    from dangan.core.policy.access import require
    from dangan.errors import NotFound
    acting_user(archive, action="view", obj=ref)
    rec = archive.record(ref)
    require(archive, "view", rec)
    place = locations.where(archive, rec.id)
    if place is None:
        raise NotFound(f"record {rec.id} has no paper original on the shelves (`dangan box fill BOX {rec.id}`)")
    place["on_loan"] = on_loan(archive, rec.id)
    return place


__all__ = ["add", "fill", "move", "list_all", "where"]
