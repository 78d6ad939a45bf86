"""Opening an archive the way every face must before it serves a request.

``open_archive`` opens it as the acting user, hands the opening warnings to the face, and first completes a
destruction a crash interrupted (one cheap query when none is), so no face can forget that step.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:
    from dangan.core.archive import Archive
    from dangan.core.kernel.actor import Actor


def open_archive(path: str | Path | None, actor: Actor | None, *,
                 on_warning: Callable[[str], None] | None = None) -> Archive:
    """The archive at ``path`` (default: $DANGAN_ARCHIVE, else the nearest dangan.toml upward) opened for
    ``actor``; ``on_warning`` hears what the face should show (an unusual permission, a pending completion)."""
    from dangan.core.archive import Archive
    archive = Archive.open(path, actor=actor)
    for warning in archive.warnings:
        if on_warning:
            on_warning(warning)
    complete_destructions(archive, on_warning)
    return archive


def complete_destructions(archive: Archive, on_warning: Callable[[str], None] | None = None) -> None:
    """Complete a destruction a crash interrupted; a damaged catalogue or trail is left for the operation
    itself to report."""
    import sqlite3

    from dangan.core.management.destruction_pending import destruction_pending
    from dangan.errors import DanganError, IntegrityError
    try:
        if destruction_pending(archive):    # the protocol's module is loaded only when there is work for it
            from dangan.core.management.destruction_intent import recover
            recover(archive)
    except (sqlite3.DatabaseError, IntegrityError):
        pass
    except DanganError as exc:
        if on_warning:
            on_warning(f"an interrupted destruction is not completed yet: {exc.message}")
    complete_moves(archive, on_warning)


def complete_moves(archive: Archive, on_warning: Callable[[str], None] | None = None) -> None:
    """Finish (or undo) a move into or out of a confidential volume that a crash interrupted (one look at
    ``.work/moving`` when none was)."""
    import sqlite3

    from dangan.errors import DanganError, IntegrityError
    moving = archive.work / "moving"
    if not (moving.is_dir() and any(moving.iterdir())):
        return
    from dangan.core.management.reseal import recover
    try:
        recover(archive)
    except (sqlite3.DatabaseError, IntegrityError):
        pass
    except DanganError as exc:
        if on_warning:
            on_warning(f"an interrupted move is not completed yet: {exc.message}")


__all__ = ["open_archive", "complete_destructions", "complete_moves"]
