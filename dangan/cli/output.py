r"""Output helpers: JSON lines, aligned tables that respect CJK width, and text made safe for a terminal.

Every value a user or a file could have chosen (titles, file names, messages,
snippets) goes through ``printable`` before it is printed: control characters
(a newline that would fake another output line, ESC sequences) and bidi
controls (U+202E reversing what follows) are shown escaped (``\n``,
``\x1b``, ``\u202e``), and bytes of a file name that were not UTF-8 as
``\xNN``.  ``table``, ``line`` and ``json_line(s)`` all use it.
"""
from __future__ import annotations

import functools
import json
import re
import unicodedata
from typing import Any, Iterable, Sequence

import click


def _char_width(c: str) -> int:
    if unicodedata.east_asian_width(c) in ("W", "F"):
        return 2                            # CJK, kana, Hangul, full-width forms, emoji
    if unicodedata.combining(c) or unicodedata.category(c) in ("Mn", "Me", "Cf"):
        return 0                            # combining marks, zero-width joiners and spaces
    return 1


_JSON_UNSAFE = re.compile("[\u0080-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def printable(value: Any) -> str:
    """``value`` as text that prints as itself: control, bidi and undecodable characters escaped."""
    from ..core.store.source_files import escape_text
    return escape_text("" if value is None else str(value))


def line(text: Any, **kw: Any) -> None:
    """Print one line of output, escaped (``printable``)."""
    click.echo(printable(text), **kw)


def width(s: str) -> int:
    """Display width on a terminal (Unicode East Asian Width): wide characters take two columns."""
    if s.isascii():
        return len(s)
    return sum(_char_width(c) for c in s)


def fit(s: str, w: int) -> str:
    s = s.replace("\n", " ")
    if width(s) <= w:
        return s + " " * (w - width(s))
    out, used = "", 0
    for c in s:
        cw = width(c)
        if used + cw > w - 1:
            break
        out += c
        used += cw
    return out + "…" + " " * (w - used - 1)


def table(rows: Sequence[Sequence[Any]], headers: Sequence[str], max_widths: dict[int, int] | None = None,
          fill: int | None = None) -> None:
    """Aligned columns; column ``fill`` (a title) takes what the terminal has left, cut with "…",
    so that a line never wraps (unless that leaves it fewer than 12 columns)."""
    click.echo("\n".join(table_lines(rows, headers, max_widths, fill)))


def table_lines(rows: Sequence[Sequence[Any]], headers: Sequence[str], max_widths: dict[int, int] | None = None,
                fill: int | None = None) -> list[str]:
    """The lines of :func:`table`: the header, then one per row."""
    cells = [[printable(v) for v in r] for r in rows]
    sizes = [[width(v) for v in r] for r in cells]
    widths = [width(h) for h in headers]
    for r in sizes:
        for i, w in enumerate(r):
            if w > widths[i]:
                widths[i] = w
    for i, m in (max_widths or {}).items():
        widths[i] = min(widths[i], m)
    if fill is not None:
        import shutil
        rest = shutil.get_terminal_size((80, 24)).columns - 1 - sum(w + 2 for i, w in enumerate(widths) if i != fill)
        widths[fill] = min(widths[fill], max(rest, 12, width(headers[fill])))
    lines = ["  ".join(fit(printable(h), widths[i]) for i, h in enumerate(headers)).rstrip()]
    for r, ws in zip(cells, sizes):
        lines.append("  ".join(v + " " * (widths[i] - w) if w <= widths[i] else fit(v, widths[i])
                               for i, (v, w) in enumerate(zip(r, ws))).rstrip())
    return lines


def _json(obj: Any) -> str:
    """One JSON text; bidi controls and lone surrogates as ``\\uXXXX`` escapes (JSON escapes the C0 controls)."""
    text = json.dumps(obj, ensure_ascii=False, default=str)
    return _JSON_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def json_line(obj: Any) -> None:
    click.echo(_json(obj))


def json_lines(objs: Iterable[Any]) -> None:
    text = "\n".join(_json(o) for o in objs)
    if text:
        click.echo(text)


def format_options(f):
    """``--format table|csv|json`` and ``--json`` (the same as ``--format json``), as ``fmt``."""
    @functools.wraps(f)
    def inner(*args, as_json=False, fmt="table", **kw):
        return f(*args, fmt="json" if as_json else fmt, **kw)
    inner = click.option("--json", "as_json", is_flag=True, help="The same as --format json.")(inner)
    return click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table",
                        show_default=True)(inner)


class TerminalProgress:
    """A click progress bar on stderr (stdout keeps the lines), as core's ``Progress`` callback."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.bar: Any = None

    def start(self, total: int) -> None:
        import sys
        self.bar = click.progressbar(length=total, label=self.label, file=sys.stderr)
        self.bar.__enter__()

    def before_output(self) -> None:
        if self.bar is not None:
            self.bar.file.write("\r\033[K")
            self.bar.file.flush()

    def advance(self, n: int = 1) -> None:
        if self.bar is not None:
            self.bar.update(n)

    def finish(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)
            self.bar = None
