"""`dangan approve`: approve a record that is pending approval."""
from __future__ import annotations

import click

from . import pass_ctx
from .output import line


@click.command()
@click.argument("ref")
@click.option("--note", default="")
@pass_ctx
def approve(ctx, ref, note):
    """Approve a record that is pending approval (it becomes visible and active)."""
    from ..core.service import records
    rec = records.approve(ctx.archive(), ref, note)
    line(f"{rec.id} approved (version {rec.version})")


COMMANDS = [approve]
