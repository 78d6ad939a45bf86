"""Relevance ranking over an exact match set, from whole posting blocks.

Whoosh ranks by walking a tree of matchers one document at a time; over
thousands of matches that Python overhead dominates a search.  When the
ranking query (``whoosh_docset.rank_query``) is an And/Or tree of terms and
the weighting is Whoosh's ``BM25F``, the score of a document is the sum over
the terms it contains of ``boost * bm25(idf, tf, length, avgfl, B, K1)`` --
Whoosh's own formula, statistics and quantised field lengths -- so it is
computed here a term at a time: posting blocks, the field-length column read
once, and a dict of scores for the documents of the match set.  Ties go to
the lower document number, as in Whoosh.  Anything else (prefixes, sorting
by a field, another weighting) returns None and Whoosh ranks it.
"""
from __future__ import annotations

import heapq
from typing import Any

from whoosh import query as wq
from whoosh.codec.whoosh3 import W3PerDocReader
from whoosh.scoring import BM25F
from whoosh.util.numeric import byte_to_length

from .whoosh_docset import postings

__all__ = ["top"]

_LENGTH = [byte_to_length(b) for b in range(256)]


def top(searcher, rank_q: wq.Query, docs: set[int], n: int
        ) -> list[tuple[float, int]] | None:
    """The ``n`` best (score, docnum) of ``docs``, best first; None if Whoosh must rank."""
    w = searcher.weighting
    if type(w) is not BM25F:
        return None
    if isinstance(rank_q, wq.Every) and not rank_q.fieldname:
        return [(0.0, d) for d in sorted(docs)[:n]]
    if not _supported(rank_q, searcher.schema):
        return None
    try:
        scores = _Scorer(searcher, w, docs).eval(rank_q, 1.0)
    except _Unsupported:
        return None
    if len(scores) < len(docs):  # cannot happen (rank_query matches a superset); be safe
        scores.update((d, 0.0) for d in docs - scores.keys())
    best = heapq.nlargest(n, scores.items(), key=lambda kv: (kv[1], -kv[0]))
    return [(score, d) for d, score in best]


class _Unsupported(Exception):
    pass


def _supported(q: wq.Query, schema) -> bool:
    if isinstance(q, wq.Term):
        return q.fieldname in schema and schema[q.fieldname].scorable
    return type(q) in (wq.And, wq.Or) and not getattr(q, "scale", None) \
        and not getattr(q, "minmatch", 0) and all(_supported(s, schema) for s in q.subqueries)


class _Scorer:
    """Scores as Whoosh's matchers sum them: And needs every child, Or sums those present."""

    def __init__(self, searcher, weighting: BM25F, docs: set[int]) -> None:
        self.s = searcher
        self.w = weighting
        self.docs = docs

    def eval(self, q: wq.Query, boost: float) -> dict[int, float]:
        boost *= q.boost
        if isinstance(q, wq.Term):
            return self.term(q.fieldname, q.text, boost)
        parts = [self.eval(sub, boost) for sub in q.subqueries]
        if isinstance(q, wq.And):
            keys = set(parts[0]).intersection(*parts[1:])
            return {d: sum(p[d] for p in parts) for d in keys}
        out: dict[int, float] = {}
        for p in parts:
            for d, sc in p.items():
                out[d] = out[d] + sc if d in out else sc
        return out

    def term(self, fieldname: str, text: Any, boost: float) -> dict[int, float]:
        s, w, docs = self.s, self.w, self.docs
        idf = s.idf(fieldname, text)
        avgfl = s.avg_field_length(fieldname) or 1
        B = w._field_B.get(fieldname, w.B)
        K1 = w.K1
        K1p1 = K1 + 1
        out: dict[int, float] = {}
        for leaf, offset in s.leaf_searchers():
            reader = leaf.reader()
            ids, weights = postings(reader, fieldname, text, weights=True)
            if not ids:
                continue
            lengths = _lengths(reader, fieldname)
            if lengths is None:
                raise _Unsupported(fieldname)
            nl = len(lengths)
            for d, tf in zip(ids, weights):
                g = d + offset
                if g in docs:
                    fl = lengths[d] if d < nl else 0
                    sc = idf * ((tf * K1p1) / (tf + K1 * ((1 - B) + B * fl / avgfl)))
                    out[g] = sc * boost if boost != 1.0 else sc
        return out


def _lengths(reader, fieldname: str) -> list[int] | None:
    """Field lengths of a segment's documents, as ``doc_field_length`` reads them."""
    perdoc = getattr(reader, "_perdoc", None)
    if not isinstance(perdoc, W3PerDocReader):
        return None
    from whoosh.codec.whoosh3 import LENGTHS_COLUMN, _lenfield

    col = perdoc._cached_reader(_lenfield(fieldname), LENGTHS_COLUMN)
    if col is None:
        return []
    raw = col._dbfile.get(col._basepos, col._count)
    return [_LENGTH[b] if b else 0 for b in raw]
