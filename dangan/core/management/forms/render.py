"""One renderer for every printable form: a :class:`Form` (a title and blocks) to PDF bytes.

A form is data — headings, field grids, tables, signature lines, barcode labels, archival stamps — so
each form module only says what goes where, and this module alone knows reportlab.  Rendering takes
two passes: the text of every block is gathered first to subset the CJK font (``font.cjk_font``),
and the pages are drawn before their footers, so each page says 第 N 页 共 M 页.  The output is
invariant (no creation date or random id in it): the same form prints the same bytes.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence
from xml.sax.saxutils import escape


@dataclass
class Heading:
    text: str
    size: float = 12
    align: str = "left"           # left, centre


@dataclass
class Fields:
    """Label–value pairs in a grid of ``columns`` pairs per row."""

    pairs: Sequence[tuple[str, Any]]
    columns: int = 2


@dataclass
class Grid:
    """A table with a header row repeated on every page; ``widths`` are relative."""

    columns: Sequence[str]
    rows: Sequence[Sequence[Any]]
    widths: Sequence[float] | None = None
    size: float = 9
    min_rows: int = 0             # printed forms keep blank lines to write on


@dataclass
class Signatures:
    """One line per role to sign on: 「role（签字）：______  日期：______」."""

    roles: Sequence[str]


@dataclass
class Labels:
    """Adhesive labels: each a Code 128 barcode of ``value`` and lines of text under it."""

    items: Sequence[tuple[str, Sequence[str]]]
    columns: int = 2


@dataclass
class Stamps:
    """The 归档章 of DA/T 22 (each cell 15 mm × 7 mm, two rows of three): one stamp per six values."""

    items: Sequence[Sequence[Any]]
    columns: int = 4


@dataclass
class Form:
    title: str
    blocks: list = field(default_factory=list)
    landscape: bool = False
    footer: str = ""              # left of the page number: the archive's name
    title_size: float = 16


def _texts(form: Form) -> Iterable[str]:
    yield form.title
    yield form.footer
    for b in form.blocks:
        if isinstance(b, Heading):
            yield b.text
        elif isinstance(b, Fields):
            for k, v in b.pairs:
                yield str(k)
                yield _s(v)
        elif isinstance(b, Grid):
            yield from map(str, b.columns)
            for r in b.rows:
                yield from map(_s, r)
        elif isinstance(b, Signatures):
            yield from b.roles
            yield "签字日期"
        elif isinstance(b, Labels):
            for value, lines in b.items:
                yield value
                yield from map(_s, lines)
        elif isinstance(b, Stamps):
            for values in b.items:
                yield from map(_s, values)


def _s(v: Any) -> str:
    return "" if v is None else str(v)


def render_form(form: Form) -> bytes:
    """The PDF of ``form`` (A4; landscape if asked), with the CJK font subset-embedded."""
    import io

    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4, landscape
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    from .font import cjk_font

    font = cjk_font(_texts(form))
    size = landscape(A4) if form.landscape else A4
    width = size[0] - 36 * mm

    def style(points: float, align: int = 0, leading: float | None = None) -> ParagraphStyle:
        return ParagraphStyle("f", fontName=font, fontSize=points, leading=leading or points * 1.35,
                              alignment=align, wordWrap="CJK")

    def para(text: Any, points: float = 9, align: int = 0) -> Paragraph:
        return Paragraph(escape(_s(text)).replace("\n", "<br/>"), style(points, align))

    from reportlab.pdfbase.pdfmetrics import stringWidth

    def cell(v: Any, points: float, room: float) -> Any:
        """A short one-line value as a plain string (cheap to lay out), a longer one as a wrapping Paragraph."""
        text = _s(v)
        if "\n" not in text and stringWidth(text, font, points) <= room - 8:
            return text
        return para(text, points)

    grid_style = [("FONTNAME", (0, 0), (-1, -1), font), ("GRID", (0, 0), (-1, -1), 0.5, colors.black),
                  ("VALIGN", (0, 0), (-1, -1), "MIDDLE")]
    story: list = [Paragraph(escape(form.title), style(form.title_size, 1)), Spacer(1, 6 * mm)]
    for b in form.blocks:
        if isinstance(b, Heading):
            story += [Paragraph(escape(b.text), style(b.size, 1 if b.align == "centre" else 0)), Spacer(1, 2 * mm)]
        elif isinstance(b, Fields):
            cells = [c for k, v in b.pairs for c in (para(k, 10), para(v, 10))]
            cells += [""] * (-len(cells) % (2 * b.columns))
            rows = [cells[i:i + 2 * b.columns] for i in range(0, len(cells), 2 * b.columns)]
            unit = width / (b.columns * 3.5)
            t = Table(rows, colWidths=[unit, unit * 2.5] * b.columns)
            t.setStyle(TableStyle(grid_style + [("BACKGROUND", (0, 0), (0, -1), colors.whitesmoke)]))
            story += [t, Spacer(1, 4 * mm)]
        elif isinstance(b, Grid):
            rel = list(b.widths or [1] * len(b.columns))
            widths = [width * w / sum(rel) for w in rel]
            rows = [[para(c, b.size, 1) for c in b.columns]]
            rows += [[cell(v, b.size, w) for v, w in zip(r, widths)] for r in b.rows]
            rows += [[""] * len(b.columns) for _ in range(max(0, b.min_rows - len(b.rows)))]
            t = Table(rows, colWidths=widths, repeatRows=1, minRowHeights=[7 * mm] * len(rows))
            t.setStyle(TableStyle(grid_style + [("BACKGROUND", (0, 0), (-1, 0), colors.whitesmoke),
                                                ("FONTSIZE", (0, 1), (-1, -1), b.size)]))
            story += [t, Spacer(1, 4 * mm)]
        elif isinstance(b, Signatures):
            rows = [[para(f"{role}（签字）：", 10), "", para("日期：", 10), ""] for role in b.roles]
            t = Table(rows, colWidths=[width * 0.3, width * 0.35, width * 0.1, width * 0.25],
                      rowHeights=[11 * mm] * len(rows))
            t.setStyle(TableStyle([("FONTNAME", (0, 0), (-1, -1), font), ("VALIGN", (0, 0), (-1, -1), "BOTTOM"),
                                   ("LINEBELOW", (1, 0), (1, -1), 0.5, colors.black),
                                   ("LINEBELOW", (3, 0), (3, -1), 0.5, colors.black)]))
            story += [Spacer(1, 4 * mm), t]
        elif isinstance(b, Labels):
            story.append(_labels(b, width, para))
        elif isinstance(b, Stamps):
            story.append(_stamps(b, font, grid_style))
        else:
            raise TypeError(f"not a form block: {b!r}")
    buf = io.BytesIO()
    doc = SimpleDocTemplate(buf, pagesize=size, leftMargin=18 * mm, rightMargin=18 * mm, topMargin=16 * mm,
                            bottomMargin=18 * mm, title=form.title, author=form.footer, invariant=1)
    doc.build(story, canvasmaker=_numbered_canvas(font, form.footer))
    return buf.getvalue()


def _labels(b: Labels, width: float, para) -> Any:
    from reportlab.graphics.barcode import createBarcodeDrawing
    from reportlab.lib import colors
    from reportlab.lib.units import mm
    from reportlab.platypus import Table, TableStyle

    cells: list[Any] = []
    for value, lines in b.items:
        code = createBarcodeDrawing("Code128", value=value, barHeight=12 * mm, humanReadable=True,
                                    barWidth=0.3 * mm)
        cells.append([code] + [para(t, 9) for t in lines])
    cells += [""] * (-len(cells) % b.columns)
    rows = [cells[i:i + b.columns] for i in range(0, len(cells), b.columns)]
    t = Table(rows, colWidths=[width / b.columns] * b.columns)
    t.setStyle(TableStyle([("BOX", (0, 0), (-1, -1), 0.3, colors.grey), ("INNERGRID", (0, 0), (-1, -1), 0.3,
                                                                          colors.grey),
                           ("VALIGN", (0, 0), (-1, -1), "TOP"), ("TOPPADDING", (0, 0), (-1, -1), 3 * mm),
                           ("BOTTOMPADDING", (0, 0), (-1, -1), 3 * mm)]))
    return t


def _stamps(b: Stamps, font: str, grid_style) -> Any:
    from reportlab.lib.units import mm
    from reportlab.platypus import Table, TableStyle

    stamps = []
    for values in b.items:
        v = [_s(x) for x in values] + [""] * (6 - len(values))
        s = Table([v[:3], v[3:6]], colWidths=[15 * mm] * 3, rowHeights=[7 * mm] * 2)
        s.setStyle(TableStyle(grid_style + [("FONTSIZE", (0, 0), (-1, -1), 7), ("ALIGN", (0, 0), (-1, -1),
                                                                                   "CENTER")]))
        stamps.append(s)
    stamps += [""] * (-len(stamps) % b.columns)
    rows = [stamps[i:i + b.columns] for i in range(0, len(stamps), b.columns)]
    t = Table(rows, colWidths=[50 * mm] * b.columns, rowHeights=[22 * mm] * len(rows))
    t.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "MIDDLE")]))
    return t


def _numbered_canvas(font: str, footer: str):
    """A canvas that holds its pages until the end, then writes 第 N 页 共 M 页 on each (the second pass)."""
    from reportlab.lib.units import mm
    from reportlab.pdfgen import canvas

    class NumberedCanvas(canvas.Canvas):
        def __init__(self, *args, **kwargs):
            kwargs.setdefault("initialFontName", font)
            super().__init__(*args, **kwargs)
            self._pages: list[dict] = []

        def showPage(self):
            self._pages.append(dict(self.__dict__))
            self._startPage()

        def save(self):
            total = len(self._pages)
            for n, state in enumerate(self._pages, 1):
                self.__dict__.update(state)
                w, _h = self._pagesize
                self.setFont(font, 8)
                if footer:
                    self.drawString(18 * mm, 10 * mm, footer)
                self.drawRightString(w - 18 * mm, 10 * mm, f"第 {n} 页 共 {total} 页")
                super().showPage()
            super().save()

    return NumberedCanvas
