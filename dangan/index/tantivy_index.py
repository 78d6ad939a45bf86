"""The tantivy implementation of :class:`~dangan.index.SearchIndex` (the default engine).

tantivy never analyses dangan's text: each text field uses tantivy's
``whitespace`` tokenizer and is fed the tokens of ``text_v1`` joined by
spaces (tokens never contain white space), so the terms and their positions
are exactly those of analysis v1, and a phrase of CJK bigrams matches where
it matches in the Whoosh index and in a grep of the normalised text.

Fields:

``id``         unique record id (raw, stored)
``title``      positional text_v1 tokens, boosted at query time
``content``    positional text_v1 tokens: content, file names, metadata values and tags
``uni``        distinct CJK characters of title + content (one-character queries)
``grams``      the content's CJK runs, cut by tantivy's n-gram tokenizer into every substring of
               ``GRAM_MIN``..``GRAM_MAX`` characters (with frequencies, no positions): a phrase that
               is one CJK run of that length (``"客戶服務部"``) is one term here, not a phrase of
               bigrams whose positions must be checked in every candidate -- the same records
               (a substring of a run is exactly what the bigram phrase matches) at the cost of
               one posting list, and its total is that list's length
``pairs``      the content's pairs of words at consecutive positions (``annual_report``, with
               frequencies, no positions): a phrase of two words is one term here, for the same reason
``dept category retention secrecy volume mime code status tags meta_kv``
               normalised keys (raw) for filters and access filtering
``year`` / ``day`` (yyyymmdd) integers, fast: ranges and the date sort
``code_sort``  raw, fast: the archival-code sort
``facet_department facet_category facet_secrecy facet_volume facet_mime``
               raw, fast: the catalogue values as shown (not normalised), for facet counts by
               aggregation over the matches' columns (``year`` is counted from its own column), so
               counting facets reads no stored document
``meta``       stored catalogue fields (JSON); ``body`` stored text for snippets and
               ``norm`` its normalised form (when of the same length), so a snippet costs no
               normalising: snippets are made for the shown page only, from a bounded window

One writer: each add/delete/clear holds ``<index>/.writer.lock`` (flock) for
its whole commit and waits for tantivy's merges, so processes queue instead
of meeting tantivy's own writer lock.  Readers never take it.
"""
from __future__ import annotations

import json
import os
import stat
import threading
from pathlib import Path
from typing import Any, Callable, Collection, Iterable, Mapping

import tantivy as tv

from ..errors import DanganError, IntegrityError
from . import IndexDocument, SearchResults
from . import common as c
from .query import CATALOGUE_FIELDS, And, Filter, Node, Not, Or, Phrase, Query, Word, parse_query
from .text_v1 import (cjk_run_of, is_cjk, normalise, query_tokens, split_trailing, token_string,
                      token_string_and_chars, token_string_and_runs, word_pair_of)

ENGINE = "tantivy"
SCHEMA_VERSION = 3          # 2: the facet_* fast fields; 3: the grams and pairs fields
GRAM_MIN, GRAM_MAX = 3, 5
GRAM_TOKENIZER = "dangan_cjk_grams"
TITLE_BOOST = 2.0
HEAP = 64_000_000
_KEYWORDS = ("dept", "category", "retention", "secrecy", "volume", "mime", "code", "status", "tags",
             "meta_kv")
#: ``common.FACET_FIELDS`` → the fast column counted (the stored value as the user sees it).
FACET_COLUMNS = {name: ("year" if name == "year" else f"facet_{name}") for name in c.FACET_FIELDS}
#: Distinct values counted per facet field; past it a field's rarest values are left out (tantivy's terms
#: aggregation returns the most frequent ``size`` values).
FACET_SIZE = 10_000


