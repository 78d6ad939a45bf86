"""`dangan print`: the printable forms as PDF (卷内文件目录, 备考表, 案卷封面, labels, 归档章, 借阅单,
销毁清册, 销毁证明), each written to ``-o FILE`` (``-o -``: standard output)."""
from __future__ import annotations

from pathlib import Path

import click

from . import pass_ctx

output_opt = click.option("-o", "--output", "dest", required=True, type=click.Path(path_type=Path, dir_okay=False,
                                                                                   allow_dash=True),
                          help="The PDF file to write (- for standard output).")


def write_pdf(pdf: bytes, dest: Path, what: str) -> None:
    from .export_formats import write_bytes
    write_bytes(pdf, dest, what)


@click.group("print")
def print_group():
    """Printable forms as PDF with an embedded Chinese font."""


def _volume_form(form: str, what: str):
    @click.argument("volume")
    @output_opt
    @pass_ctx
    def cmd(ctx, volume, dest):
        from ..core.service.forms import volume_form
        write_pdf(volume_form(ctx.archive(), volume, form), dest, f"{what} of volume {volume}")
    cmd.__doc__ = f"{what} of a volume."
    return print_group.command(form)(cmd)


_volume_form("contents-list", "卷内文件目录 (contents list, in the volume's order)")
_volume_form("reference-sheet", "卷内备考表 (reference sheet: counts, pages, filer, checker)")
_volume_form("cover", "案卷封面 (volume cover)")


@print_group.command("labels")
@click.argument("refs", nargs=-1)
@click.option("--volume", help="Every record of this volume, in its order.")
@output_opt
@pass_ctx
def labels(ctx, refs, volume, dest):
    """Record labels: a Code 128 barcode of the record id, the archival code and title."""
    from ..core.service.forms import record_labels
    write_pdf(record_labels(ctx.archive(), list(refs), volume=volume), dest, "labels")


@print_group.command("stamp")
@click.argument("refs", nargs=-1)
@click.option("--volume", help="Every record of this volume, in its order.")
@output_opt
@pass_ctx
def stamp(ctx, refs, volume, dest):
    """The 归档章 of DA/T 22 filled in for each record (全宗号 年度 件号 / 机构 保管期限 页数)."""
    from ..core.service.forms import archival_stamps
    write_pdf(archival_stamps(ctx.archive(), list(refs), volume=volume), dest, "archival stamps")


@print_group.command("lending-slip")
@click.argument("loan_id")
@output_opt
@pass_ctx
def lending_slip(ctx, loan_id, dest):
    """The 借阅单 of a loan, with lines for the borrower, the approver and the staff who issue and take back."""
    from ..core.service.forms import lending_slip as run
    write_pdf(run(ctx.archive(), loan_id), dest, f"lending slip of loan {loan_id}")


@print_group.command("destruction-list")
@click.argument("list_id")
@output_opt
@pass_ctx
def destruction_list(ctx, list_id, dest):
    """The 销毁清册 of a destruction list, with lines for the appraisers and approvers."""
    from ..core.service.forms import destruction_list as run
    write_pdf(run(ctx.archive(), list_id), dest, f"destruction list {list_id}")


@print_group.command("certificate")
@click.argument("list_id")
@output_opt
@pass_ctx
def certificate(ctx, list_id, dest):
    """The 销毁证明 of an executed list, with lines for the approver, the destroyer and the witnesses (监销人)."""
    from ..core.service.forms import destruction_certificate
    write_pdf(destruction_certificate(ctx.archive(), list_id), dest, f"destruction certificate of list {list_id}")


COMMANDS = [print_group]
