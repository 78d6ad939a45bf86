"""Output helpers: JSON lines, aligned tables that respect CJK width."""
from __future__ import annotations

import json
import re
from typing import Any, Iterable, Sequence

import click


# Wide and full-width characters (East Asian Width W or F): Hangul Jamo, CJK and its punctuation,
# kana, Hangul syllables, compatibility ideographs, vertical and full-width forms, the CJK extensions.
_WIDE = re.compile("[\u1100-\u115f\u2e80-\u303e\u3041-\u33ff\u3400-\u4dbf\u4e00-\u9fff\ua000-\ua4cf"
                   "\uac00-\ud7a3\uf900-\ufaff\ufe30-\ufe4f\uff00-\uff60\uffe0-\uffe6"
                   "\U00020000-\U0003fffd]")


def width(s: str) -> int:
    """Display width on a terminal: wide characters take two columns."""
    if s.isascii():
        return len(s)
    return len(s) + len(_WIDE.findall(s))


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


def table(rows: Sequence[Sequence[Any]], headers: Sequence[str], max_widths: dict[int, int] | None = None) -> None:
    cells = [[("" if v is None else str(v).replace("\n", " ")) for v in r] for r in rows]
    sizes = [[width(v) for v in r] for r in cells]
    widths = [width(h) for h in headers]
    for r in sizes:
        for i, w in enumerate(r):
            if w > widths[i]:
                widths[i] = w
    for i, m in (max_widths or {}).items():
        widths[i] = min(widths[i], m)
    lines = ["  ".join(fit(h, widths[i]) for i, h in enumerate(headers)).rstrip()]
    for r, ws in zip(cells, sizes):
        lines.append("  ".join(v + " " * (widths[i] - w) if w <= widths[i] else fit(v, widths[i])
                               for i, (v, w) in enumerate(zip(r, ws))).rstrip())
    click.echo("\n".join(lines))


def json_line(obj: Any) -> None:
    click.echo(json.dumps(obj, ensure_ascii=False, default=str))


def json_lines(objs: Iterable[Any]) -> None:
    text = "\n".join(json.dumps(o, ensure_ascii=False, default=str) for o in objs)
    if text:
        click.echo(text)
