"""Text normalisation and tokens, version 1 (pure Python, no search engine).

Used by ``analysis_v1`` (the Whoosh analyzers pickled into the index) and by
the query side.  See ``analysis_v1`` for the design; never change v1's
behaviour once an index has been built with it.
"""
from __future__ import annotations

import re
import unicodedata
from typing import Iterator

__all__ = [
    "normalise", "fold", "normalise_with_map", "tokens", "query_tokens", "split_trailing",
    "cjk_chars", "is_cjk", "term_positions", "token_string",
    "token_string_and_chars", "token_string_and_runs", "cjk_run_of", "word_pair_of",
]


# Han (BMP, ext A, compatibility, ext B..), kana and hangul are bigrammed.
_CJK = (
    "\u3005\u3007\u3041-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af"
    "\uf900-\ufaff\U00020000-\U0003134f"
)
_CJK_RUN = re.compile(f"([{_CJK}]+)")
_WORD = re.compile(r"[^\W_]+")

_T2S: dict[int, int] | None = None


def _t2s_table() -> dict[int, int]:
    """OpenCC's t2s character table (vendored in ``data/``, see its NOTICE; as strings in ``t2s_v1``), once."""
    global _T2S
    if _T2S is None:
        from .t2s_v1 import SIMPLIFIED, TRADITIONAL
        _T2S = str.maketrans(TRADITIONAL, SIMPLIFIED)
    return _T2S


def is_cjk(ch: str) -> bool:
    return bool(_CJK_RUN.match(ch))


def normalise(text: str) -> str:
    """NFKC, lower case, Traditional -> Simplified (per character)."""
    return unicodedata.normalize("NFKC", text).lower().translate(_t2s_table())


def fold(value: object) -> str | None:
    """``normalise`` for SQL: register with ``conn.create_function("dangan_fold", 1, fold)``."""
    return None if value is None else normalise(str(value))


def normalise_with_map(text: str) -> tuple[str, list[int] | None]:
    """Normalise and map each output character to its index in ``text``.

    The map is None when lengths agree (the common case): index i maps to i.
    """
    nfkc = unicodedata.normalize("NFKC", text)
    if len(nfkc) == len(text):
        low = nfkc.lower()
        if len(low) == len(text):
            return low.translate(_t2s_table()), None
    out: list[str] = []
    where: list[int] = []
    for i, ch in enumerate(text):
        n = unicodedata.normalize("NFKC", ch).lower()
        out.append(n)
        where.extend([i] * len(n))
    return "".join(out).translate(_t2s_table()), where


def tokens(norm: str) -> Iterator[tuple[str, int, int]]:
    """Yield (token, start, end) over already normalised text, one per position."""
    pieces = _CJK_RUN.split(norm)
    offset = 0
    for i, piece in enumerate(pieces):
        if i % 2:  # a CJK run
            last = len(piece) - 1
            for j in range(last):
                yield piece[j:j + 2], offset + j, offset + j + 2
            yield piece[last], offset + last, offset + last + 1
        elif piece:
            for m in _WORD.finditer(piece):
                yield m.group(), offset + m.start(), offset + m.end()
        offset += len(piece)


def term_positions(norm: str) -> tuple[dict[str, list[int]], int]:
    """``tokens`` inverted in one pass: ({token: [positions]}, number of positions).

    The same tokens at the same positions as :func:`tokens` (a test checks
    it); used by the index writer, which needs no offsets and no Token objects.
    """
    out: dict[str, list[int]] = {}
    get = out.get
    pos = 0
    for i, piece in enumerate(_CJK_RUN.split(norm)):
        if i % 2:  # a CJK run: bigrams, then the run's last character
            toks = list(map(str.__add__, piece[:-1], piece[1:]))
            toks.append(piece[-1])
        elif piece:
            toks = _WORD.findall(piece)
        else:
            continue
        for tok in toks:
            lst = get(tok)
            if lst is None:
                out[tok] = [pos]
            else:
                lst.append(pos)
            pos += 1
    return out, pos