def make_schema() -> tv.Schema:
    sb = tv.SchemaBuilder()
    sb.add_text_field("id", stored=True, tokenizer_name="raw", index_option="basic")
    sb.add_text_field("title", tokenizer_name="whitespace", index_option="position")
    sb.add_text_field("content", tokenizer_name="whitespace", index_option="position")
    sb.add_text_field("uni", tokenizer_name="whitespace", index_option="basic")
    sb.add_text_field("grams", tokenizer_name=GRAM_TOKENIZER, index_option="freq")
    sb.add_text_field("pairs", tokenizer_name="whitespace", index_option="freq")
    for name in _KEYWORDS:
        sb.add_text_field(name, tokenizer_name="raw", index_option="basic")
    sb.add_integer_field("year", indexed=True, fast=True)
    sb.add_integer_field("day", indexed=True, fast=True)
    sb.add_text_field("code_sort", tokenizer_name="raw", fast=True, index_option="basic")
    for column in FACET_COLUMNS.values():
        if column != "year":
            sb.add_text_field(column, tokenizer_name="raw", fast=True, index_option="basic")
    sb.add_bytes_field("meta", stored=True, indexed=False)
    sb.add_bytes_field("body", stored=True, indexed=False)
    sb.add_bytes_field("norm", stored=True, indexed=False)
    return sb.build()


def _register_tokenizers(ix: tv.Index) -> None:
    """The analyzers the schema names beside tantivy's built-in ones (tantivy keeps none in the index)."""
    ix.register_tokenizer(GRAM_TOKENIZER, tv.TextAnalyzerBuilder(tv.Tokenizer.ngram(GRAM_MIN, GRAM_MAX)).build())


def token_text(text: str, norm: str | None = None) -> str:
    """text_v1's positional tokens of ``text``, joined by spaces, for the whitespace tokenizer."""
    return token_string(normalise(text) if norm is None else norm)


