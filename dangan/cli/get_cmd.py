"""`dangan get`: a record's files written out, verified against their digests."""
from __future__ import annotations

from pathlib import Path

import click

from . import pass_ctx
from .output import line


@click.command()
@click.argument("ref")
@click.option("--version", type=int)
@click.option("-o", "--output", "out", type=click.Path(path_type=Path), default=Path("."), show_default=True)
@click.option("--with-text", is_flag=True, help="Also write the extracted text derivatives.")
@click.option("--force", is_flag=True, help="Overwrite files that exist in the output folder.")
@pass_ctx
def get(ctx, ref, version, out, with_text, force):
    """Write a record's files to a folder, byte-identical, verified against their digests."""
    from ..core.service import records
    for p in records.get(ctx.archive(), ref, out, version=version, include_derivatives=with_text, overwrite=force):
        line(str(p))


COMMANDS = [get]
