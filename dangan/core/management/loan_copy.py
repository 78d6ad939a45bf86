"""The loan copy's mark (借阅复制件): what it says, and how each format carries it.

The mark names the loan, the record, the borrower (and their unit), the due
date, and forbids further copying, in Chinese first with English after it.
A plain-text file gets it as a first line; a PDF gets it drawn on every page
in an embedded CJK TrueType font (WenQuanYi Micro Hei, Debian's
``fonts-wqy-microhei``; the subset is embedded with a ToUnicode map, so the
text extracts), shrunk and wrapped to fit inside the page, plus the loan in
the document information; other files get a ``NAME.loan.txt`` sidecar.
"""
from __future__ import annotations

import io
import os
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pypdf import PageObject

TEXT_SUFFIXES = (".txt", ".text", ".md", ".log")

#: CJK TrueType fonts the PDF mark may embed, first found wins (reportlab embeds glyf outlines, not CFF/OTF).
CJK_FONTS = ("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc", "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
             "/usr/share/fonts/truetype/arphic/uming.ttc", "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf")
_FONT_NAME = "DanganCJK"
_MARGIN = 18.0          # points kept clear at each edge of the page
_MAX_SIZE = 10.0
_MIN_SIZE = 5.0


class NoCjkFont(Exception):
    """No CJK TrueType font is installed (scripts/install-system-deps installs one)."""


def loan_mark(loan: dict, record_code: str, due: str) -> str:
    borrower = loan["borrower"] + (f"（{loan['external_unit']}）" if loan.get("external_unit") else "")
    return (f"借阅复制件 借阅单 {loan['id']} 档号 {record_code} 借阅人 {borrower} 归还日期 {due} 不得再复制 · "
            f"LOAN COPY: loan {loan['id']}, record {record_code}, borrower {borrower}, due back {due}; "
            "not to be copied further")


def watermark(path: Path, mark: str, loan: dict, due: str) -> str:
    """Carry the loan in the file where the format allows: ``header`` (plain text), ``pdf`` (drawn on every
    page, and in the document information), else a ``sidecar`` NAME.loan.txt.  Returns which."""
    suffix = path.suffix.lower()
    if suffix in TEXT_SUFFIXES:
        data = path.read_bytes()
        bom = b"\xef\xbb\xbf" if data.startswith(b"\xef\xbb\xbf") else b""
        try:
            data[len(bom):].decode("utf-8")
            path.write_bytes(bom + f"[{mark}]\n".encode() + data[len(bom):])
            return "header"
        except UnicodeDecodeError:
            pass                                    # another encoding: leave the bytes alone, use a sidecar
    elif suffix == ".pdf":
        try:
            watermark_pdf(path, mark, loan, due)
            return "pdf"
        except Exception:       # noqa: BLE001 - an unreadable or encrypted PDF, or no CJK font: the sidecar
            pass
    path.with_name(path.name + ".loan.txt").write_text(mark + "\n", encoding="utf-8")
    return "sidecar"


def _register_font() -> str:
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont
    if _FONT_NAME in pdfmetrics.getRegisteredFontNames():
        return _FONT_NAME
    for candidate in CJK_FONTS:
        if os.path.exists(candidate):
            pdfmetrics.registerFont(TTFont(_FONT_NAME, candidate, subfontIndex=0))
            return _FONT_NAME
    raise NoCjkFont("no CJK TrueType font found (install fonts-wqy-microhei)")


def _fit(mark: str, font: str, width: float) -> tuple[float, list[str]]:
    """The largest font size (down to _MIN_SIZE) at which the mark fits ``width`` in at most 3 lines."""
    from reportlab.lib.utils import simpleSplit
    size = _MAX_SIZE
    while True:
        lines = simpleSplit(mark, font, size, width)
        if len(lines) <= 3 or size <= _MIN_SIZE:
            return size, lines
        size -= 0.5


def _stamp(width: float, height: float, mark: str) -> bytes:
    """A one-page PDF of the page's size with the mark at its top, inside the margins."""
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfgen import canvas
    font = _register_font()
    usable = max(width - 2 * _MARGIN, 36.0)
    size, lines = _fit(mark, font, usable)
    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=(width, height), pageCompression=1, invariant=1, initialFontName=font,
                      initialFontSize=size)
    c.setFillColorRGB(0.75, 0.0, 0.0)
    c.setFont(font, size)
    y = height - _MARGIN - size
    for line in lines:
        # at the minimum size a line may still be too wide (a tiny page): squeeze it horizontally
        scale = min(1.0, usable / max(pdfmetrics.stringWidth(line, font, size), 1e-6))
        c.saveState()
        c.translate(_MARGIN, y)
        c.scale(scale, 1.0)
        c.drawString(0, 0, line)
        c.restoreState()
        y -= size * 1.25
    c.showPage()
    c.save()
    return buf.getvalue()


def watermark_pdf(path: Path, mark: str, loan: dict, due: str) -> None:
    from pypdf import PdfReader, PdfWriter, Transformation
    writer = PdfWriter(clone_from=PdfReader(path))
    writer.add_metadata({"/DanganLoan": loan["id"], "/DanganBorrower": loan["borrower"], "/DanganDue": due,
                         "/Subject": mark})
    stamps: dict[tuple[float, float], PageObject] = {}
    for page in writer.pages:
        box = page.mediabox
        left, bottom = float(box.left), float(box.bottom)
        key = (round(float(box.width), 2), round(float(box.height), 2))
        if key not in stamps:
            stamps[key] = PdfReader(io.BytesIO(_stamp(*key, mark))).pages[0]
        page.merge_transformed_page(stamps[key], Transformation().translate(left, bottom), over=True)
    tmp = path.with_name(path.name + ".part")
    with open(tmp, "wb") as f:
        writer.write(f)
    os.replace(tmp, path)
