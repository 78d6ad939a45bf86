"""`dangan versions`: a record's versions."""
from __future__ import annotations

import click

from . import pass_ctx
from .output import json_lines, line, table


@click.command()
@click.argument("ref")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def versions(ctx, ref, as_json):
    """List a record's versions, and below them each field a version changed, before → after."""
    from ..core.service import records
    vers = records.versions(ctx.archive(), ref)
    if as_json:
        json_lines(vers)
        return
    table([(v["version"], v["created"], v["actor"], v["message"]) for v in vers],
          ["VERSION", "CREATED", "BY", "MESSAGE"])
    for v in vers:
        for name, change in v.get("changes", {}).items():
            line(f"  v{v['version']} {name}: {_shown(change['from'])} → {_shown(change['to'])}")


def _shown(value) -> str:
    if value is None or value == "" or value == []:
        return "(none)"
    return "; ".join(map(str, value)) if isinstance(value, list) else str(value)


COMMANDS = [versions]
