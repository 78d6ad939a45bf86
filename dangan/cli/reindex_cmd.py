"""`dangan reindex`: the full-text index rebuilt from the store alone."""
from __future__ import annotations

import sys

import click

from . import pass_ctx


@click.command()
@pass_ctx
def reindex(ctx):
    """Rebuild the full-text index from the store alone."""
    from ..core.service.search import reindex as run
    archive = ctx.archive()
    progress = None
    if sys.stderr.isatty():
        def progress(i, n):
            click.echo(f"\rindexing {i}/{n}", nl=False, err=True)
    n = run(archive, progress, notice=lambda m: click.echo(f"dangan: warning: {m}", err=True))
    if progress:
        click.echo("", err=True)
    click.echo(f"index rebuilt: {n} record(s)")


COMMANDS = [reindex]
