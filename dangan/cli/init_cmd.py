"""`dangan init`: create a new archive."""
from __future__ import annotations

from pathlib import Path

import click

from . import pass_ctx


@click.command()
@click.argument("path", required=False, type=click.Path(path_type=Path), default=Path("."))
@click.option("--fonds", required=True, help="Fonds code (全宗号), e.g. Z109.")
@click.option("--name", default="", help="The organisation's name.")
@click.option("--group", metavar="GROUP", help="Let GROUP read the archive (2750/0640); default: only you (0700/0600).")
@pass_ctx
def init(ctx, path, fonds, name, group):
    """Create a new archive in PATH (default: here)."""
    from ..core.archive import Archive
    archive = Archive.init(path, fonds=fonds, name=name, actor=ctx.actor(), group=group)
    click.echo(f"created archive {archive.root} (fonds {fonds})")
    archive.close()


COMMANDS = [init]
