"""Tables as spreadsheet files: CSV that Excel on Chinese Windows opens as Chinese, and xlsx.

Excel reads a CSV without a byte-order mark in the system's ANSI code page (GBK on Chinese Windows),
so UTF-8 Chinese shows as mojibake: :func:`csv_bytes` writes UTF-8 with a BOM and CRLF line ends.
:func:`xlsx_bytes` writes with openpyxl in write-only mode (10,000 rows in about a second), every cell
a string or a number, never a formula.

A value a file or a user chose can start with ``=``, ``+``, ``-`` or ``@``, which a spreadsheet would run
as a formula (CSV injection): in CSV such a value is prefixed with an apostrophe, in xlsx it is stored
as a string cell.
"""
from __future__ import annotations

import csv
import io
from typing import Any, Sequence

FORMATS = ("csv", "xlsx")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(v: Any) -> Any:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "yes" if v else ""
    if isinstance(v, (int, float)):
        return v
    if isinstance(v, (list, tuple, set)):
        return "; ".join(str(x) for x in v)
    if isinstance(v, dict):
        return "; ".join(f"{k}={x}" for k, x in v.items())
    return str(v)


def _csv_safe(v: Any) -> Any:
    v = _cell(v)
    if isinstance(v, str) and v.startswith(_FORMULA_START) and not _is_number(v):
        return "'" + v
    return v


def _is_number(s: str) -> bool:
    try:
        float(s)
        return True
    except ValueError:
        return False


def csv_bytes(columns: Sequence[str], rows: Sequence[Sequence[Any]], *, bom: bool = True) -> bytes:
    """UTF-8 CSV (with a BOM unless ``bom=False``), header first, CRLF line ends."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(columns)
    w.writerows([_csv_safe(v) for v in r] for r in rows)
    return (b"\xef\xbb\xbf" if bom else b"") + buf.getvalue().encode("utf-8", "surrogateescape")


def xlsx_bytes(columns: Sequence[str], rows: Sequence[Sequence[Any]], *, sheet: str = "dangan") -> bytes:
    """An xlsx workbook of one sheet: a bold, frozen header row, then the rows; no cell is a formula."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    wb = Workbook(write_only=True)
    ws = wb.create_sheet(_sheet_title(sheet))
    ws.freeze_panes = "A2"
    widths = [max(8, _width(c)) for c in columns]
    sample = rows[:200]
    for r in sample:
        for i, v in enumerate(r[:len(widths)]):
            widths[i] = min(60, max(widths[i], _width(str(_cell(v)))))
    for i, w in enumerate(widths, 1):
        ws.column_dimensions[get_column_letter(i)].width = w + 2
    bold = Font(bold=True)
    header = []
    for c in columns:
        cell = WriteOnlyCell(ws, value=_text(c))
        cell.font = bold
        header.append(cell)
    ws.append(header)
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
    for r in rows:
        out = []
        for v in r:
            v = _cell(v)
            if isinstance(v, str):
                if ILLEGAL_CHARACTERS_RE.search(v) or not v.isprintable():
                    v = _text(v)
                if v.startswith("="):
                    cell = WriteOnlyCell(ws, value=v)
                    cell.data_type = "s"      # openpyxl would store it as a formula: a string, always
                    v = cell
            out.append(v)
        ws.append(out)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def table_bytes(fmt: str, columns: Sequence[str], rows: Sequence[Sequence[Any]], *, sheet: str = "dangan") -> bytes:
    if fmt == "csv":
        return csv_bytes(columns, rows)
    if fmt == "xlsx":
        return xlsx_bytes(columns, rows, sheet=sheet)
    raise ValueError(f"not a spreadsheet format: {fmt}")


def _text(s: str) -> str:
    """Text an xlsx cell can hold: XML 1.0 forbids most C0 controls (openpyxl would refuse the row)."""
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
    s = s.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    return ILLEGAL_CHARACTERS_RE.sub(lambda m: f"\\x{ord(m.group()):02x}", s)


def _width(s: str) -> int:
    import unicodedata
    return sum(2 if unicodedata.east_asian_width(c) in ("W", "F") else 1 for c in s)


def _sheet_title(s: str) -> str:
    for c in "[]:*?/\\":
        s = s.replace(c, " ")
    return s[:31] or "dangan"
