"""DA/T 22-2015 archival codes (档号), as pure functions.

``全宗号-门类代码·年度-保管期限代码-机构代码-件号``, e.g. ``Z109-WS·2021-Y-BGS-0001``.
The part before the piece number is the *lowest class*: core allocates piece
numbers from 1 within each class, without gaps, in its catalogue transaction.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from ...model import retention_code

SEP = "-"
YEAR_SEP = "·"          # U+00B7 MIDDLE DOT
PIECE_WIDTH = 4
_PART = re.compile(r"^[0-9A-Za-z]+$")
_CODE = re.compile(
    r"^(?P<fonds>[0-9A-Za-z]+)-(?P<cls>[0-9A-Za-z]+)·(?P<year>\d{4})-(?P<ret>[0-9A-Za-z]+)"
    r"-(?P<dept>[0-9A-Za-z]+)-(?P<piece>\d{4,})$"
)


@dataclass(frozen=True)
class ArchivalCode:
    fonds: str
    class_code: str
    year: int
    retention_code: str
    department: str
    piece: int

    @property
    def lowest_class(self) -> str:
        return archival_class(self.fonds, self.class_code, self.year, self.retention_code, self.department)

    def __str__(self) -> str:
        return archival_code(self.lowest_class, self.piece)


def _part(name: str, value: str) -> str:
    if not value or not _PART.match(value):
        raise ValueError(f"{name} {value!r} must be letters and digits only (DA/T 22)")
    return value


def archival_class(fonds: str, class_code: str, year: int, retention: str, department: str) -> str:
    """The lowest class: ``Z109-WS·2021-Y-BGS``.  ``retention`` may be a term or a code."""
    if not 1000 <= int(year) <= 9999:
        raise ValueError(f"year {year!r} must have four digits")
    return (f"{_part('fonds', fonds)}{SEP}{_part('category class code', class_code)}{YEAR_SEP}{int(year)}"
            f"{SEP}{_part('retention code', retention_code(retention))}{SEP}{_part('department code', department)}")


def archival_code(lowest_class: str, piece: int) -> str:
    """``archival_code("Z109-WS·2021-Y-BGS", 1) == "Z109-WS·2021-Y-BGS-0001"``."""
    if not isinstance(piece, int) or isinstance(piece, bool) or piece < 1:
        raise ValueError(f"piece number must be a positive integer, got {piece!r}")
    return f"{lowest_class}{SEP}{piece:0{PIECE_WIDTH}d}"


def parse_archival_code(code: str) -> ArchivalCode:
    m = _CODE.match(code.strip())
    if not m:
        raise ValueError(f"{code!r} is not a DA/T 22 archival code like Z109-WS·2021-Y-BGS-0001")
    return ArchivalCode(m["fonds"], m["cls"], int(m["year"]), m["ret"], m["dept"], int(m["piece"]))
