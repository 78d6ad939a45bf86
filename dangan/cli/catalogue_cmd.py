"""`dangan catalogue migrate --to URL`: move an embedded archive's catalogue to PostgreSQL."""
from __future__ import annotations

import json

import click

from . import pass_ctx


@click.group()
def catalogue():
    """The catalogue's engine (embedded SQLite or PostgreSQL)."""


@catalogue.command("migrate")
@click.option("--to", "url", required=True, metavar="URL",
              help="An empty PostgreSQL database: postgresql://USER@HOST/DB (password in ~/.pgpass, not here).")
@click.option("--json", "as_json", is_flag=True, help="The report as one JSON object.")
@pass_ctx
def migrate(ctx, url, as_json):
    """Copy the catalogue to PostgreSQL, check it row by row, then switch the archive to it.

    Stop watchers and servers of this archive first.  catalogue.sqlite is kept as
    catalogue.sqlite.migrated-<time>."""
    from ..core.service.catalogue import migrate_catalogue
    archive = ctx.archive()
    report = migrate_catalogue(archive, url)
    out = report.to_dict()
    if as_json:
        click.echo(json.dumps(out, ensure_ascii=False))
    else:
        click.echo(f"catalogue moved to {out['catalogue']}: {out['rows']} rows in {len(out['tables'])} tables, "
                   f"each checked; the old file is kept as {out['set_aside']}")


COMMANDS = [catalogue]
