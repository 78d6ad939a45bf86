"""`dangan show`: one record's catalogue fields, versions, files and digests."""
from __future__ import annotations

import click

from . import pass_ctx
from .output import json_line, line, width


@click.command()
@click.argument("ref")
@click.option("--version", "version", type=int, help="Show this version (default: the latest).")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def show(ctx, ref, version, as_json):
    """Show a record: catalogue fields, versions, files and digests."""
    from ..core.service import records
    view = records.show(ctx.archive(), ref, version)
    if as_json:
        json_line(view.to_dict())
        return
    rec, locked, vers = view.record, view.locked, view.versions
    title = f"[{rec.secrecy} — locked: dangan volume unlock {rec.volume}]" if locked else rec.title
    fields = [("id", rec.id), ("archival code", rec.archival_code), ("title", title), ("fonds", rec.fonds),
              ("department", rec.department), ("category", rec.category), ("year", rec.year), ("date", rec.date),
              ("retention", rec.retention), ("secrecy", rec.secrecy), ("volume", rec.volume),
              ("tags", ", ".join(rec.tags)), ("status", rec.status), ("version", f"{rec.version} of {len(vers)}"),
              ("created", rec.created), ("updated", rec.updated)]
    if rec.extraction:
        fields.append(("text", f"{rec.extraction.get('status')}" + (f": {rec.extraction['message']}"
                                                                     if rec.extraction.get("message") else "")))
    ocr_pages = rec.metadata.get("x.ocr_pages", "").strip("[]")
    if ocr_pages:                                          # pages read by OCR (scans, mojibake text layers)
        fields.append(("OCR'd pages", ocr_pages))
    shown = [(k, v) for k, v in fields if v not in (None, "")]
    shown += [(f"meta {k}", v) for k, v in sorted(rec.metadata.items())]
    column = max(width(k) for k, _ in shown) + 2           # labels never run into their values
    for k, v in shown:
        line(f"{k}{' ' * (column - width(k))}{v}")
    line("files:")
    for f in rec.files + rec.derivatives:       # derivatives: the PDF/A copy, text and thumbnail dangan made
        flag = "  (extension says " + str(f.mime_by_extension) + ")" if f.mime_mismatch else ""
        line(f"  {f.role:<11}{f.path}  {f.size} bytes  {f.mime}{flag}")
        if f.format_basis is not None:
            fmt = f"{f.puid}  {f.format_name or ''}" if f.puid else "not identified"
            line(f"  {'':<11}format {fmt}  (PRONOM, by {f.format_basis})")
        line(f"  {'':<11}sha512 {f.sha512}")


COMMANDS = [show]
