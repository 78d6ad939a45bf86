"""Approving pending records (e.g. construction information signed off by the project manager)."""
from __future__ import annotations

from typing import TYPE_CHECKING

from dangan.errors import UsageError
from dangan.core.policy.access import require
from dangan.core.store.ingest import Ingestor

if TYPE_CHECKING:
    from dangan.core.archive import Archive


def approve(archive: Archive, ref: str, note: str = ""):
    """A pending record becomes active in a new version, if the plugins let this actor approve it."""
    rec = archive.record(ref)
    if rec.status != "pending":
        raise UsageError(f"record {rec.id} is {rec.status}, not pending approval")
    require(archive, "approve", rec)
    message = f"approved by {archive.actor.name}" + (f": {note}" if note else "")
    return Ingestor(archive).revise(rec.id, None, message=message, status="active", action="record.approve")


def pending_note(archive: Archive, rec) -> str:
    """What ingest says of a record that starts pending: why, and who approves it (the plugins' reasons)."""
    from dangan.plugins.types import Actor
    reasons = archive.plugins.access_reasons(Actor("-"), "view", rec)
    return "pending approval: " + ("; ".join(reasons) or f"hidden until approved (`dangan approve {rec.id}`)")
