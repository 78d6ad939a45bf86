"""`dangan stats`: core statistics of records and loans."""
from __future__ import annotations

import click

from . import pass_ctx
from .output import format_options, json_line, line


def stats_rows(out: dict, fmt: str) -> None:
    import csv
    import sys

    from .output import table
    if fmt == "json":
        json_line(out)
    elif fmt == "csv":
        w = csv.DictWriter(sys.stdout, fieldnames=out["columns"])
        w.writeheader()
        w.writerows(out["rows"])
    else:
        table([[r[c] for c in out["columns"]] for r in out["rows"]], [c.upper() for c in out["columns"]])
        line(f"{out['total']} record(s); items lent by loan status: "
                   + (", ".join(f"{k} {v}" for k, v in sorted(out["loans"].items())) or "none"))


@click.command("stats")
@click.option("--by", "by", default="department,year", show_default=True,
              help="Comma-separated: department, year, category, secrecy, status, retention, volume.")
@format_options
@pass_ctx
def stats(ctx, by, fmt):
    """Statistics: records by department, year, category, secrecy, status or retention; items lent."""
    from ..core.service.reports import statistics
    stats_rows(statistics(ctx.archive(), by), fmt)


COMMANDS = [stats]