class TantivyIndex:
    """A tantivy index directory.  Thread-safe for one process; any number of processes."""

    def __init__(self, path: Path, ix: tv.Index, lock_timeout: float) -> None:
        self.path = path
        self._ix = ix
        self._schema = ix.schema
        self._lock_timeout = lock_timeout
        self._tlock = threading.Lock()

    # --- opening -----------------------------------------------------------
    @classmethod
    def open(cls, path: Path, *, create: bool = True, lock_timeout: float = 30.0) -> "TantivyIndex":
        if not (path / "meta.json").exists():
            if not create:
                raise IntegrityError(f"no index at {path}; run `dangan reindex` to build it")
            path.mkdir(parents=True, exist_ok=True)
            with c.flock(path / c.LOCKFILE, lock_timeout):
                if not (path / "meta.json").exists():
                    leftovers = [p.name for p in path.iterdir()
                                 if not p.name.startswith(".") and p.name != c.MARKER and p.is_file()]
                    if leftovers:
                        raise c.damaged(path, f"no meta.json but files {leftovers[:3]}")
                    c.write_marker(path, ENGINE, SCHEMA_VERSION)
                    try:
                        tv.Index(make_schema(), path=str(path), reuse=False)
                    except (ValueError, OSError) as e:
                        raise c.damaged(path, e) from e
                    _match_folder_mode(path)
        c.check_marker(path, ENGINE, SCHEMA_VERSION)
        try:
            ix = tv.Index.open(str(path))
            _register_tokenizers(ix)
        except (ValueError, OSError) as e:
            raise c.damaged(path, e) from e
        return cls(path, ix, lock_timeout)

    def close(self) -> None:
        self._ix = None  # type: ignore[assignment]

    def __enter__(self) -> "TantivyIndex":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- writing -----------------------------------------------------------
    def _commit(self, work: Callable[[Any], int]) -> int:
        with self._tlock, c.flock(self.path / c.LOCKFILE, self._lock_timeout):
            try:
                w = self._ix.writer(heap_size=HEAP, num_threads=1)
            except (ValueError, OSError) as e:
                raise c.damaged(self.path, e) from e
            try:
                n = work(w)
            except BaseException:
                w.rollback()
                raise
            w.commit()
            w.wait_merging_threads()
            _match_folder_mode(self.path)
            self._ix.reload()
            return n

    def add(self, docs: Iterable[IndexDocument]) -> int:
        batch = c.last_of_each(docs)
        built = [self._document(d) for d in batch.values()]

        def work(w) -> int:
            for rid, doc in zip(batch, built):
                w.delete_documents_by_term("id", rid)
                w.add_document(doc)
            return len(built)
        return self._commit(work)

    def delete(self, record_ids: Iterable[str]) -> int:
        rids = list(dict.fromkeys(record_ids))
        if not rids:
            return 0
        self._ix.reload()
        there = self._ix.searcher().search(
            tv.Query.term_set_query(self._schema, "id", rids), limit=1, count=True).count

        def work(w) -> int:
            for rid in rids:
                w.delete_documents_by_term("id", rid)
            return there
        return self._commit(work)

    def purge(self, record_ids: Iterable[str], documents: Callable[[list[str]], list[IndexDocument]]) -> int:
        """Remove records so that nothing of them stays in the index files; returns how many were there.

        tantivy deletes by marking: a deleted document's terms and stored text stay in its segment's
        files until that segment is merged, and tantivy-py offers no merge call.  So every segment that
        held one of ``record_ids`` is emptied -- its other records are deleted and added again, as
        ``documents(ids)`` gives them (from the store) -- and tantivy drops an emptied segment and its
        files at the commit.  The cost is the size of those segments, not of the index.  Done inside
        the writer lock, so no other writer changes those segments meanwhile."""
        gone = list(dict.fromkeys(record_ids))
        if not gone:
            return 0

        def work(w) -> int:
            self._ix.reload()
            s = self._ix.searcher()
            found = s.search(tv.Query.term_set_query(self._schema, "id", gone), limit=len(gone), count=False).hits
            segments = {addr.segment_ord for _, addr in found}
            if not segments:
                return 0
            drop = set(gone)
            every = s.search(tv.Query.all_query(), limit=max(1, s.num_docs), count=False).hits
            keep = [rid for rid in (s.doc(addr).get_first("id") for _, addr in every if addr.segment_ord in segments)
                    if rid not in drop]
            again = documents(keep)
            for rid in gone + keep:
                w.delete_documents_by_term("id", rid)
            for d in again:
                w.add_document(self._document(d))
            self.rewritten = len(keep)
            return len(found)
        n = self._commit(work)
        self._collect_garbage()
        return n

    def _collect_garbage(self) -> None:
        """Delete the files no segment uses any more (an emptied segment's)."""
        with self._tlock, c.flock(self.path / c.LOCKFILE, self._lock_timeout):
            w = self._ix.writer(heap_size=HEAP, num_threads=1)
            try:
                w.garbage_collect_files()
            finally:
                w.rollback()

    def clear(self) -> None:
        self._commit(lambda w: w.delete_all_documents() or 0)

    def _document(self, d: IndexDocument) -> tv.Document:
        doc = tv.Document()
        doc.add_text("id", d.record_id)
        for name, values in c.keyword_values(d).items():
            for v in values:
                doc.add_text(name, v)
        if d.year is not None:
            doc.add_integer("year", int(d.year))
        if d.date:
            doc.add_integer("day", c.date_number(d.date))
        doc.add_text("code_sort", (d.archival_code or "\uffff") if not d.locked else "\uffff")
        meta = c.stored_meta(d)
        doc.add_bytes("meta", json.dumps(meta, ensure_ascii=False).encode("utf-8"))
        for name, column in FACET_COLUMNS.items():
            if column != "year" and meta.get(name) not in (None, ""):
                doc.add_text(column, str(meta[name]))
        if d.locked:
            return doc
        body = c.body_text(d)
        chars: set[str] = set()
        if d.title:
            toks, chars = token_string_and_chars(normalise(d.title))
            doc.add_text("title", toks)
        if body:
            norm = normalise(body)
            toks, runs, pairs = token_string_and_runs(norm)
            doc.add_text("content", toks)
            if pairs:
                doc.add_text("pairs", " ".join(pairs))
            chars.update(*runs)
            for run in runs:                 # one value per run: no n-gram spans two runs
                if len(run) >= GRAM_MIN:
                    doc.add_text("grams", run)
            doc.add_bytes("body", body.encode("utf-8"))
            if len(norm) == len(body):       # snippets then need no normalising per hit
                doc.add_bytes("norm", norm.encode("utf-8"))
        if chars:
            doc.add_text("uni", " ".join(chars))
        return doc

    # --- reading -----------------------------------------------------------
    def _searcher(self) -> tv.Searcher:
        try:
            self._ix.reload()
            return self._ix.searcher()
        except (ValueError, OSError) as e:
            raise c.damaged(self.path, e) from e

    def doc_count(self) -> int:
        return self._searcher().num_docs

    def count(self, query: Query | str, *, allowed: Callable[[dict[str, Any]], bool] | None = None,
              within: Mapping[str, Collection[str]] | None = None) -> int:
        q = parse_query(query) if isinstance(query, str) else query
        tq = Translator(self._schema).query(q, within)
        s = self._searcher()
        try:
            if allowed is None:
                return s.search(tq, limit=1, count=True).count
            return len(self._allowed_hits(s, tq, allowed))
        except DanganError:
            raise
        except (ValueError, OSError) as e:
            raise c.damaged(self.path, e) from e

    def facets(self, query: Query | str, *, allowed: Callable[[dict[str, Any]], bool] | None = None,
               within: Mapping[str, Collection[str]] | None = None) -> dict[str, dict[str, int]]:
        """Counts of ``common.FACET_FIELDS`` values over every match (after ``allowed``).  Without a per-hit
        check (``allowed`` None, the usual case: clearance is inside the query) one terms aggregation over the
        fast ``facet_*`` columns counts them, reading no stored document; with one, each match's stored
        fields are read and checked, as the search itself does."""
        q = parse_query(query) if isinstance(query, str) else query
        tq = Translator(self._schema).query(q, within)
        s = self._searcher()
        try:
            if allowed is None:
                return self._aggregated_facets(s, tq)
            res = s.search(tq, limit=max(1, s.num_docs), count=False)
            metas = (json.loads(s.doc(addr)["meta"][0]) for _, addr in res.hits)
            return c.count_facets(m for m in metas if allowed(m))
        except DanganError:
            raise
        except (ValueError, OSError) as e:
            raise c.damaged(self.path, e) from e

    @staticmethod
    def _aggregated_facets(s, tq) -> dict[str, dict[str, int]]:
        spec = {name: {"terms": {"field": column, "size": FACET_SIZE}} for name, column in FACET_COLUMNS.items()}
        res = s.aggregate(tq, spec)
        out: dict[str, dict[str, int]] = {}
        for name in c.FACET_FIELDS:
            buckets = (res.get(name) or {}).get("buckets") or []
            counts = {}
            for b in buckets:
                k = b["key"]
                counts[str(int(k)) if isinstance(k, float) and k.is_integer() else str(k)] = int(b["doc_count"])
            if counts:
                out[name] = counts
        return out

    @staticmethod
    def _allowed_hits(s, tq, allowed, **kw) -> list[tuple[Any, Any, dict[str, Any]]]:
        """Every match (in the engine's order) that ``allowed`` accepts, with its stored document."""
        n = max(1, s.num_docs)
        out = []
        for key, addr in s.search(tq, limit=n, count=False, **kw).hits:
            stored = s.doc(addr)
            if allowed(json.loads(stored["meta"][0])):
                out.append((key, addr, stored))
        return out

    def search(self, query: Query | str, *, sort: str = "relevance", limit: int = 20,
               page: int = 1, allowed: Callable[[dict[str, Any]], bool] | None = None,
               within: Mapping[str, Collection[str]] | None = None,
               snippets: bool = True) -> SearchResults:
        c.check_page(sort, limit, page)
        q = parse_query(query) if isinstance(query, str) else query
        tq = Translator(self._schema).query(q, within)
        kw: dict[str, Any] = {}
        if sort == "date":
            kw = {"order_by_field": "day", "order": tv.Order.Desc}
        elif sort == "code":
            kw = {"order_by_field": "code_sort", "order": tv.Order.Asc}
        first = (page - 1) * limit
        s = self._searcher()
        try:
            if allowed is None:
                res = s.search(tq, limit=limit, offset=first, count=True, **kw)
                total = res.count
                rows = [(key, s.doc(addr)) for key, addr in res.hits]
            else:
                every = self._allowed_hits(s, tq, allowed, **kw)
                total = len(every)
                rows = [(key, stored) for key, _, stored in every[first:first + limit]]
        except DanganError:
            raise
        except (ValueError, OSError) as e:
            raise c.damaged(self.path, e) from e
        hits = []
        for key, stored in rows:
            meta = json.loads(stored["meta"][0])
            body, norm = stored.get_first("body"), stored.get_first("norm")
            score = key if sort == "relevance" else 0.0
            hits.append(c.make_hit(meta, score, body.decode("utf-8") if body else None,
                                   q if snippets else None, norm.decode("utf-8") if norm else None))
        return SearchResults(total=total, hits=hits, page=page, limit=limit)


