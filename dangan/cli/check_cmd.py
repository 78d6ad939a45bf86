"""`dangan check`: verify every digest and compare store and catalogue."""
from __future__ import annotations

import sys

import click

from . import pass_ctx
from .output import json_lines, line


@click.command()
@click.option("--record", "ref", help="Check one record only.")
@click.option("--no-digests", is_flag=True, help="Skip recomputing digests (structure only).")
@click.option("--decrypt", is_flag=True, help="Also decrypt sealed records (volumes unlocked) and check plaintext digests.")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def check(ctx, ref, no_digests, decrypt, as_json):
    """Verify every digest and compare store and catalogue; exit 6 on any problem."""
    from ..core.service import records
    archive = ctx.archive()
    bar = None
    if sys.stderr.isatty() and not as_json and ref is None:
        def bar(i, n):
            click.echo(f"\rchecking {i}/{n}", nl=False, err=True)
    problems = records.check(archive, ref, digests=not no_digests, decrypt=decrypt, progress=bar)
    if bar:
        click.echo("", err=True)
    if as_json:
        json_lines(p.to_dict() for p in problems)
    else:
        for p in problems:
            line(f"{p.record_id}: {p.message}")         # messages name files: escaped
        click.echo("check passed" if not problems else f"{len(problems)} problem(s)", err=True)
    if problems:
        sys.exit(6)


COMMANDS = [check]
