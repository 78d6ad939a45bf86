"""`dangan import-bag`: records archived from a BagIt bag."""
from __future__ import annotations

from pathlib import Path

import click

from . import pass_ctx
from .output import json_line, line


@click.command("import-bag")
@click.argument("bag", type=click.Path(path_type=Path))
@click.option("--allow-duplicate", is_flag=True, help="Archive files already in the archive again.")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def import_bag_cmd(ctx, bag, allow_duplicate, as_json):
    """Import records from a BagIt bag made by `dangan export --bagit` (validated first)."""
    import sys

    from ..core.service.export import import_bag

    def report(o):
        if as_json:
            json_line(o)
        elif o["status"] == "archived":
            line(f"archived   {o['source']} → {o['record_id']}  {o['archival_code'] or ''}")
        else:
            line(f"duplicate  {o['message']}", err=True)
    out = import_bag(ctx.archive(), bag, allow_duplicate=allow_duplicate, on_outcome=report)
    if not any(o["status"] == "archived" for o in out):
        sys.exit(5)


COMMANDS = [import_bag_cmd]
