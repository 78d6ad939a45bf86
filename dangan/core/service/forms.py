"""Printing forms as a user: the data gathered as the acting user may see it, the print audited
(``form.print``), the PDF returned as bytes for the face to write or send.

Records come from the catalogue, which never holds a sealed record's plaintext fields, so a form of a
confidential volume prints only what its listing shows.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Sequence

from dangan.core.policy.users import acting_user
from dangan.errors import NotFound, UsageError

if TYPE_CHECKING:
    from dangan.core.archive import Archive
    from dangan.model import Record

#: The forms of a volume, by the name ``dangan volume print --form`` takes.
VOLUME_FORMS = ("contents-list", "reference-sheet", "cover")


def _audit(archive: Archive, form: str, obj: str, **details: Any) -> None:
    with archive.transaction() as conn:
        archive.audit(conn, "form.print", obj, details={"form": form, **details})


def volume_contents(archive: Archive, name: str) -> tuple[dict[str, Any], list[Record], dict[str, Any]]:
    """The volume's row, its records the user may see in the volume's order, and its summary
    (documents, pages, date range, notes, filer, checker)."""
    import datetime as dt

    from dangan.core.kernel.plugin_host import ArchiveContext
    from dangan.core.management.volume_life import summary as volume_summary
    from dangan.core.policy.access import visibility
    row = archive.conn.execute("SELECT name FROM volumes WHERE name = ?", (name,)).fetchone()
    if row is None:
        raise NotFound(f"no volume {name!r} (see `dangan volume list`)")
    records = archive.plugins.volume_order(list(ArchiveContext(archive, visible=visibility(archive))
                                                .records(volume=name)))
    volume = volume_summary(archive, name, records)
    notes, unknown = volume.get("notes") or "", volume["without_pages"]
    if unknown:
        notes = (notes + "; " if notes else "") + f"{unknown} 件无页数 ({unknown} document(s) without a page count)"
    dates = (volume["date_from"], volume["date_to"])
    summary = {"documents": len(records), "pages": volume["pages"], "notes": notes,
               "date_range": f"{dates[0]} — {dates[1]}" if dates[0] else "",
               "filer": volume["filer"], "checker": volume.get("checker") or "",
               "as_of": (volume.get("closed_at") or "")[:10] or dt.date.today().isoformat()}
    return volume, records, summary


def contents_rows(records: Sequence[Record]) -> list[dict[str, Any]]:
    """卷内文件目录 rows: item numbers 1..n in the volume's order."""
    from dangan.core.management.volume_life import page_count
    return [{"序号": i, "档号": r.archival_code or "", "文号": r.metadata.get("doc_number", ""),
             "责任者": r.metadata.get("author", ""), "题名": r.title, "日期": r.date or "",
             "页数": page_count(r), "备注": r.metadata.get("notes", "")} for i, r in enumerate(records, 1)]


def volume_form(archive: Archive, name: str, form: str) -> bytes:
    """A volume's 卷内文件目录 (``contents-list``), 卷内备考表 (``reference-sheet``) or 案卷封面 (``cover``)."""
    from dangan.core.management.forms import render_form
    shown, count = _volume_form(archive, name, form)
    pdf = render_form(shown)
    _audit(archive, form, name, records=count)
    return pdf


def volume_sheet(archive: Archive, name: str, form: str):
    """The same form as :func:`volume_form`, as a ``render.Form`` for a face to lay out (the web's print page)."""
    shown, count = _volume_form(archive, name, form)
    _audit(archive, form, name, records=count, format="html")
    return shown


def _volume_form(archive: Archive, name: str, form: str):
    from dangan.core.management.forms.contents_list import contents_list_form
    from dangan.core.management.forms.reference_sheet import reference_sheet_form
    from dangan.core.management.forms.volume_cover import volume_cover_form
    if form not in VOLUME_FORMS:
        raise UsageError(f"unknown volume form {form!r}: use one of {', '.join(VOLUME_FORMS)}")
    from dangan.core.service.volumes import require_cleared_for
    acting_user(archive, action="print forms", obj=name)
    require_cleared_for(archive, name)
    volume, records, summary = volume_contents(archive, name)
    cfg = archive.config
    if form == "contents-list":
        shown = contents_list_form(volume, contents_rows(records), archive_name=cfg.name)
    elif form == "reference-sheet":
        shown = reference_sheet_form(volume, summary, archive_name=cfg.name)
    else:
        shown = volume_cover_form(volume, summary, archive_name=cfg.name, fonds=cfg.fonds)
    return shown, len(records)


