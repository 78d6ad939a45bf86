"""`dangan rebuild-catalogue`: the catalogue's record tables from the store alone."""
from __future__ import annotations

import sys

import click

from . import pass_ctx
from .output import line


@click.command("rebuild-catalogue")
@click.option("--yes", is_flag=True, help="Do not ask before replacing the record tables.")
@pass_ctx
def rebuild_catalogue(ctx, yes):
    """Rebuild the catalogue's record tables from the store alone."""
    from ..core.archive import Archive
    from ..core.catalogue import connection as catalogue
    from ..core.catalogue import health as catalogue_health
    from ..core.kernel.archive_trust import check_archive
    from ..core.kernel.config import find_archive
    from ..core.kernel.permissions import apply_umask
    from ..core.store.recovery import rebuild
    root = find_archive(ctx.archive_path)
    check_archive(root)
    apply_umask(root)
    from ..core.kernel.config import Config
    url = Config.load(root).raw.get("catalogue", {}).get("url")     # on PostgreSQL: no file to set aside
    path = root / "catalogue.sqlite"
    problem = None if url else catalogue_health.needs_setting_aside(path)
    if not yes and sys.stdin.isatty():
        click.confirm("Set the damaged catalogue aside and rebuild it from the store?" if problem else
                      "Replace the catalogue's record tables with what the store holds?", abort=True)
    if problem:
        aside = catalogue_health.set_aside(path)
        click.echo(f"the catalogue {problem}: set aside as {aside.name}", err=True)
    catalogue.connect(url or path, create=not url).close()
    archive = Archive(root, ctx.actor())
    conflicts: list[str] = []
    n = rebuild(archive, conflicts=conflicts)
    archive.close()
    for conflict in conflicts:
        line(f"warning: {conflict}", err=True)
    click.echo(f"catalogue rebuilt: {n} record(s)")


COMMANDS = [rebuild_catalogue]