def token_string(norm: str) -> str:
    """:func:`tokens` of already normalised text joined by single spaces, in one pass without offsets.

    What the tantivy engine is fed (its ``whitespace`` tokenizer gives each one a position); a
    test checks it equals ``" ".join`` of :func:`tokens`.  Tokens never contain white space.
    """
    return token_string_and_chars(norm)[0]


def token_string_and_chars(norm: str) -> tuple[str, set[str]]:
    """(:func:`token_string`, :func:`cjk_chars`) in one pass over the text."""
    toks, runs, _pairs = token_string_and_runs(norm)
    return toks, set("".join(runs))


def token_string_and_runs(norm: str) -> tuple[str, list[str], list[str]]:
    """(:func:`token_string`, the text's CJK runs in order, its word pairs) in one pass over the text.

    A word pair is two words at consecutive positions joined by ``_`` (``annual_report``; a word never
    holds ``_``): they are consecutive only inside one stretch between CJK runs, since a run between
    them has tokens of its own."""
    out: list[str] = []
    runs: list[str] = []
    pairs: list[str] = []
    extend = out.extend
    for i, piece in enumerate(_CJK_RUN.split(norm)):
        if i % 2:  # a CJK run: bigrams, then the run's last character
            extend(map(str.__add__, piece[:-1], piece[1:]))
            out.append(piece[-1])
            runs.append(piece)
        elif piece:
            words = _WORD.findall(piece)
            extend(words)
            if len(words) > 1:
                pairs.extend(map("_".join, zip(words, words[1:])))
    return " ".join(out), runs, pairs


def word_pair_of(toks: list[str]) -> str | None:
    """The word pair (``annual_report``) a phrase of two words is, else None: the phrase matches exactly
    where :func:`token_string_and_runs` gives that pair."""
    if len(toks) == 2 and all(t and not is_cjk(t[0]) for t in toks):
        return "_".join(toks)
    return None


def query_tokens(text: str) -> list[str]:
    """Tokens a phrase query must match at consecutive positions.

    Like :func:`tokens`, but when the text ends inside a CJK run the final
    unigram is dropped (in a document that run may go on, so the last
    character is covered by the preceding bigram).  A query that is a lone
    CJK character returns that character: callers search the unigram field.
    A query ending in a lone CJK character after a word (``PDF格``) keeps
    the unigram; :func:`split_trailing` tells callers so.
    """
    toks = [t for t, _, _ in tokens(normalise(text))]
    if len(toks) >= 2 and len(toks[-1]) == 1 and is_cjk(toks[-1]) and len(toks[-2]) == 2 \
            and is_cjk(toks[-2][0]) and toks[-2][1] == toks[-1]:
        toks.pop()
    return toks


def split_trailing(toks: list[str]) -> tuple[list[str], str | None]:
    """Split off a trailing lone CJK character that may continue in a document.

    Returns (phrase tokens, character or None).  The character must then be
    required through the unigram field; it cannot be a phrase position.
    """
    if len(toks) >= 2 and len(toks[-1]) == 1 and is_cjk(toks[-1]):
        return toks[:-1], toks[-1]
    return toks, None


def cjk_run_of(toks: list[str]) -> str | None:
    """The CJK run a phrase of :func:`query_tokens` spells when it is one run's consecutive bigrams
    (``["客户", "户服", "服务"]`` -> ``"客户服务"``), else None.

    Such a phrase matches exactly where that run is a substring of one of the text's CJK runs: a
    bigram is followed at the next position by the next bigram of its run, or by the run's last
    character, never by a bigram of another run.
    """
    if not toks or any(len(t) != 2 or not is_cjk(t[0]) or not is_cjk(t[1]) for t in toks):
        return None
    if any(a[1] != b[0] for a, b in zip(toks, toks[1:])):
        return None
    return toks[0] + "".join(t[1] for t in toks[1:])


def cjk_chars(norm: str) -> set[str]:
    return set("".join(_CJK_RUN.findall(norm)))
