"""`dangan search`: catalogue and full text."""
from __future__ import annotations

import sys

import click

from . import TermsCommand, pass_ctx
from .output import json_line, line, printable


def coloured(text: str, spans: list[tuple[int, int]]) -> str:
    out, pos = [], 0
    for start, end in spans:
        out.append(printable(text[pos:start]))
        out.append(click.style(printable(text[start:end]), fg="yellow", bold=True))
        pos = end
    out.append(printable(text[pos:]))
    return "".join(out)


# ``-term`` excludes a word: it is a query term, not an option.  Click would read ``-word`` as a
# cluster of short options, so the command has none (help is ``--help``, and a lone ``-h``).
@click.command(cls=TermsCommand, context_settings={"ignore_unknown_options": True, "help_option_names": ["--help"]})
@click.argument("query", nargs=-1, required=True)
@click.option("--sort", type=click.Choice(["relevance", "date", "code"]), default="relevance", show_default=True)
@click.option("--limit", type=int, default=20, show_default=True)
@click.option("--page", type=int, default=1, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per hit.")
@click.option("--count", is_flag=True, help="Print only the number of hits.")
@click.option("--dept", "department", help="Only this department (as `ls --dept`).")
@click.option("--category", help="Only this category.")
@click.option("--year", type=int, help="Only this year.")
@click.option("--secrecy", help="Only this secrecy level.")
@click.option("--volume", help="Only this volume.")
@pass_ctx
def search(ctx, query, sort, limit, page, as_json, count, department, category, year, secrecy, volume):
    """Search catalogue and full text: words, "phrases", AND/OR/NOT, -word, dept: year:2019..2021 date:>2024-01-01,
    title:, code: (archival-code prefix), tag:, meta.KEY: ..."""
    from ..core.service import search as service
    res = service.search(ctx.archive(), " ".join(query), sort=sort, limit=limit, page=page, count_only=count,
                         options=dict(department=department, category=category, year=year, secrecy=secrecy,
                                      volume=volume),
                         notice=lambda m: click.echo(f"dangan: {m}", err=True))
    if count:
        click.echo(res.total)
        return
    if as_json:
        for h in res.hits:
            json_line(h.to_dict())
        return
    colour = sys.stdout.isatty()
    for h in res.hits:
        head = "  ".join(x for x in (h.record_id, h.archival_code or "", str(h.year or ""), h.secrecy
                                     if h.secrecy not in ("public", "internal") else "", h.title or "") if x)
        line(head)
        if h.snippet_text:
            if colour:
                click.echo("    " + coloured(h.snippet_text, h.snippet_spans))     # escaped piece by piece
            else:
                line("    " + h.snippet)
    click.echo(f"{res.total} hit(s)" + (f", page {res.page} of {res.pages}" if res.pages > 1 else ""), err=True)


COMMANDS = [search]
