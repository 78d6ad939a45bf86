"""Options and parsed values shared by several commands (catalogue fields, --as-of dates)."""
from __future__ import annotations

import click


def field_options(f):
    """The catalogue-field flags shared by ingest and revise."""
    opts = [
        click.option("--title", help="The record's title (default: the file name without its extension)."),
        click.option("--department", "--dept", "department",
                     help="Department code, e.g. BGS (see `dangan schemes`; unknown codes are refused)."),
        click.option("--category", help="Record class / category code, e.g. WS or SG-JD (see `dangan schemes`);"
                                        " it decides the archival code and the required fields."),
        click.option("--year", type=int, help="Filing year (default: the year of --date)."),
        click.option("--date", help="The record's date, YYYY-MM-DD."),
        click.option("--retention", help="permanent, long-term, short-term, or Y, D30, D10"),
        click.option("--secrecy", help="public, internal, secret, confidential, top-secret (or 公开…绝密)"),
        click.option("--volume", help="File into this existing volume (案卷); see `dangan volume list`."),
        click.option("--tag", "tags", multiple=True, help="A free tag (repeatable)."),
        click.option("--meta", "meta", multiple=True, metavar="KEY=VALUE",
                     help="A metadata field a scheme may require, e.g. --meta valid_until=2026-12-31 (repeatable;"
                          " `dangan schemes show CODE` lists them)."),
    ]
    for o in reversed(opts):
        f = o(f)
    return f


def fields_from(kw):
    from ..core.catalogue.fields import RecordFields, parse_meta
    return RecordFields(title=kw["title"], department=kw["department"], category=kw["category"], year=kw["year"],
                        date=kw["date"], retention=kw["retention"], secrecy=kw["secrecy"], volume=kw["volume"],
                        tags=list(kw["tags"]), metadata=parse_meta(kw["meta"]))


def as_of_date(value):
    """A --as-of / --from / --to date, as a date (None when not given)."""
    import datetime as dt

    from ..core.catalogue.fields import parse_date
    return dt.date.fromisoformat(parse_date(value)) if value else None
