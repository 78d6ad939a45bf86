"""Printable forms as PDF: one module per form, all drawn by :func:`render.render_form`.

Each module turns plain data (a volume's records, a loan, a destruction list, a report) into a
:class:`render.Form`; ``core.service.forms`` gathers that data as the acting user may see it, audits
the printing and returns the PDF bytes.  The CJK font is subset-embedded (``font``).

    render              the Form model (headings, field grids, tables, signature lines, labels,
                        stamps) and render_form, the one place that knows reportlab
    font                the embedded CJK font (Noto Serif CJK SC, subset with fontTools)
    contents_list       卷内文件目录          reference_sheet   卷内备考表
    volume_cover        案卷封面              labels            record labels with barcodes
    archival_stamp      归档章 (DA/T 22)      lending_slip      借阅单
    destruction_list    销毁清册              destruction_certificate  销毁证明 with 监销人 lines
    inspection_report   the six-monthly inspection report
    report_table        any report's table (a plugin report, statistics)
    transfer_register   移交清单 of a transfer package, signed by both sides
"""
from __future__ import annotations

from .render import Form, render_form

__all__ = ["Form", "render_form"]
