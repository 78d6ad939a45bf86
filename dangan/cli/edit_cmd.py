"""`dangan edit`: a cataloguing edit (著录) — `dangan revise` without a file, by its archivist's name."""
from __future__ import annotations

import click

from . import pass_ctx
from .options import field_options, fields_from
from .output import line


@click.command("edit")
@click.argument("ref")
@field_options
@click.option("-m", "--message", default="", help="Why the fields change (kept with the version).")
@pass_ctx
def edit(ctx, ref, message, **kw):
    """Change a record's catalogue fields (a new version; `dangan versions` and the audit event show each
    field before and after)."""
    from ..core.service import records
    archive = ctx.archive()
    before = records.versions(archive, ref)[-1]["version"]
    rec = records.revise(archive, ref, None, fields_from(kw), message or "著录 (cataloguing edit)")
    changes = records.versions(archive, rec.id)[-1].get("changes", {}) if rec.version > before else {}
    for name, change in changes.items():
        line(f"{name}: {change['from'] if change['from'] not in (None, '') else '(none)'} → "
             f"{change['to'] if change['to'] not in (None, '') else '(none)'}")
    line(f"{rec.id} is now at version {rec.version}")


COMMANDS = [edit]
