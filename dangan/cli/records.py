"""Commands on records: ingest, revise, show, ls, versions, get."""
from __future__ import annotations

import sys
from pathlib import Path

import click

from . import TermsCommand, pass_ctx
from .export_formats import emit_table, tabular_options
from .output import TerminalProgress, json_line, json_lines, line, table, width


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
    from ..core.store.batch import ingest_batch
    from ..errors import UsageError
    archive = ctx.archive()
    fields = fields_from(kw)
    if attach and (len(paths) != 1 or paths[0].is_dir()):
        raise UsageError("--attach needs exactly one main file")
    fields_for = None
    if manifest:
        from ..core.store.manifest import validate
        if len(paths) != 1 or attach:
            raise UsageError("--manifest takes one folder (and no --attach)")
        rows = {r.path.resolve(): r.fields for r in validate(archive, paths[0], manifest, fields,
                                                              create_volume=create_volume, skip=(manifest,))}
        paths = tuple(r for r in rows)

        def fields_for(p):
            return rows[Path(p).resolve()]
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

    outcomes = ingest_batch(archive, paths, fields, attachments=tuple(attach), allow_duplicate=allow_duplicate,
                            on_outcome=report, progress=TerminalProgress("archiving") if show_bar else None, create_volume=create_volume,
                            on_warning=lambda m: line(f"dangan: warning: {m}", err=True),
                            follow_symlinks=follow_symlinks, fields_for=fields_for)
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
    failed = {o.exit_code or 1 for o in outcomes if o.status in ("refused", "failed")}
    if failed:
        sys.exit(failed.pop() if len(failed) == 1 else 1)   # one kind of refusal: its code; mixed: 1
    if counts.get("duplicate") and not counts.get("archived"):
        sys.exit(5)


@click.command()
@click.argument("ref")
@click.argument("path", required=False, type=click.Path(path_type=Path))
@field_options
@click.option("-m", "--message", default="", help="Why this version exists.")
@pass_ctx
def revise(ctx, ref, path, message, **kw):
    """Add a new version of a record: a new main FILE and/or changed fields."""
    from ..core.store.ingest import Ingestor
    archive = ctx.archive()
    rec = Ingestor(archive, **_pipeline(archive)).revise(ref, path, fields_from(kw), message)
    line(f"{rec.id} is now at version {rec.version}")


@click.command()
@click.argument("ref")
@click.option("--version", "version", type=int, help="Show this version (default: the latest).")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def show(ctx, ref, version, as_json):
    """Show a record: catalogue fields, versions, files and digests."""
    from ..core.policy.access import require
    archive = ctx.archive()
    rec = archive.record(ref, version)
    require(archive, "view", rec)
    rec, locked = archive.opened(rec)
    vers = archive.versions(rec.id)
    if as_json:
        d = rec.to_dict()
        d["versions"] = vers
        d["locked"] = locked
        json_line(d)
        return
    title = f"[{rec.secrecy} — locked: dangan volume unlock {rec.volume}]" if locked else rec.title
    fields = [("id", rec.id), ("archival code", rec.archival_code), ("title", title), ("fonds", rec.fonds),
              ("department", rec.department), ("category", rec.category), ("year", rec.year), ("date", rec.date),
              ("retention", rec.retention), ("secrecy", rec.secrecy), ("volume", rec.volume),
              ("tags", ", ".join(rec.tags)), ("status", rec.status), ("version", f"{rec.version} of {len(vers)}"),
              ("created", rec.created), ("updated", rec.updated)]
    if rec.extraction:
        fields.append(("text", f"{rec.extraction.get('status')}" + (f": {rec.extraction['message']}"
                                                                     if rec.extraction.get("message") else "")))
    shown = [(k, v) for k, v in fields if v not in (None, "")]
    shown += [(f"meta {k}", v) for k, v in sorted(rec.metadata.items())]
    column = max(width(k) for k, _ in shown) + 2           # labels never run into their values
    for k, v in shown:
        line(f"{k}{' ' * (column - width(k))}{v}")
    line("files:")
    for f in rec.files:
        flag = "  (extension says " + str(f.mime_by_extension) + ")" if f.mime_mismatch else ""
        line(f"  {f.role:<11}{f.path}  {f.size} bytes  {f.mime}{flag}")
        line(f"  {'':<11}sha512 {f.sha512}")