def _records(archive: Archive, refs: Sequence[str], volume: str | None) -> list[Record]:
    from dangan.core.policy.access import require
    if volume:
        from dangan.core.service.volumes import require_cleared_for
        require_cleared_for(archive, volume)
        return volume_contents(archive, volume)[1]
    if not refs:
        raise UsageError("name the records (or --volume)")
    recs = [archive.record(r) for r in dict.fromkeys(refs)]
    for rec in recs:
        require(archive, "view", rec)
    return recs


def record_labels(archive: Archive, refs: Sequence[str] = (), *, volume: str | None = None) -> bytes:
    """Labels with a barcode of each record's id, its archival code and title."""
    from dangan.core.management.forms import render_form
    from dangan.core.management.forms.labels import record_labels_form
    acting_user(archive, action="print forms")
    recs = _records(archive, refs, volume)
    pdf = render_form(record_labels_form(recs, archive_name=archive.config.name))
    _audit(archive, "labels", volume or "", records=[r.id for r in recs])
    return pdf


def box_labels(archive: Archive, boxes: Sequence[str]) -> bytes:
    """Box labels: each box's barcode, its place and how many records it holds."""
    from dangan.core.management import locations
    from dangan.core.management.forms import render_form
    from dangan.core.management.forms.render import Form, Labels
    acting_user(archive, action="print forms")
    counts = {r["id"]: r["records"] for r in locations.list_locations(archive)}
    items = []
    for ref in boxes:
        b = locations.get(archive, ref)
        if b["kind"] != "box":
            raise UsageError(f"{b['id']} is a {b['kind']}, not a box")
        items.append((b["barcode"], [f"盒 {b['name']}", b["id"], f"{counts.get(b['id'], 0)} 件"]))
    pdf = render_form(Form("档案盒标签", [Labels(items)], footer=archive.config.name))
    _audit(archive, "box-labels", "", boxes=[b for b, _ in items])
    return pdf


def archival_stamps(archive: Archive, refs: Sequence[str] = (), *, volume: str | None = None) -> bytes:
    """The 归档章 of each record, filled in (DA/T 22)."""
    from dangan.core.management.forms import render_form
    from dangan.core.management.forms.archival_stamp import archival_stamp_form
    acting_user(archive, action="print forms")
    recs = _records(archive, refs, volume)
    from dangan.core.management.volume_life import page_count
    pdf = render_form(archival_stamp_form(recs, [page_count(r) for r in recs], archive_name=archive.config.name))
    _audit(archive, "stamp", volume or "", records=[r.id for r in recs])
    return pdf


def lending_slip(archive: Archive, loan_id: str) -> bytes:
    """The loan's 借阅单, with the titles of the items the user may see."""
    from dangan.core.management.forms import render_form
    pdf = render_form(_lending_slip(archive, loan_id))
    _audit(archive, "lending-slip", loan_id)
    return pdf


def lending_slip_sheet(archive: Archive, loan_id: str):
    """The 借阅单 as a form, for the web's print page."""
    shown = _lending_slip(archive, loan_id)
    _audit(archive, "lending-slip", loan_id, format="html")
    return shown


def _lending_slip(archive: Archive, loan_id: str):
    from dangan.core.management.forms.lending_slip import lending_slip_form
    acting_user(archive, action="print a lending slip", obj=loan_id)
    from dangan.core.management.lending import get_loan
    from dangan.core.policy.access import visibility
    loan = get_loan(archive, loan_id)
    visible = visibility(archive)
    titles = {}
    for item in loan["items"]:
        try:
            rec = archive.record(item["record_id"])
        except NotFound:
            continue
        titles[rec.id] = rec.title if visible is None or visible(rec) else "（无权查看）"
    return lending_slip_form(loan, titles, archive_name=archive.config.name)


