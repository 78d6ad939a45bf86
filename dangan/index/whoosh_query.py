"""Translate a parsed :class:`~dangan.index.query.Query` into Whoosh query objects.

Text goes through the normalisation of the analyzer version pickled in the
index schema, so an index built with v1 is always queried with v1.

* a lone CJK character -> a term of the unigram field ``uni``;
* anything else -> the phrase of its tokens (CJK bigrams, words) in
  ``title`` (boosted) or ``content``; one token -> a term;
* a trailing lone CJK character after a word (``PDF格``) cannot be a phrase
  position (the document may go on ``格式``): the phrase of the rest AND the
  character in ``uni``;
* ``word*`` -> a prefix query on Latin words;
* filters -> terms/ranges on keyword fields, scored 0, ANDed.
"""
from __future__ import annotations

import importlib
from types import ModuleType

from whoosh import query as wq

from .query import CATALOGUE_FIELDS, And, Filter, Node, Not, Or, Phrase, Query, Word

from .common import KEYWORD_FIELDS, meta_term

TITLE_BOOST = 2.0


def text_module(schema) -> ModuleType:
    """The text module (normalise, query_tokens...) of the schema's analyzer version."""
    analyzer = schema["content"].analyzer
    return importlib.import_module(type(analyzer).__module__)


class Translator:
    def __init__(self, schema) -> None:
        self.t = text_module(schema)

    def key(self, value: str) -> str:
        return self.t.normalise(value).strip()

    # --- text --------------------------------------------------------------
    def text(self, text: str, prefix: bool = False,
             fields=(("title", TITLE_BOOST), ("content", 1.0))) -> wq.Query | None:
        t = self.t
        toks = t.query_tokens(text)
        if not toks:
            return None
        one_field = len(fields) == 1
        if len(toks) == 1 and len(toks[0]) == 1 and t.is_cjk(toks[0]):
            # title:档 -- the title holds the character as a token or at the start of a bigram
            return wq.Prefix(fields[0][0], toks[0]) if one_field else wq.Term("uni", toks[0])
        if prefix and len(toks) == 1 and not t.is_cjk(toks[0][0]):
            per = [wq.Prefix(f, toks[0], boost=b) for f, b in fields]
            return per[0] if one_field else wq.Or(per)
        words, trailing = t.split_trailing(toks)
        per_field = []
        for fname, boost in fields:
            if len(words) == 1:
                per_field.append(wq.Term(fname, words[0], boost=boost))
            else:
                per_field.append(wq.Phrase(fname, words, boost=boost))
        q: wq.Query = per_field[0] if one_field else wq.Or(per_field)
        if trailing:
            tail = wq.Prefix(fields[0][0], trailing) if one_field else wq.Term("uni", trailing)
            q = wq.And([q, tail])
        return q

    def node(self, n: Node | None) -> wq.Query | None:
        if n is None:
            return None
        if isinstance(n, Word):
            return self.text(n.text, n.prefix)
        if isinstance(n, Phrase):
            return self.text(n.text)
        if isinstance(n, Not):
            inner = self.node(n.item)
            return None if inner is None else wq.Not(inner)
        if isinstance(n, (And, Or)):
            items = [q for q in (self.node(i) for i in n.items) if q is not None]
            if not items:
                return None
            if isinstance(n, Or):
                # A negation inside OR needs a universe to be subtracted from.
                items = [wq.And([wq.Every(), q]) if isinstance(q, wq.Not) else q for q in items]
                return items[0] if len(items) == 1 else wq.Or(items)
            return _and(items)
        raise TypeError(f"unknown query node {n!r}")

    # --- filters -----------------------------------------------------------
    def filter(self, f: Filter) -> wq.Query:
        if f.field in CATALOGUE_FIELDS:
            return wq.Every()           # format: is answered by the catalogue (core.search.indexing.search_filter)
        if f.field == "year":
            q = _range(f, wq.NumericRange, "year")
        elif f.field == "date":
            if f.op == "=":
                q = wq.Term("date", f.value)
            elif f.op == "prefix":
                q = wq.Prefix("date", f.value)
            else:
                q = _range(f, wq.TermRange, "date")
        elif f.field == "title":
            q = self.text(str(f.value), fields=(("title", 1.0),)) or wq.NullQuery
        elif f.field == "meta":
            name, value = f.value  # type: ignore[misc]
            q = wq.Term("meta_kv", meta_term(name, value))
        else:
            fname = KEYWORD_FIELDS[f.field]
            value = self.key(str(f.value))
            q = wq.Prefix(fname, value) if f.op == "prefix" else wq.Term(fname, value)
        return wq.Not(q) if f.negate else wq.ConstantScoreQuery(q, score=0.0)

    def within(self, within) -> list[wq.Query]:
        """Access filtering as engine clauses: each field's value must be one of those given."""
        out: list[wq.Query] = []
        for field, values in (within or {}).items():
            fname = KEYWORD_FIELDS[field]
            terms = [wq.Term(fname, v) for v in sorted({self.key(v) for v in values})]
            out.append(wq.ConstantScoreQuery(wq.Or(terms), score=0.0) if terms else wq.NullQuery)
        return out

    def query(self, q: Query, within=None) -> wq.Query:
        terms = self.node(q.terms)
        parts = [self.filter(f) for f in q.filters] + self.within(within)
        if terms is None and q.terms is not None:
            return wq.NullQuery  # words that normalise to nothing (punctuation)
        if terms is not None:
            parts.insert(0, terms)
        if not parts:
            return wq.NullQuery
        return _and(parts)


def _and(items: list[wq.Query]) -> wq.Query:
    if all(isinstance(q, wq.Not) for q in items):
        items = [wq.Every(), *items]
    return items[0] if len(items) == 1 else wq.And(items)


def _range(f: Filter, cls, fname: str) -> wq.Query:
    v = f.value
    if f.op == "=":
        return cls(fname, v, v)
    if f.op == "range":
        lo, hi = v  # type: ignore[misc]
        return cls(fname, lo, hi)
    if f.op in (">", ">="):
        return cls(fname, v, None, startexcl=f.op == ">")
    if f.op in ("<", "<="):
        return cls(fname, None, v, endexcl=f.op == "<")
    raise ValueError(f"operator {f.op} does not apply to {fname}")
