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
@click.option("--catalogue", "catalogue_url", metavar="URL",
              help="Put the catalogue on PostgreSQL: an empty database, postgresql://USER@HOST/DB "
                   "(password in ~/.pgpass, never in the URL); default: catalogue.sqlite in PATH.")
@click.option("--store", "store_url", metavar="URL",
              help="Put the OCFL store in a bucket: s3://BUCKET/PREFIX (credentials: the usual AWS variables and "
                   "files, never an option). Default: the folder's store/.")
@click.option("--store-endpoint", metavar="URL",
              help="The S3-compatible service's address, e.g. http://127.0.0.1:8333 (default: AWS's own).")
@pass_ctx
def init(ctx, path, fonds, name, group, catalogue_url, store_url, store_endpoint):
    """Create a new archive in PATH (default: here)."""
    from ..core.archive import Archive
    archive = Archive.init(path, fonds=fonds, name=name, actor=ctx.actor(), group=group, catalogue_url=catalogue_url,
                           store_url=store_url, store_endpoint=store_endpoint)
    where = f", catalogue on {archive.catalogue_url and _redact(archive.catalogue_url)}" if catalogue_url else ""
    where += f", store {archive.store.location}" if store_url else ""
    click.echo(f"created archive {archive.root} (fonds {fonds}{where})")
    archive.close()


def _redact(url: str) -> str:
    from ..core.catalogue.db import redact
    return redact(url)


COMMANDS = [init]
