"""The Whoosh implementation of :class:`~dangan.index.SearchIndex`, through Whoosh's public API.

Selectable with ``[index] engine = "whoosh"``; tantivy is the default.
Whoosh-Reloaded is no longer maintained, so nothing here reaches into its
private classes.  Fields (analysis v1, see ``analysis_v1``):

``id``        unique record id (stored)
``title``     positional: CJK bigrams + words, boosted at query time
``content``   positional: content, file names, metadata values and tags
``uni``       distinct CJK characters of title + content (one-character queries)
``dept category retention secrecy volume mime code status tags meta_kv``
              normalised keys for filters; ``year`` numeric; ``date`` ISO text
``date``/``code_sort``  columns for sorting
``meta``      stored catalogue fields (a dict); ``body`` stored zlib'd text for snippets

One writer: each add/delete/clear holds ``<index>/.writer.lock`` (flock) for
its whole commit, so processes queue instead of meeting Whoosh's LockError.
Readers never take it.
"""
from __future__ import annotations

import threading
import time
import zlib
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Collection, Iterable, Iterator, Mapping

from whoosh import fields, formats, index as windex, sorting
from whoosh.filedb.filestore import FileStorage
from whoosh.writing import CLEAR

from ..errors import DanganError, IntegrityError
from . import Hit, IndexDocument, SearchResults
from . import common as c
from .analysis_v1 import BigramTokenizer, UnigramTokenizer
from .query import Query, parse_query
from .whoosh_query import Translator

ENGINE = "whoosh"
SCHEMA_VERSION = 2
LOCKFILE = c.LOCKFILE


def make_schema() -> fields.Schema:
    uni = fields.TEXT(analyzer=UnigramTokenizer(), phrase=False)
    uni.format = formats.Existence()
    kw = dict(stored=False)
    return fields.Schema(
        id=fields.ID(stored=True, unique=True),
        title=fields.TEXT(analyzer=BigramTokenizer(), phrase=True),
        content=fields.TEXT(analyzer=BigramTokenizer(), phrase=True),
        uni=uni,
        dept=fields.ID(**kw), category=fields.ID(**kw), retention=fields.ID(**kw),
        secrecy=fields.ID(**kw), volume=fields.ID(**kw), mime=fields.ID(**kw),
        code=fields.ID(**kw), status=fields.ID(**kw),
        tags=fields.KEYWORD(commas=True, lowercase=False, scorable=False),
        meta_kv=fields.KEYWORD(commas=True, lowercase=False, scorable=False),
        year=fields.NUMERIC(int, bits=32, signed=True),
        date=fields.ID(sortable=True),
        code_sort=fields.ID(sortable=True),
        meta=fields.STORED(),
        body=fields.STORED(),
    )