# --- query translation ------------------------------------------------------------

class _Neg:
    """A negated query, resolved when its siblings are known (tantivy needs something to subtract from)."""

    def __init__(self, q: tv.Query) -> None:
        self.q = q


class Translator:
    """A parsed :class:`Query` as tantivy query objects (see ``whoosh_query`` for the same rules)."""

    def __init__(self, schema: tv.Schema) -> None:
        self.s = schema

    def term(self, field: str, value: str) -> tv.Query:
        return tv.Query.term_query(self.s, field, value)

    def text(self, text: str, prefix: bool = False, fields=(("title", TITLE_BOOST), ("content", 1.0))):
        toks = query_tokens(text)
        if not toks:
            return None
        if len(toks) == 1 and len(toks[0]) == 1 and is_cjk(toks[0]):
            if len(fields) == 1:  # title:档 -- the title holds the character as a token or in a bigram
                return tv.Query.regex_query(self.s, fields[0][0], f"{_rx(toks[0])}.?")
            return self.term("uni", toks[0])
        if prefix and len(toks) == 1 and not is_cjk(toks[0][0]):
            per = [tv.Query.regex_query(self.s, f, _rx(toks[0]) + ".*") for f, _ in fields]
            per = [tv.Query.boost_query(q, b) if b != 1.0 else q for q, (_, b) in zip(per, fields)]
            return _or(per)
        words, trailing = split_trailing(toks)
        one = one_term(words)
        per = []
        for fname, boost in fields:
            if one is not None and fname == "content":
                q = self.term(*one)                  # the same records as the phrase, one posting list
            elif len(words) == 1:
                q = self.term(fname, words[0])
            else:
                q = tv.Query.phrase_query(self.s, fname, words)
            per.append(tv.Query.boost_query(q, boost) if boost != 1.0 else q)
        q = _or(per)
        if trailing:
            tail = self.term("uni", trailing) if len(fields) > 1 else \
                tv.Query.regex_query(self.s, fields[0][0], f"{_rx(trailing)}.?")
            q = _and([q, tail])
        return q

    def node(self, n: Node | None):
        if n is None:
            return None
        if isinstance(n, Word):
            return self.text(n.text, n.prefix)
        if isinstance(n, Phrase):
            return self.text(n.text)
        if isinstance(n, Not):
            inner = self.node(n.item)
            return None if inner is None else _Neg(_resolve(inner))
        if isinstance(n, (And, Or)):
            items = [q for q in (self.node(i) for i in n.items) if q is not None]
            if not items:
                return None
            if isinstance(n, Or):
                return _or([_resolve(q) for q in items])
            return _and(items)
        raise TypeError(f"unknown query node {n!r}")

    def filter(self, f: Filter):
        if f.field in CATALOGUE_FIELDS:
            return tv.Query.all_query()  # format: is answered by the catalogue (core.search.indexing.search_filter)
        if f.field == "year":
            q = self.range("year", *c.year_bounds(f))
        elif f.field == "date":
            q = self.range("day", *c.date_bounds(f))
        elif f.field == "title":
            q = self.text(str(f.value), fields=(("title", 1.0),)) or tv.Query.empty_query()
        elif f.field == "meta":
            name, value = f.value  # type: ignore[misc]
            q = self.term("meta_kv", c.meta_term(name, value))
        else:
            fname = c.KEYWORD_FIELDS[f.field]
            value = c.key(str(f.value))
            q = tv.Query.regex_query(self.s, fname, _rx(value) + ".*") if f.op == "prefix" \
                else self.term(fname, value)
        return _Neg(q) if f.negate else tv.Query.const_score_query(q, 0.0)

    def range(self, field: str, lo, hi, inc_lo: bool, inc_hi: bool) -> tv.Query:
        return tv.Query.range_query(self.s, field, tv.FieldType.Integer, lo, hi,
                                    include_lower=inc_lo, include_upper=inc_hi)

    def within(self, within: Mapping[str, Collection[str]]) -> list[tv.Query]:
        """Access filtering as engine clauses: each field's value must be one of those given."""
        out = []
        for field, values in within.items():
            fname = c.KEYWORD_FIELDS[field]
            q = tv.Query.term_set_query(self.s, fname, sorted({c.key(v) for v in values})) if values \
                else tv.Query.empty_query()
            out.append(tv.Query.const_score_query(q, 0.0))
        return out

    def query(self, q: Query, within: Mapping[str, Collection[str]] | None = None) -> tv.Query:
        terms = self.node(q.terms)
        if terms is None and q.terms is not None:
            return tv.Query.empty_query()  # words that normalise to nothing (punctuation)
        parts = [self.filter(f) for f in q.filters]
        if terms is not None:
            parts.insert(0, terms)
        parts += self.within(within or {})
        if not parts:
            return tv.Query.empty_query()
        return _resolve(_and(parts))


