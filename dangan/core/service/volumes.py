"""A volume's life as a user lives it: show, rename (the title), close (封卷) and re-open, each with the
acting user resolved and the role checked in core; the work and the audit are ``management.volume_life``'s."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dangan.core.policy.users import acting_user, register_in_use, require_role

if TYPE_CHECKING:
    from dangan.core.archive import Archive

#: Who closes a volume and names its title: the archive's staff.
KEEPERS = ("archivist", "admin")
#: Who re-opens a closed one: it undoes the checker's check.
REOPENERS = ("manager", "admin")


def _require(archive: Archive, roles, what: str, name: str) -> None:
    if register_in_use(archive):
        require_role(archive, roles, what, obj=name)
    else:
        acting_user(archive, action=what, obj=name)


def show(archive: Archive, name: str) -> dict[str, Any]:
    """The volume's fields, counts (of the records the user may see), pages, date range, retention, filer,
    checker and status, with its records in volume order (``items``: item number, id, code, title, date)."""
    from dangan.core.catalogue.volumes import require_named_volume
    from dangan.core.policy.users import clearance_rank, deny
    from dangan.core.service.forms import volume_contents
    from dangan.model import secrecy_rank
    u = acting_user(archive, action="view volumes", obj=name)
    vol = require_named_volume(archive, name)
    if register_in_use(archive) and clearance_rank(u.clearance) < secrecy_rank(vol.secrecy):
        raise deny(archive, "view volumes", name, f"{u.name} (clearance {u.clearance}) is not cleared for the "
                   f"{vol.secrecy} volume {name!r}")
    volume, records, _summary = volume_contents(archive, name)
    volume["items"] = [{"item": i, "id": r.id, "archival_code": r.archival_code, "title": r.title, "date": r.date}
                       for i, r in enumerate(records, 1)]
    return volume


def rename(archive: Archive, name: str, title: str) -> dict[str, Any]:
    from dangan.core.management.volume_life import set_title
    _require(archive, KEEPERS, "rename volumes", name)
    return set_title(archive, name, title)


def close(archive: Archive, name: str, *, checker: str, filer: str | None = None,
          notes: str | None = None) -> dict[str, Any]:
    from dangan.core.management.volume_life import close as run
    _require(archive, KEEPERS, "close volumes", name)
    return run(archive, name, checker=checker, filer=filer, notes=notes)


def reopen(archive: Archive, name: str, *, reason: str) -> dict[str, Any]:
    from dangan.core.management.volume_life import reopen as run
    _require(archive, REOPENERS, "re-open closed volumes", name)
    return run(archive, name, reason=reason)


def move(archive: Archive, ref: str, volume: str, message: str = ""):
    """Move a record into another volume (a new version whose ``changes`` say from and to) under the filing
    rules: the volume exists, is open, and may hold the record's secrecy; neither volume is closed.
    A move into or out of a confidential volume is refused (``check_refiling``): its records are sealed at
    filing, and a plaintext record's earlier versions would stay behind."""
    from dataclasses import replace

    from dangan.core.catalogue.fields import RecordFields
    from dangan.core.catalogue.volumes import file_into, require_named_volume
    from dangan.core.service.records import revise
    acting_user(archive, action="move records", obj=ref)
    rec = archive.record(ref)
    target = require_named_volume(archive, volume)
    if rec.volume == target.name:
        from dangan.errors import UsageError
        raise UsageError(f"record {rec.id} is in volume {target.name!r} already")
    if not target.confidential:
        file_into(archive, replace(rec, tags=list(rec.tags), metadata=dict(rec.metadata)), target)
    return revise(archive, rec.id, None, RecordFields(volume=target.name),
                  message or f"moved from volume {rec.volume or '(none)'} to {target.name}")


__all__ = ["show", "rename", "close", "reopen", "move"]
