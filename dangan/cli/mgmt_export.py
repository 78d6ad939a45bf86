"""`dangan export --bagit`, `dangan import-bag` and `dangan stats`."""
from __future__ import annotations

from pathlib import Path

import click

from . import pass_ctx
from .output import format_options, json_line, line


@click.command("export")
@click.argument("refs", nargs=-1)
@click.option("--volume")
@click.option("--query", help="A filter (dept:BGS year:2019..2021).")
@click.option("--bagit", "dest", required=True, type=click.Path(path_type=Path), help="The bag folder to create.")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def export(ctx, refs, volume, query, dest, as_json):
    """Export records as a BagIt bag (RFC 8493, sha512 manifests)."""
    from ..core.management.export_bagit import export_bag, select
    archive = ctx.archive()
    out = export_bag(archive, select(archive, list(refs), volume=volume, query=query), dest)
    if as_json:
        json_line(out)
    else:
        line(f"bag {out['bag']}: {len(out['records'])} record(s), {out['files']} files, {out['bytes']} bytes")


@click.command("import-bag")
@click.argument("bag", type=click.Path(path_type=Path))
@click.option("--allow-duplicate", is_flag=True, help="Archive files already in the archive again.")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def import_bag_cmd(ctx, bag, allow_duplicate, as_json):
    """Import records from a BagIt bag made by `dangan export --bagit` (validated first)."""
    import sys
    from ..core.management.import_bag import import_bag

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
    from ..core.management.statistics import stats as run
    stats_rows(run(ctx.archive(), [b.strip() for b in by.split(",") if b.strip()]), fmt)


COMMANDS = [export, import_bag_cmd, stats]