def one_term(words: list[str]) -> tuple[str, str] | None:
    """(field, term) that matches exactly the records the content phrase ``words`` matches, when there is
    one: a CJK run of ``GRAM_MIN``..``GRAM_MAX`` characters (``grams``) or two words (``pairs``)."""
    if len(words) < 2:
        return None
    run = cjk_run_of(words)
    if run is not None:
        return ("grams", run) if GRAM_MIN <= len(run) <= GRAM_MAX else None
    pair = word_pair_of(words)
    return None if pair is None else ("pairs", pair)


def _rx(text: str) -> str:
    """``text`` as a literal in tantivy's (Rust) regex syntax."""
    return "".join(ch if ch.isalnum() or ord(ch) > 127 else "\\" + ch if ch in r".+*?()|[]{}^$\#&-~"
                   else ch for ch in text)


def _resolve(q) -> tv.Query:
    if isinstance(q, _Neg):
        return tv.Query.boolean_query([(tv.Occur.Must, tv.Query.all_query()), (tv.Occur.MustNot, q.q)])
    return q


def _or(items: list[tv.Query]) -> tv.Query:
    return items[0] if len(items) == 1 else tv.Query.boolean_query([(tv.Occur.Should, q) for q in items])


def _and(items: list) -> Any:
    if len(items) == 1:
        return items[0]
    clauses = [(tv.Occur.MustNot, q.q) if isinstance(q, _Neg) else (tv.Occur.Must, q) for q in items]
    if all(isinstance(q, _Neg) for q in items):
        clauses.insert(0, (tv.Occur.Must, tv.Query.all_query()))
    return tv.Query.boolean_query(clauses)


def _match_folder_mode(path: Path) -> None:
    """tantivy writes ``meta.json`` and ``.managed.json`` atomically through a temporary file, which is
    always 0600: give every file the mode its folder grants (0640 in a group archive's 2750 folder), as
    every other file of the archive has."""
    want = path.stat().st_mode & 0o640
    for f in path.iterdir():
        try:
            st = f.lstat()
            if stat.S_ISREG(st.st_mode) and stat.S_IMODE(st.st_mode) != want:
                os.chmod(f, want)
        except FileNotFoundError:
            pass                        # a segment file a merge removed meanwhile
