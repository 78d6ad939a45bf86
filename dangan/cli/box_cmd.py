"""`dangan box`: the store rooms, shelves, levels and boxes of the paper archive; `dangan where ID`."""
from __future__ import annotations

from pathlib import Path

import click

from . import pass_ctx
from .output import json_line, json_lines, line, table


@click.group("box")
def box():
    """Paper originals: rooms (库房), shelves (架), levels (层) and boxes (盒) with barcodes."""


@box.command("place")
@click.argument("kind", type=click.Choice(["room", "shelf", "level"]))
@click.argument("name")
@click.option("--in", "parent", help="The room of a shelf, the shelf of a level.")
@pass_ctx
def place(ctx, kind, name, parent):
    """Add a room, a shelf in a room, or a level on a shelf."""
    from ..core.service import locations
    loc = locations.add(ctx.archive(), kind, name, parent)
    line(f"{kind} {loc['id']} added")


@box.command("create")
@click.argument("name")
@click.option("--in", "parent", help="The level (层) the box stands on (e.g. 库房1/A架/3层).")
@pass_ctx
def create(ctx, name, parent):
    """Create a box (盒); it gets a barcode (print it with `dangan box label`)."""
    from ..core.service import locations
    loc = locations.add(ctx.archive(), "box", name, parent)
    line(f"box {loc['id']} created, barcode {loc['barcode']}")


@box.command("fill")
@click.argument("box_ref")
@click.argument("refs", nargs=-1, required=True)
@pass_ctx
def fill(ctx, box_ref, refs):
    """Put records' paper originals into a box (by its path or barcode)."""
    from ..core.service import locations
    ids = locations.fill(ctx.archive(), box_ref, list(refs))
    line(f"{len(ids)} record(s) in box {box_ref}")


@box.command("move")
@click.argument("box_ref")
@click.option("--to", "to", required=True, help="The level (层) it moves to.")
@pass_ctx
def move(ctx, box_ref, to):
    """Move a box to another level; it keeps its barcode and its records."""
    from ..core.service import locations
    loc = locations.move(ctx.archive(), box_ref, to)
    line(f"box {loc['barcode']} is now at {loc['id']}")


@box.command("list")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def list_(ctx, as_json):
    """Every location, with the records in each box."""
    from ..core.service import locations
    rows = locations.list_all(ctx.archive())
    if as_json:
        json_lines(rows)
        return
    table([(r["kind"], r["id"], r["barcode"] or "", r["records"] if r["kind"] == "box" else "") for r in rows],
          ["KIND", "LOCATION", "BARCODE", "RECORDS"])


@box.command("label")
@click.argument("box_refs", nargs=-1, required=True)
@click.option("-o", "--output", "dest", required=True, type=click.Path(path_type=Path, dir_okay=False,
                                                                       allow_dash=True))
@pass_ctx
def label(ctx, box_refs, dest):
    """Print box labels (PDF): the barcode, the box's place and how many records it holds."""
    from ..core.service.forms import box_labels
    from .export_formats import write_bytes
    write_bytes(box_labels(ctx.archive(), list(box_refs)), dest, "box labels")


@click.command("where")
@click.argument("ref")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def where(ctx, ref, as_json):
    """Where a record's paper original is: room, shelf, level, box (and the loan it is out on)."""
    from ..core.service import locations
    w = locations.where(ctx.archive(), ref)
    if as_json:
        json_line(w)
        return
    line(" → ".join(f"{p['label']} {p['name']}" for p in w["path"]) + f"  (barcode {w['barcode']})")
    out = w.get("out")
    if out:
        who = out["borrower"] + (f" ({out['external_unit']})" if out.get("external_unit") else "")
        line(f"借出 (out on loan {out['loan']}) to {who}, due {out['due']}")
    elif w["on_loan"]:
        line(f"在库 (on loan {w['on_loan']}, not yet handed out)")
    else:
        line("在库 (in its box)")


COMMANDS = [box, where]
