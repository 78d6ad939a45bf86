"""`dangan export --bagit`: records written out as a BagIt bag."""
from __future__ import annotations

from pathlib import Path

import click

from . import pass_ctx
from .output import json_line, line


@click.command("export")
@click.argument("refs", nargs=-1)
@click.option("--volume")
@click.option("--query", help="A filter (dept:BGS year:2019..2021).")
@click.option("--bagit", "dest", required=True, type=click.Path(path_type=Path), help="The bag folder to create.")
@click.option("--receiver", default="", metavar="ORG",
              help="The receiving archive (接收单位), printed on the hand-over register 移交清单.pdf.")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def export(ctx, refs, volume, query, dest, receiver, as_json):
    """Export records as a BagIt bag (RFC 8493, sha512 manifests): a transfer package (移交) with DA/T 48-style
    metadata.xml per record and the hand-over register 移交清单.pdf to sign."""
    from ..core.service import export as service
    out = service.export(ctx.archive(), refs, volume=volume, query=query, dest=dest, receiver=receiver)
    if as_json:
        json_line(out)
    else:
        line(f"bag {out['bag']}: {len(out['records'])} record(s), {out['files']} files, {out['bytes']} bytes")
        line(f"hand-over register (移交清单, print and sign): {out['register']}")


COMMANDS = [export]
