"""`dangan ingest`: archive files and folders as records."""
from __future__ import annotations

import sys
from pathlib import Path

import click

from . import pass_ctx
from .options import field_options, fields_from
from .output import TerminalProgress, json_line, line


@click.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@field_options
@click.option("--create-volume", "create_volume", is_flag=True, help="Create the --volume if it does not exist yet.")
@click.option("--attach", multiple=True, type=click.Path(path_type=Path), help="An attachment of the (single) main file.")
@click.option("--allow-duplicate", is_flag=True, help="Archive a file even if the same content is archived already.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per file.")
@click.option("--follow-symlinks", is_flag=True,
              help="Inside folders, also archive symbolic links that point outside the folder.")
@click.option("--manifest", type=click.Path(path_type=Path, exists=True, dir_okay=False),
              help="A .csv or .xlsx sheet with one row of fields per file of the folder (column 文件/file);"
                   " every row is checked before anything is filed.")
@pass_ctx
def ingest(ctx, paths, create_volume, attach, allow_duplicate, as_json, follow_symlinks, manifest, **kw):
    """Archive files and folders (recursively) as records."""
    from ..core.service import records
    archive = ctx.archive()
    fields = fields_from(kw)
    show_bar = not as_json and sys.stderr.isatty()

    def report(o):
        if as_json:
            json_line(o.to_dict())
        elif o.status == "archived":
            line(f"archived   {o.source} → {o.record_id}" + (f"  {o.archival_code}" if o.archival_code else ""))
            if o.message:                       # e.g. pending approval: who approves it
                line(f"           {o.message}")
        else:
            line(f"{o.status:<10} {o.message}", err=o.status != "duplicate")

    common = dict(allow_duplicate=allow_duplicate, on_outcome=report, create_volume=create_volume,
                  progress=TerminalProgress("archiving") if show_bar else None,
                  on_warning=lambda m: line(f"dangan: warning: {m}", err=True))
    if manifest:
        from ..core.service.sheets import ingest_manifest
        from ..errors import UsageError
        if len(paths) != 1 or attach or follow_symlinks:
            raise UsageError("--manifest takes one folder (and no --attach or --follow-symlinks)")
        outcomes = ingest_manifest(archive, paths[0], manifest, fields, **common)
    else:
        outcomes = records.ingest(archive, paths, fields, attachments=tuple(attach), follow_symlinks=follow_symlinks,
                                  **common)
    counts = {}
    for o in outcomes:
        counts[o.status] = counts.get(o.status, 0) + 1
    if not as_json:
        uncoded = sum(1 for o in outcomes if o.status == "archived" and not o.archival_code)
        if uncoded:               # (with --json the objects say so: "archival_code": null)
            line(f"dangan: warning: {uncoded} record(s) archived without a category, so without an archival"
                 " code (档号): give --category (see `dangan schemes`), or add one later with"
                 " `dangan revise ID --category CODE`", err=True)
        line(", ".join(f"{n} {s}" for s, n in sorted(counts.items())) or "nothing to archive", err=True)
        queued = sum(1 for o in outcomes if o.extraction_queued)      # (a batch scan's parts are outcomes too)
        if queued:                # [ingest] extraction = "workers" (with --json: "extraction_queued": true)
            line(f"text extraction of {queued} record(s) queued for `dangan worker`", err=True)
    failed = {o.exit_code or 1 for o in outcomes if o.status in ("refused", "failed")}
    if failed:
        sys.exit(failed.pop() if len(failed) == 1 else 1)   # one kind of refusal: its code; mixed: 1
    if counts.get("duplicate") and not counts.get("archived"):
        sys.exit(5)


COMMANDS = [ingest]