class WhooshIndex:
    """A Whoosh index directory.  Thread-safe for one process; any number of processes."""

    def __init__(self, path: Path, ix, lock_timeout: float) -> None:
        self.path = path
        self._ix = ix
        self._lock_timeout = lock_timeout
        self._tlock = threading.Lock()
        self._tr = Translator(ix.schema)

    # --- opening -----------------------------------------------------------
    @classmethod
    def open(cls, path: Path, *, create: bool = True, lock_timeout: float = 30.0) -> "WhooshIndex":
        if not _has_toc(path):
            if not create:
                raise IntegrityError(f"no index at {path}; run `dangan reindex` to build it")
            path.mkdir(parents=True, exist_ok=True)
            with c.flock(path / LOCKFILE, lock_timeout):
                if not _has_toc(path):
                    leftovers = [p.name for p in path.iterdir()
                                 if not p.name.startswith(".") and p.name != c.MARKER and p.is_file()]
                    if leftovers:
                        raise c.damaged(path, f"no table of contents but files {leftovers[:3]}")
                    c.write_marker(path, ENGINE, SCHEMA_VERSION)
                    windex.create_in(str(path), make_schema())
        c.check_marker(path, ENGINE, SCHEMA_VERSION)
        try:
            ix = FileStorage(str(path), supports_mmap=False).open_index()
        except Exception as e:  # noqa: BLE001 - anything Whoosh raises on a bad TOC
            raise c.damaged(path, e) from e
        return cls(path, ix, lock_timeout)

    def close(self) -> None:
        self._ix.close()

    def __enter__(self) -> "WhooshIndex":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- writing -----------------------------------------------------------
    @contextmanager
    def _writer(self, **commit_kw: Any) -> Iterator[Any]:
        with self._tlock, c.flock(self.path / LOCKFILE, self._lock_timeout):
            try:
                w = self._ix.writer(timeout=self._lock_timeout)
            except Exception as e:  # noqa: BLE001 - engine failure -> domain error
                raise c.damaged(self.path, e) from e
            try:
                yield w
            except BaseException:
                w.cancel()
                raise
            w.commit(**commit_kw)

    def add(self, docs: Iterable[IndexDocument]) -> int:
        # Whoosh replaces committed documents only: keep the last of each id here.
        batch = c.last_of_each(docs)
        with self._writer() as w:
            for d in batch.values():
                w.update_document(**self._fields(d))
        return len(batch)

    def delete(self, record_ids: Iterable[str]) -> int:
        n = 0
        with self._writer() as w:
            for rid in record_ids:
                n += w.delete_by_term("id", rid)
        return n

    def clear(self) -> None:
        with self._writer(mergetype=CLEAR):
            pass

    @staticmethod
    def _fields(d: IndexDocument) -> dict[str, Any]:
        f: dict[str, Any] = {"id": d.record_id, "meta": c.stored_meta(d)}
        for name, values in c.keyword_values(d).items():
            if name in ("tags", "meta_kv"):
                f[name] = ",".join(v.replace(",", " ") for v in values)
            else:
                f[name] = values[0]
        if d.year is not None:
            f["year"] = int(d.year)
        if d.date:
            f["date"] = d.date
        f["code_sort"] = "\uffff" if d.locked else (d.archival_code or "\uffff")
        if d.locked:
            return f
        body = c.body_text(d)
        f["title"] = d.title
        f["content"] = body
        f["uni"] = d.title + "\n" + body
        f["body"] = zlib.compress(body.encode("utf-8"), 1) if body else None
        return f

    # --- reading -----------------------------------------------------------
    def _searcher(self):
        err: Exception | None = None
        for _ in range(3):
            try:
                return self._ix.searcher()
            except Exception as e:  # noqa: BLE001 - maybe a commit raced us; retry, then report
                err = e
                time.sleep(0.05)
        raise c.damaged(self.path, err)

    def doc_count(self) -> int:
        with self._searcher() as s:
            return s.doc_count()

    def count(self, query: Query | str, *, allowed: Callable[[dict[str, Any]], bool] | None = None,
              within: Mapping[str, Collection[str]] | None = None) -> int:
        q = parse_query(query) if isinstance(query, str) else query
        wquery = self._tr.query(q, within)
        with self._searcher() as s:
            try:
                return len(self._docs(s, wquery, allowed))
            except DanganError:
                raise
            except Exception as e:  # noqa: BLE001 - a broken segment
                raise c.damaged(self.path, e) from e

    def facets(self, query: Query | str, *, allowed: Callable[[dict[str, Any]], bool] | None = None,
               within: Mapping[str, Collection[str]] | None = None) -> dict[str, dict[str, int]]:
        """Counts of ``common.FACET_FIELDS`` values over every match (after ``allowed``), from stored fields."""
        q = parse_query(query) if isinstance(query, str) else query
        wquery = self._tr.query(q, within)
        with self._searcher() as s:
            try:
                docs = self._docs(s, wquery, allowed)
                return c.count_facets(dict(s.stored_fields(d)["meta"]) for d in docs)
            except DanganError:
                raise
            except Exception as e:  # noqa: BLE001 - a broken segment
                raise c.damaged(self.path, e) from e

    @staticmethod
    def _docs(s, wquery, allowed: Callable[[dict[str, Any]], bool] | None) -> set[int]:
        """The exact set of matching documents, after ``allowed``."""
        docs = set(s.docs_for_query(wquery))
        if allowed is not None:
            stored = s.stored_fields
            docs = {d for d in docs if allowed(dict(stored(d)["meta"]))}
        return docs

    def search(self, query: Query | str, *, sort: str = "relevance", limit: int = 20,
               page: int = 1, allowed: Callable[[dict[str, Any]], bool] | None = None,
               within: Mapping[str, Collection[str]] | None = None,
               snippets: bool = True) -> SearchResults:
        c.check_page(sort, limit, page)
        q = parse_query(query) if isinstance(query, str) else query
        wquery = self._tr.query(q, within)
        sortedby = None
        if sort == "date":
            # newest first: sorted ascending, then reversed here — Whoosh's reversed column
            # categorizer fails on segments where some documents have no date
            sortedby = sorting.MultiFacet([sorting.FieldFacet("date"), sorting.ScoreFacet(),
                                           sorting.FieldFacet("id")])
        elif sort == "code":
            sortedby = sorting.MultiFacet([sorting.FieldFacet("code_sort"),
                                           sorting.ScoreFacet()])
        first = (page - 1) * limit
        with self._searcher() as s:
            try:
                docs = self._docs(s, wquery, allowed)
                total, page_hits = len(docs), []
                if first < total:
                    if sort == "date":
                        res = s.search(wquery, filter=docs, limit=None, sortedby=sortedby)
                        order = [(h.docnum, h.score) for h in res][::-1][first:first + limit]
                        page_hits = [(score, s.stored_fields(d)) for d, score in order]
                    else:
                        res = s.search(wquery, filter=docs, limit=first + limit, sortedby=sortedby)
                        page_hits = [(h.score, h.fields()) for h in res[first:first + limit]]
            except DanganError:
                raise
            except Exception as e:  # noqa: BLE001 - a broken segment
                raise c.damaged(self.path, e) from e
        hits = [self._hit(score, stored, q if snippets else None) for score, stored in page_hits]
        return SearchResults(total=total, hits=hits, page=page, limit=limit)

    @staticmethod
    def _hit(score: Any, stored: dict[str, Any], q: Query | None) -> Hit:
        if isinstance(score, tuple):  # sorted: (field key, -score) from the MultiFacet
            score = -score[-1]
        body = stored.get("body")
        text = zlib.decompress(body).decode("utf-8") if body else None
        return c.make_hit(stored["meta"], score if sortable(score) else 0.0, text, q)


def sortable(score: Any) -> bool:
    return isinstance(score, (int, float))


def _has_toc(path: Path) -> bool:
    return path.is_dir() and any(p.name.endswith(".toc") for p in path.iterdir())
