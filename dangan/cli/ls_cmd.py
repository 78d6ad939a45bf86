"""`dangan ls`: records listed and filtered by field."""
from __future__ import annotations

import click

from . import TermsCommand, pass_ctx
from .export_formats import emit_table, tabular_options
from .output import json_lines, table


@click.command(cls=TermsCommand, context_settings={"ignore_unknown_options": True, "help_option_names": ["--help"]})
@click.argument("filters", nargs=-1)
@click.option("--dept", "department")
@click.option("--category")
@click.option("--year", type=int)
@click.option("--secrecy")
@click.option("--volume")
@click.option("--puid", help="Only records with a current file in this PRONOM format, e.g. fmt/354 (as format:).")
@click.option("--sort", default="created", show_default=True, help="created, date, code, title or id")
@click.option("--limit", type=int, default=None)
@click.option("--wide", is_flag=True, help="Full record ids and whole titles (default: ids cut to a unique prefix,"
                                           " titles to the terminal's width).")
@tabular_options("table", "json", "csv", "xlsx", short=False)
@pass_ctx
def ls(ctx, filters, department, category, year, secrecy, volume, puid, sort, limit, wide, fmt, dest):
    """List records, filtered by field (e.g. `dangan ls dept:BGS year:2019..2021 format:fmt/354`); --format
    csv|xlsx --output FILE exports the catalogue for a spreadsheet (catalogue fields; sealed titles are not in it)."""
    from ..core.service import records
    archive = ctx.archive()
    if fmt in ("csv", "xlsx"):
        from ..core.service.sheets import records_table
        columns, rows = records_table(archive, " ".join(filters), department=department, category=category,
                                      year=year, secrecy=secrecy, volume=volume, puid=puid, sort=sort, limit=limit)
        emit_table(archive, "records", fmt, dest, columns, rows)
        return
    as_json = fmt == "json"
    recs = records.ls(archive, " ".join(filters), department=department, category=category, year=year,
                      secrecy=secrecy, volume=volume, puid=puid, sort=sort, limit=limit)
    if as_json:
        json_lines(r.to_dict() for r in recs)
        return
    cut = None if wide else records.id_width(archive)
    table([(r.id[:cut], r.archival_code or "", r.year or "", r.department or "", r.category or "", _marked(r.secrecy),
            r.title or ("[locked]" if r.secrecy in ("secret", "confidential", "top-secret") else "")) for r in recs],
          ["ID", "CODE", "YEAR", "DEPT", "CAT", "SECRECY", "TITLE"], None if wide else {6: 60},
          fill=None if wide else 6)


def _marked(secrecy: str) -> str:
    """Secret and above are marked in every listing (秘密, 机密, 绝密)."""
    marks = {"secret": "★秘密", "confidential": "★机密", "top-secret": "★绝密"}
    return marks.get(secrecy, secrecy)


COMMANDS = [ls]
