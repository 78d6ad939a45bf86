"""`dangan lend`: the lending register (借阅登记簿)."""
from __future__ import annotations

import csv
import sys
from pathlib import Path

import click

from . import pass_ctx
from .options import as_of_date
from .export_formats import emit_table, tabular_options
from .output import json_line, json_lines, line, table


@click.group("lend")
def lend():
    """Lending: request, approve, return item by item, overdue loans."""


@lend.command("request")
@click.argument("refs", nargs=-1, required=True)
@click.option("--purpose", required=True, help="What the records are borrowed for.")
@click.option("--days", type=int, help="Loan length (default: the limit, at most [lending] default_days).")
@click.option("--borrower", help="Another user (archivist/admin), or the outside borrower's name.")
@click.option("--unit", help="Outside borrower: their organisation.")
@click.option("--letter", help="Outside borrower: letter-of-introduction reference.")
@click.option("--id-number", help="Outside borrower: resident ID number (checked).")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def lend_request(ctx, refs, purpose, days, borrower, unit, letter, id_number, as_json):
    """Ask to borrow records; prints the loan id."""
    from ..core.service import lending
    loan = lending.request(ctx.archive(), refs, purpose=purpose, days=days, borrower=borrower, unit=unit,
                   letter=letter, id_number=id_number)
    if as_json:
        json_line({"loan": loan["id"], **loan})
    else:
        line(f"loan {loan['id']} requested: {len(loan['items'])} record(s) for {loan['days']} days, "
                   f"awaiting approval")


@lend.command("approve")
@click.argument("loan_id")
@click.option("--note", default="")
@pass_ctx
def lend_approve(ctx, loan_id, note):
    """Approve a loan (department head of the borrower; a manager for secret files)."""
    from ..core.service import lending
    loan = lending.approve(ctx.archive(), loan_id, note)
    line(f"loan {loan['id']} approved: due back {loan['due']}")


@lend.command("issue")
@click.argument("loan_id")
@click.argument("refs", nargs=-1)
@click.option("-o", "--output", "out", type=click.Path(path_type=Path),
              help="Issue recorded, watermarked copies into this folder (default: in-place access).")
@click.option("--digital", is_flag=True, help="In place, the electronic record only: a paper original stays in "
              "its box (default: a boxed record's paper original is handed out, 借出).")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def lend_issue(ctx, loan_id, refs, out, digital, as_json):
    """Issue an approved loan (all items not yet issued, or the ones named): in place, or copies with -o.
    Issued in place, a record whose paper original is in a box is handed out on paper (借出) unless --digital."""
    from ..core.service import lending
    loan = lending.issue(ctx.archive(), loan_id, refs, copy_to=out, paper=not digital)
    if as_json:
        json_line(loan)
        return
    for i in loan["items"]:
        if i["issued_at"]:
            where = f"copy in {i['copy_to']}" if i["issue_mode"] == "copy" else "in place"
            if i.get("paper_out"):
                where += ": the paper original leaves its box (借出)"
            line(f"{i['record_id']}  {i['archival_code'] or '':<28} issued {where}")
    line(f"loan {loan['id']} issued: due back {loan['due']}")


@lend.command("refuse")
@click.argument("loan_id")
@click.option("--reason", required=True)
@pass_ctx
def lend_refuse(ctx, loan_id, reason):
    """Refuse a loan request."""
    from ..core.service import lending
    lending.refuse(ctx.archive(), loan_id, reason)
    line(f"loan {loan_id} refused")


@lend.command("return")
@click.argument("loan_id")
@click.argument("refs", nargs=-1)
@click.option("--all", "everything", is_flag=True, help="Every item still out on this loan.")
@click.option("--condition", default="intact", show_default=True, help="The condition each item came back in.")
@pass_ctx
def lend_return(ctx, loan_id, refs, everything, condition):
    """Receive returned records, checked item by item."""
    from ..core.service import lending
    loan = lending.return_items(ctx.archive(), loan_id, refs, everything=everything, condition=condition)
    left = [i for i in loan["items"] if not i["returned_at"]]
    line(f"loan {loan_id}: {len(loan['received'])} returned, {len(left)} still out" +
               ("" if left else " — loan closed"))


def _rows(loans):
    return [(b["id"], b["status"], b["borrower"] + (f" ({b['external_unit']})" if b["external_unit"] else ""),
             b["department"] or "", len(b["items"]), len(b["outstanding"]), b["due"] or "", b["days_overdue"] or "",
             b["purpose"]) for b in loans]


HEAD = ["LOAN", "STATUS", "BORROWER", "DEPT", "ITEMS", "OUT", "DUE", "OVERDUE", "PURPOSE"]


@lend.command("list")
@click.option("--overdue", is_flag=True, help="Only loans past their due date.")
@click.option("--as-of", "as_of")
@click.option("--status", type=click.Choice(["requested", "approved", "issued", "returned", "refused"]))
@click.option("--borrower")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def lend_list(ctx, overdue, as_of, status, borrower, as_json):
    """Loans (with --overdue: those past due, as of today or --as-of)."""
    from ..core.service import registers
    archive = ctx.archive()
    loans = registers.loans(archive, overdue=overdue, as_of=as_of_date(as_of), status=status, borrower=borrower)
    if as_json:
        json_lines(loans)
        return
    table(_rows(loans), HEAD, {8: 40})


@lend.command("overdue")
@click.option("--as-of", "as_of")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def lend_overdue(click_ctx, as_of, as_json):
    """Loans past their due date (same as `lend list --overdue`)."""
    click_ctx.invoke(lend_list, overdue=True, as_of=as_of, status=None, borrower=None, as_json=as_json)


@lend.command("register")
@click.option("--from", "since")
@click.option("--to", "until")
@tabular_options("table", "csv", "json", "xlsx", "pdf")
@pass_ctx
def lend_register(ctx, since, until, fmt, dest):
    """The lending register (借阅登记簿): one line per item lent, requested between --from and --to
    (--format csv|xlsx -o FILE for a spreadsheet)."""
    from ..core.service import lending
    archive = ctx.archive()
    rows = lending.register(archive, since=as_of_date(since), until=as_of_date(until))
    cols = lending.REGISTER_COLUMNS
    if fmt == "pdf":
        from ..core.service.forms import lending_register
        from .export_formats import write_bytes
        write_bytes(lending_register(archive, since=as_of_date(since), until=as_of_date(until)), dest,
                    "lending register (借阅登记簿)")
    elif fmt == "json":
        json_lines(rows)
    elif fmt == "xlsx" or (fmt == "csv" and dest is not None):
        emit_table(archive, "lending register", fmt, dest, cols, rows)
    elif fmt == "csv":
        w = csv.DictWriter(sys.stdout, fieldnames=cols)
        w.writeheader()
        w.writerows(rows)
    else:
        table([[r[c] for c in cols] for r in rows], [c.upper() for c in cols], {5: 30})


@lend.command("slip")
@click.argument("loan_id")
@click.option("-o", "--output", "dest", required=True, type=click.Path(path_type=Path, dir_okay=False,
                                                                       allow_dash=True),
              help="The PDF file to write (- for standard output).")
@pass_ctx
def lend_slip(ctx, loan_id, dest):
    """Print the loan's 借阅单 (lending slip) as PDF, with lines to sign (the same as `dangan print lending-slip`)."""
    from ..core.service.forms import lending_slip
    from .export_formats import write_bytes
    write_bytes(lending_slip(ctx.archive(), loan_id), dest, f"lending slip of loan {loan_id}")


COMMANDS = [lend]