@click.command(cls=TermsCommand, context_settings={"ignore_unknown_options": True, "help_option_names": ["--help"]})
@click.argument("filters", nargs=-1)
@click.option("--dept", "department")
@click.option("--category")
@click.option("--year", type=int)
@click.option("--secrecy")
@click.option("--volume")
@click.option("--sort", default="created", show_default=True, help="created, date, code, title or id")
@click.option("--limit", type=int, default=None)
@click.option("--wide", is_flag=True, help="Full record ids and whole titles (default: ids cut to a unique prefix,"
                                           " titles to the terminal's width).")
@tabular_options("table", "json", "csv", "xlsx", short=False)
@pass_ctx
def ls(ctx, filters, department, category, year, secrecy, volume, sort, limit, wide, fmt, dest):
    """List records, filtered by field (e.g. `dangan ls dept:BGS year:2019..2021`); --format csv|xlsx
    --output FILE exports the catalogue for a spreadsheet (catalogue fields; sealed titles are not in it)."""
    from ..core.search.listing import list_filtered
    archive = ctx.archive()
    if fmt in ("csv", "xlsx"):
        from ..core.service.exports import records_table
        columns, rows = records_table(archive, " ".join(filters), department=department, category=category,
                                      year=year, secrecy=secrecy, volume=volume, sort=sort, limit=limit)
        emit_table(archive, "records", fmt, dest, columns, rows)
        return
    as_json = fmt == "json"
    recs = list_filtered(archive, " ".join(filters), department=department, category=category, year=year,
                         secrecy=secrecy, volume=volume, sort=sort, limit=limit)
    recs = [archive.opened(r)[0] if r.secrecy in ("secret", "confidential", "top-secret") else r for r in recs]
    if as_json:
        json_lines(r.to_dict() for r in recs)
        return
    from ..core.catalogue.records import short_id_length
    cut = None if wide else short_id_length(archive.conn)
    table([(r.id[:cut], r.archival_code or "", r.year or "", r.department or "", r.category or "", _marked(r.secrecy),
            r.title or ("[locked]" if r.secrecy in ("secret", "confidential", "top-secret") else "")) for r in recs],
          ["ID", "CODE", "YEAR", "DEPT", "CAT", "SECRECY", "TITLE"], None if wide else {6: 60},
          fill=None if wide else 6)


def _marked(secrecy: str) -> str:
    """Secret and above are marked in every listing (秘密, 机密, 绝密)."""
    marks = {"secret": "★秘密", "confidential": "★机密", "top-secret": "★绝密"}
    return marks.get(secrecy, secrecy)


@click.command()
@click.argument("ref")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def versions(ctx, ref, as_json):
    """List a record's versions."""
    from ..core.policy.access import require
    archive = ctx.archive()
    from ..core.confidential.sealing import versions_shown
    require(archive, "view", archive.record(ref))
    vers = versions_shown(archive, ref)
    if as_json:
        json_lines(vers)
        return
    table([(v["version"], v["created"], v["actor"], v["message"]) for v in vers],
          ["VERSION", "CREATED", "BY", "MESSAGE"])


@click.command()
@click.argument("ref")
@click.option("--version", type=int)
@click.option("-o", "--output", "out", type=click.Path(path_type=Path), default=Path("."), show_default=True)
@click.option("--with-text", is_flag=True, help="Also write the extracted text derivatives.")
@click.option("--force", is_flag=True, help="Overwrite files that exist in the output folder.")
@pass_ctx
def get(ctx, ref, version, out, with_text, force):
    """Write a record's files to a folder, byte-identical, verified against their digests."""
    from ..core.store.retrieval import get_files
    for p in get_files(ctx.archive(), ref, out, version=version, include_derivatives=with_text, overwrite=force):
        line(str(p))


def _pipeline(archive) -> dict:
    from ..core.kernel.pipeline import pipeline_for
    return pipeline_for(archive)


COMMANDS = [ingest, revise, show, ls, versions, get]
