"""`dangan revise`: a new version of a record."""
from __future__ import annotations

from pathlib import Path

import click

from . import pass_ctx
from .options import field_options, fields_from
from .output import line


@click.command()
@click.argument("ref")
@click.argument("path", required=False, type=click.Path(path_type=Path))
@field_options
@click.option("-m", "--message", default="", help="Why this version exists.")
@pass_ctx
def revise(ctx, ref, path, message, **kw):
    """Add a new version of a record: a new main FILE and/or changed fields."""
    from ..core.service import records
    archive = ctx.archive()
    rec = records.revise(archive, ref, path, fields_from(kw), message)
    queued = path is not None and records.extraction_queued(archive, rec.id)     # [ingest] extraction = "workers"
    line(f"{rec.id} is now at version {rec.version}" + ("; text extraction queued for `dangan worker`" if queued else ""))


COMMANDS = [revise]
