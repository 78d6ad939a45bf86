"""`dangan versions`: a record's versions."""
from __future__ import annotations

import click

from . import pass_ctx
from .output import json_lines, table


@click.command()
@click.argument("ref")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def versions(ctx, ref, as_json):
    """List a record's versions."""
    from ..core.service import records
    vers = records.versions(ctx.archive(), ref)
    if as_json:
        json_lines(vers)
        return
    table([(v["version"], v["created"], v["actor"], v["message"]) for v in vers],
          ["VERSION", "CREATED", "BY", "MESSAGE"])


COMMANDS = [versions]
