"""`dangan identify`: PRONOM formats for records archived before identification (``service.records.identify``)."""
from __future__ import annotations

import click

from . import pass_ctx
from .output import json_lines, line


@click.command()
@click.argument("refs", nargs=-1)
@click.option("--all", "every", is_flag=True, help="Every plain record with a file not yet identified.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per record.")
@pass_ctx
def identify(ctx, refs, every, as_json):
    """Identify the PRONOM format of records' files and derivatives (a new version; archivists and admins)."""
    from ..core.service import records
    done = records.identify(ctx.archive(), list(refs), every=every)
    if as_json:
        json_lines(done)
        return
    for d in done:
        if d["status"] == "identified":
            line(f"{d['record_id']}  v{d['version']}  " + ", ".join(f"{p}: {u or '?'}" for p, u in d["files"].items()))
        else:
            line(f"{d['record_id']}  skipped ({d['reason']})")
    line(f"{sum(d['status'] == 'identified' for d in done)} record(s) identified")


COMMANDS = [identify]
