"""The catalogue's engine, as faces call it: moving an embedded catalogue to PostgreSQL (admins only, audited)."""
from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dangan.core.archive import Archive
    from dangan.core.catalogue.transfer import MoveReport


def migrate_catalogue(archive: Archive, url: str) -> MoveReport:
    """``dangan catalogue migrate --to URL``: see :mod:`dangan.core.catalogue.transfer`."""
    from dangan.core.catalogue.transfer import move_to_postgres
    from dangan.core.policy.users import register_in_use, require_role
    if register_in_use(archive):
        require_role(archive, {"admin"}, "move the catalogue", obj="catalogue")
    return move_to_postgres(archive, url)
