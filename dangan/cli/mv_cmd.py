"""`dangan mv ID --volume V`: move a record into another volume, under the filing rules."""
from __future__ import annotations

import click

from . import pass_ctx
from .output import json_line, json_lines, line, table


@click.command("mv")
@click.argument("ref", required=False)
@click.option("--volume", help="The volume to move the record into (it must exist and be open).")
@click.option("-m", "--message", default="", help="Why it moves (kept with the new version).")
@click.option("--reason", default="", help="Why a sealed record leaves its confidential volume (for the approver).")
@click.option("--approve", "approve_req", metavar="REQUEST", help="Approve a move out of a confidential volume "
              "(a security officer; this applies it).")
@click.option("--refuse", "refuse_req", metavar="REQUEST", help="Refuse a move out of a confidential volume.")
@click.option("--note", default="", help="A note kept with the approval.")
@click.option("--pending", is_flag=True, help="List moves out of confidential volumes awaiting a decision.")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def mv(ctx, ref, volume, message, reason, approve_req, refuse_req, note, pending, as_json):
    """Move a record into another volume (a new version; `dangan versions` shows from and to).

    Into a confidential volume, the record is sealed as if it had been filed there: a new sealed object under
    the same id and archival code replaces the plaintext one, which is purged.  Out of one, the move is a
    request (`--reason`) that a security officer approves with `dangan mv --approve REQUEST` (the volume
    unlocked); approving opens the record into the plain volume and purges the sealed object."""
    from ..core.service import volumes
    from ..errors import UsageError
    archive = ctx.archive()
    if pending:
        rows = volumes.pending_moves(archive)
        if as_json:
            json_lines(rows)
        else:
            table([(r["id"], r["record_id"], r["from_volume"], r["to_volume"], r["requested_by"], r["reason"])
                   for r in rows], ["REQUEST", "RECORD", "FROM", "TO", "BY", "REASON"])
        return
    if approve_req or refuse_req:
        if refuse_req and not reason:
            raise UsageError("refusing a move needs --reason")
        d = (volumes.approve_move(archive, approve_req, note) if approve_req
             else volumes.refuse_move(archive, refuse_req, reason))
        if as_json:
            json_line(d)
        else:
            line(f"move {d['id']} of record {d['record_id']} ({d['from_volume']} → {d['to_volume']}) {d['status']}")
        return
    if not ref or not volume:
        raise UsageError("usage: dangan mv ID --volume V (or --approve/--refuse REQUEST, --pending)")
    before = archive.record(ref).volume
    out = volumes.move(archive, ref, volume, message, reason=reason)
    if isinstance(out, dict):            # a sealed record leaving its volume: a request for the security officer
        if as_json:
            json_line(out)
        else:
            line(f"move {out['id']} of record {out['record_id']} out of confidential volume {out['from_volume']} "
                 f"to {out['to_volume']} requested: a security officer approves it with "
                 f"`dangan mv --approve {out['id']}`")
        return
    if as_json:
        json_line({"id": out.id, "from": before, "to": out.volume, "version": out.version})
    else:
        line(f"{out.id} moved from volume {before or '(none)'} to {out.volume} (version {out.version})")


COMMANDS = [mv]