def destruction_list(archive: Archive, list_id: str) -> bytes:
    """The 销毁清册 of a destruction list."""
    from dangan.core.management.forms import render_form
    from dangan.core.management.forms.destruction_list import destruction_list_form
    from dangan.core.service import registers
    lst = registers.destruction_list(archive, list_id)
    pdf = render_form(destruction_list_form(lst, archive_name=archive.config.name))
    _audit(archive, "destruction-list", list_id)
    return pdf


def destruction_list_sheet(archive: Archive, list_id: str):
    """The 销毁清册 as a form (``render.Form``) for a face to lay out itself: the web's print page."""
    from dangan.core.management.forms.destruction_list import destruction_list_form
    from dangan.core.service import registers
    lst = registers.destruction_list(archive, list_id)
    _audit(archive, "destruction-list", list_id, format="html")
    return destruction_list_form(lst, archive_name=archive.config.name)


def lending_register_sheet(archive: Archive, *, since=None, until=None):
    """The 借阅登记簿 (the loans the user may read, requested between the dates) as a form."""
    from dangan.core.management.forms.lending_register import lending_register_form
    from dangan.core.service.lending import register
    rows = register(archive, since=since, until=until)
    _audit(archive, "lending-register", "lending", format="html", rows=len(rows))
    return lending_register_form(rows, since=since and since.isoformat(), until=until and until.isoformat(),
                                 archive_name=archive.config.name)


def lending_register(archive: Archive, *, since=None, until=None) -> bytes:
    """The 借阅登记簿 as a PDF (``dangan lend register --format pdf``)."""
    from dangan.core.management.forms import render_form
    from dangan.core.management.forms.lending_register import lending_register_form
    from dangan.core.service.lending import register
    rows = register(archive, since=since, until=until)
    pdf = render_form(lending_register_form(rows, since=since and since.isoformat(),
                                            until=until and until.isoformat(), archive_name=archive.config.name))
    _audit(archive, "lending-register", "lending", rows=len(rows))
    return pdf


def destruction_certificate(archive: Archive, list_id: str) -> bytes:
    """The 销毁证明 of an executed list, with lines for the approver, the destroyer and two witnesses."""
    from dangan.core.management.forms import render_form
    pdf = render_form(_certificate(archive, list_id))
    _audit(archive, "destruction-certificate", list_id)
    return pdf


def destruction_certificate_sheet(archive: Archive, list_id: str):
    """The 销毁证明 as a form, for the web's print page."""
    shown = _certificate(archive, list_id)
    _audit(archive, "destruction-certificate", list_id, format="html")
    return shown


def _certificate(archive: Archive, list_id: str):
    from dangan.core.management.forms.destruction_certificate import destruction_certificate_form
    from dangan.core.service import registers
    lst = registers.destruction_list(archive, list_id)
    if not lst["certificate"]:
        raise UsageError(f"destruction list {list_id} is {lst['status']}: it has a certificate once executed")
    return destruction_certificate_form(lst["certificate"], archive_name=archive.config.name)


def inspection_report(report: dict[str, Any]) -> bytes:
    """The form of an inspection report already run (``management.inspection.inspection_report`` audits it)."""
    from dangan.core.management.forms import render_form
    from dangan.core.management.forms.inspection_report import inspection_report_form
    return render_form(inspection_report_form(report))


def report_table(archive: Archive, title: str, columns: Sequence[str], rows: Sequence[dict[str, Any]],
                 notes: Sequence[str] = ()) -> bytes:
    """A report already run (``service.reports`` audits it) as a printed table."""
    from dangan.core.management.forms import render_form
    from dangan.core.management.forms.report_table import report_table_form
    return render_form(report_table_form(title, columns, rows, notes, archive_name=archive.config.name))


__all__ = ["VOLUME_FORMS", "volume_form", "record_labels", "archival_stamps", "lending_slip", "destruction_list",
           "destruction_certificate", "inspection_report", "report_table", "volume_contents", "contents_rows",
           "destruction_list_sheet", "lending_register_sheet", "lending_register", "volume_sheet",
           "lending_slip_sheet", "destruction_certificate_sheet"]
