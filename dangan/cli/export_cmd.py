"""`dangan export --bagit`: records written out as a BagIt bag."""
from __future__ import annotations

from pathlib import Path

import click

from . import pass_ctx
from .output import json_line, line


@click.command("export")
@click.argument("refs", nargs=-1)
@click.option("--volume")
@click.option("--query", help="A filter (dept:BGS year:2019..2021).")
@click.option("--bagit", "dest", required=True, type=click.Path(path_type=Path), help="The bag folder to create.")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def export(ctx, refs, volume, query, dest, as_json):
    """Export records as a BagIt bag (RFC 8493, sha512 manifests)."""
    from ..core.service import export as service
    out = service.export(ctx.archive(), refs, volume=volume, query=query, dest=dest)
    if as_json:
        json_line(out)
    else:
        line(f"bag {out['bag']}: {len(out['records'])} record(s), {out['files']} files, {out['bytes']} bytes")


COMMANDS = [export]
