"""`dangan import-bag`: records archived from a BagIt bag."""
from __future__ import annotations

from pathlib import Path

import click

from . import pass_ctx
from .output import json_line, line


@click.command("import-bag")
@click.argument("bag", type=click.Path(path_type=Path))
@click.option("--allow-duplicate", is_flag=True, help="Archive files already in the archive again.")
@click.option("--require-signature", is_flag=True,
              help="Refuse a package whose metadata.xml is not signed (DA/T 48 电子签名块 with 签名结果).")
@click.option("--signer-key", metavar="FINGERPRINT",
              help="Refuse a package not signed by this key (the fingerprint on the hand-over register).")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def import_bag_cmd(ctx, bag, allow_duplicate, require_signature, signer_key, as_json):
    """Import records from a BagIt bag made by `dangan export --bagit` (validated first; each metadata.xml's
    signature is checked, and a package changed after it was signed is refused)."""
    import sys

    from ..core.service.export import import_bag

    def report(o):
        if as_json:
            json_line(o)
        elif o["status"] == "archived":
            signed = f"  signed by key {o['signed_by_key']}" if o.get("signed_by_key") else "  (unsigned)"
            line(f"archived   {o['source']} → {o['record_id']}  {o['archival_code'] or ''}{signed}")
        else:
            line(f"duplicate  {o['message']}", err=True)
    out = import_bag(ctx.archive(), bag, allow_duplicate=allow_duplicate, on_outcome=report,
                     require_signature=require_signature, signer_key=signer_key)
    if not any(o["status"] == "archived" for o in out):
        sys.exit(5)


COMMANDS = [import_bag_cmd]
