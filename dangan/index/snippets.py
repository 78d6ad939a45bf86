"""Snippets: short fragments of the stored text around the hits, hits marked.

Computed here, from the whole stored text (no character limit, so a hit past
the first 32K characters gets a snippet too), with the same normalisation as
the index, and mapped back to the original characters.  Fragments end at
Chinese and Latin sentence breaks (。！？!? and line breaks).
"""
from __future__ import annotations

import re
from bisect import bisect_left
from typing import Callable

__all__ = ["make_snippet", "mark"]

_BREAKS = "。！？!?\n；;"
_BREAK = re.compile("[" + re.escape(_BREAKS) + "]")
_SPACE = re.compile(r"\s+")
_LATIN = "0-9a-z\u00c0-\u024f"
MAX_MATCHES = 2000


def _needle_pattern(needles: list[str], prefixes: set[str]) -> re.Pattern[str] | None:
    alts = []
    for n in sorted(set(needles), key=len, reverse=True):
        if not n:
            continue
        p = re.escape(n)
        if re.match(f"[{_LATIN}]", n[0]):
            p = f"(?<![{_LATIN}])" + p
        if re.match(f"[{_LATIN}]", n[-1]) and n not in prefixes:
            p = p + f"(?![{_LATIN}])"
        alts.append(p)
    return re.compile("|".join(alts)) if alts else None


def make_snippet(text: str, needles: list[str], normalise_with_map: Callable, *,
                 prefixes: set[str] = frozenset(), fragments: int = 3, width: int = 60,
                 max_matches: int = MAX_MATCHES) -> tuple[str, list[tuple[int, int]]]:
    """Return (snippet text, hit spans in it).

    ``needles`` are normalised query words/phrases; ``normalise_with_map`` is
    the index's normaliser (see ``text_v1``).  Without a hit the snippet is
    the start of the text.
    """
    if not text:
        return "", []
    norm, where = normalise_with_map(text)
    pat = _needle_pattern(needles, set(prefixes))
    spans: list[tuple[int, int]] = []
    if pat is not None:
        for m in pat.finditer(norm):
            s, e = m.start(), m.end()
            if where is not None:
                s, e = where[s], where[e - 1] + 1
            spans.append((s, e))
            if len(spans) >= max_matches:
                break
    if not spans:
        frag = text[: 2 * width]
        return _collapse(frag, []) [0] + ("…" if len(text) > 2 * width else ""), []
    # One candidate fragment per hit, bounded by sentence breaks and width.
    cands: list[tuple[int, int]] = []
    breaks = [m.start() for m in _BREAK.finditer(text)]      # once: each candidate bisects them
    for s, e in spans:
        if cands and s < cands[-1][1]:
            continue
        lo = max(0, s - width)
        i = bisect_left(breaks, s) - 1                         # the last break in [lo, s)
        start = breaks[i] + 1 if i >= 0 and breaks[i] >= lo else lo
        hi = min(len(text), e + width)
        j = bisect_left(breaks, e)                             # the first break in [e, hi)
        end = breaks[j] + 1 if j < len(breaks) and breaks[j] < hi else hi
        cands.append((start, end))
    scored = []
    for idx, (fs, fe) in enumerate(cands):
        inside = [text[s:e].lower() for s, e in spans if fs <= s and e <= fe]
        scored.append((-len(set(inside)), -len(inside), idx))
    chosen = sorted(idx for _, _, idx in sorted(scored)[:fragments])
    out, out_spans = [], []
    pos = 0
    for n, idx in enumerate(chosen):
        fs, fe = cands[idx]
        local = [(s - fs, e - fs) for s, e in spans if fs <= s and e <= fe]
        frag, fspans = _collapse(text[fs:fe], local)
        if n:
            out.append(" … ")
            pos += 3
        out.append(frag)
        out_spans.extend((s + pos, e + pos) for s, e in fspans)
        pos += len(frag)
    return "".join(out), out_spans


def _collapse(frag: str, spans: list[tuple[int, int]]) -> tuple[str, list[tuple[int, int]]]:
    """Collapse runs of white space to one space, keeping spans right."""
    cuts = sorted({0, len(frag), *(p for sp in spans for p in sp)})
    pieces: dict[int, int] = {}
    out: list[str] = []
    length = 0
    for a, b in zip(cuts, cuts[1:]):
        pieces[a] = length
        piece = _SPACE.sub(" ", frag[a:b])
        out.append(piece)
        length += len(piece)
    pieces[len(frag)] = length
    text = "".join(out)
    lead = len(text) - len(text.lstrip())
    text_s = text.strip()
    new = [(pieces[s] - lead, pieces[e] - lead) for s, e in spans]
    new = [(max(0, s), min(len(text_s), e)) for s, e in new if e - lead > 0]
    return text_s, new


def mark(text: str, spans: list[tuple[int, int]], open_: str = "[[", close: str = "]]") -> str:
    out, pos = [], 0
    for s, e in sorted(spans):
        if s < pos:
            continue
        out += [text[pos:s], open_, text[s:e], close]
        pos = e
    out.append(text[pos:])
    return "".join(out)
