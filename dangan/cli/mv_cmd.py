"""`dangan mv ID --volume V`: move a record into another volume, under the filing rules."""
from __future__ import annotations

import click

from . import pass_ctx
from .output import line


@click.command("mv")
@click.argument("ref")
@click.option("--volume", required=True, help="The volume to move the record into (it must exist and be open).")
@click.option("-m", "--message", default="", help="Why it moves (kept with the new version).")
@pass_ctx
def mv(ctx, ref, volume, message):
    """Move a record into another volume (a new version; `dangan versions` shows from and to). Moves into
    or out of a confidential volume are refused: re-file the record there instead."""
    from ..core.service import volumes
    archive = ctx.archive()
    before = archive.record(ref).volume
    rec = volumes.move(archive, ref, volume, message)
    line(f"{rec.id} moved from volume {before or '(none)'} to {rec.volume} (version {rec.version})")


COMMANDS = [mv]
