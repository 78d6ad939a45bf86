"""Text analysis, version 1: Chinese + English in one text.

Whoosh pickles the analyzer objects into the index schema, so this module's
*name* is the version.  Never change what v1 produces once an index has been
built with it: write ``analysis_v2`` and reindex instead.

Normalisation (index text and query text alike): NFKC, lower case, then
Traditional -> Simplified **character by character** using the character
table of OpenCC's ``t2s`` conversion (``data/TSCharacters.txt``, vendored).  The phrase
table of ``t2s`` is deliberately not used: it is context dependent (``乾``
becomes ``干`` alone but stays ``乾`` in ``乾坤``), which would break the
property search relies on -- if a text contains a query, the normalised text
contains the normalised query.  A per-character table keeps that property,
keeps lengths (so offsets map back to the original for snippets) and runs as
one ``str.translate`` call.

Tokens of the positional field (``BigramTokenizer``), one per position:

* a run of CJK characters yields, for each character, the bigram it starts;
  the last character of the run yields itself (a unigram).  ``档案管理``
  gives ``档案 案管 管理 理`` at consecutive positions, so a phrase query
  ``档案 案管 管理`` finds ``档案管理`` inside ``档案管理制度``;
* any other run of letters/digits is one lower-case word (no stemming, no
  stop words: precision is measured against plain containment).

One-character CJK queries use a second field (``UnigramTokenizer``): the
distinct CJK characters of the text, without positions.

Each tokenizer also has ``term_positions(value)``: the same tokens as
``__call__`` (indexing mode) inverted to ({token: [positions]}, count).  The
tantivy engine is fed the same tokens (``tantivy_index.token_text``).
"""
from __future__ import annotations

from whoosh.analysis import Token, Tokenizer

from .text_v1 import (cjk_chars, is_cjk, normalise, normalise_with_map, query_tokens,
                      split_trailing, term_positions, tokens)

__all__ = [
    "BigramTokenizer", "UnigramTokenizer", "normalise", "normalise_with_map",
    "tokens", "query_tokens", "split_trailing", "is_cjk", "cjk_chars",
]


class BigramTokenizer(Tokenizer):
    """Positional tokens: CJK bigrams (run-final unigram) and lower-case words."""

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self)

    def __hash__(self) -> int:
        return hash(type(self).__name__)

    def __call__(self, value, positions=False, chars=False, keeporiginal=False,
                 removestops=True, start_pos=0, start_char=0, tokenize=True,
                 mode="", **kwargs):
        t = Token(positions, chars, removestops=removestops, mode=mode, **kwargs)
        norm = normalise(value)
        if not tokenize:
            t.original = t.text = norm
            t.boost = 1.0
            if positions:
                t.pos = start_pos
            if chars:
                t.startchar, t.endchar = start_char, start_char + len(value)
            yield t
            return
        pos = start_pos
        for text, s, e in tokens(norm):
            t.text = text
            t.boost = 1.0
            if keeporiginal:
                t.original = text
            t.stopped = False
            if positions:
                t.pos = pos
                pos += 1
            if chars:
                t.startchar, t.endchar = start_char + s, start_char + e
            yield t

    def term_positions(self, value: str) -> tuple[dict[str, list[int]], int]:
        return term_positions(normalise(value))


class UnigramTokenizer(Tokenizer):
    """The distinct CJK characters of the text, for one-character queries."""

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self)

    def __hash__(self) -> int:
        return hash(type(self).__name__)

    def __call__(self, value, positions=False, chars=False, keeporiginal=False,
                 removestops=True, start_pos=0, start_char=0, tokenize=True,
                 mode="", **kwargs):
        t = Token(positions, chars, removestops=removestops, mode=mode, **kwargs)
        norm = normalise(value)
        chars_ = [norm] if not tokenize else sorted(cjk_chars(norm))
        for i, ch in enumerate(chars_):
            t.text = ch
            t.boost = 1.0
            if keeporiginal:
                t.original = ch
            t.stopped = False
            if positions:
                t.pos = start_pos + i
            if chars:
                t.startchar = t.endchar = start_char
            yield t

    def term_positions(self, value: str) -> tuple[dict[str, list[int]], int]:
        chars = sorted(cjk_chars(normalise(value)))
        return {ch: [i] for i, ch in enumerate(chars)}, len(chars)
