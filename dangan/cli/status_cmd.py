"""``dangan status``: the watcher, the queues (to archive, extract, index), recent errors."""
from __future__ import annotations

import click

from . import pass_ctx
from .output import json_line, line


@click.command()
@click.option("--json", "as_json", is_flag=True, help="One JSON object, a key per section.")
@pass_ctx
def status(ctx, as_json):
    """Is the watcher running; what waits to be archived, extracted, indexed; recent errors."""
    from ..core.service import watch
    sections = watch.status(ctx.archive())
    if as_json:
        json_line({s.name: s.data for s in sections})
        return
    for s in sections:
        for text in s.lines:
            line(text)              # reasons name files: escaped


COMMANDS = [status]
