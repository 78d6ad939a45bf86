"""The Whoosh implementation of :class:`~dangan.index.SearchIndex`.

Fields (analysis v1, see ``analysis_v1``):

``id``        unique record id (stored)
``title``     positional: CJK bigrams + words, boosted at query time
``content``   positional: content, file names, metadata values and tags
``uni``       distinct CJK characters of title + content (one-character queries)
``dept category retention secrecy volume mime code status tags``
              normalised keys for filters; ``year`` numeric; ``date`` ISO text
``date``/``code_sort``  columns for sorting
``meta``      stored catalogue fields (a dict); ``body`` stored zlib'd text for snippets

One writer: each add/delete/clear holds ``<index>/.writer.lock`` (flock) for
its whole commit, so processes queue instead of meeting Whoosh's LockError.
Readers never take it.

Speed (same files as stock Whoosh, analysis v1 unchanged): documents are
written by ``whoosh_writer.FastWriter``; a search computes the exact match
set from posting blocks (``whoosh_docset``: ``total`` and ``count`` are
exact), ranks it by BM25F from posting blocks too (``whoosh_rank``; Whoosh
ranks what that does not cover, and sorts by field), and segments are opened
without ``mmap`` (Whoosh copies a whole mmapped segment into memory per file).
"""
from __future__ import annotations

import json
import os
import threading
import time
import zlib
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from whoosh import fields, formats, index as windex, sorting
from whoosh.filedb.filestore import FileStorage
from whoosh.writing import CLEAR

from ..errors import DanganError, IntegrityError, LockTimeout, UsageError
from ..model import normalise_retention, normalise_secrecy
from ..repository.fsutil import flocked
from . import SORTS, Hit, IndexDocument, SearchResults
from .analysis_v1 import BigramTokenizer, UnigramTokenizer, normalise
from .query import And, Or, Phrase, Query, Word, parse_query
from .snippets import make_snippet, mark
from .whoosh_query import Translator, text_module
from .whoosh_docset import docset, rank_query
from .whoosh_merge import merge_policy
from .whoosh_rank import top
from .whoosh_writer import FastWriter

SCHEMA_VERSION = 1
MARKER = "dangan-index.json"
LOCKFILE = ".writer.lock"
MAX_LIMIT = 1000
_LOCKED_KEEP = ("record_id", "secrecy", "date", "year", "department", "category",
                "volume", "status", "locked")


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
        year=fields.NUMERIC(int, bits=32, signed=True),
        date=fields.ID(sortable=True),
        code_sort=fields.ID(sortable=True),
        meta=fields.STORED(),
        body=fields.STORED(),
    )


def _damaged(path: Path, why: object) -> IntegrityError:
    return IntegrityError(f"index is damaged: {path}: {why}; run `dangan reindex` to rebuild it")


class WhooshIndex:
    """A Whoosh index directory.  Thread-safe for one process; any number of processes."""

    def __init__(self, path: Path, ix, lock_timeout: float) -> None:
        self.path = path
        self._ix = ix
        self._lock_timeout = lock_timeout
        self._tlock = threading.Lock()
        self._tr = Translator(ix.schema)
        self._text = text_module(ix.schema)

    # --- opening -----------------------------------------------------------
    @classmethod
    def open(cls, path: Path, *, create: bool = True, lock_timeout: float = 30.0) -> "WhooshIndex":
        if not _has_toc(path):
            if not create:
                raise IntegrityError(f"no index at {path}; run `dangan reindex` to build it")
            path.mkdir(parents=True, exist_ok=True)
            with _flock(path / LOCKFILE, lock_timeout):
                if not _has_toc(path):
                    leftovers = [p.name for p in path.iterdir()
                                 if not p.name.startswith(".") and p.name != MARKER]
                    if leftovers:
                        raise _damaged(path, f"no table of contents but files {leftovers[:3]}")
                    _write_marker(path)
                    windex.create_in(str(path), make_schema())
        return cls(path, _open_dir(path), lock_timeout)

    def close(self) -> None:
        self._ix.close()

    def __enter__(self) -> "WhooshIndex":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- writing -----------------------------------------------------------
    @contextmanager
    def _writer(self, **commit_kw: Any) -> Iterator[Any]:
        with self._tlock, _flock(self.path / LOCKFILE, self._lock_timeout):
            try:
                w = FastWriter(self._ix, timeout=self._lock_timeout)
            except Exception as e:  # noqa: BLE001 - engine failure -> domain error
                raise _damaged(self.path, e) from e
            try:
                yield w
            except BaseException:
                w.cancel()
                raise
            w.commit(**{"mergetype": merge_policy, **commit_kw})

    def add(self, docs: Iterable[IndexDocument]) -> int:
        # Whoosh replaces committed documents only: keep the last of each id here.
        batch: dict[str, IndexDocument] = {}
        for d in docs:
            batch.pop(d.record_id, None)
            batch[d.record_id] = d
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

    def _fields(self, d: IndexDocument) -> dict[str, Any]:
        key = self._tr.key
        meta: dict[str, Any] = {
            "record_id": d.record_id, "archival_code": d.archival_code, "title": d.title,
            "department": d.department, "category": d.category, "year": d.year,
            "date": d.date, "retention": d.retention, "secrecy": d.secrecy,
            "volume": d.volume, "mime": d.mime, "tags": list(d.tags),
            "status": d.status, "locked": bool(d.locked),
        }
        f: dict[str, Any] = {"id": d.record_id, "secrecy": _canon(normalise_secrecy, d.secrecy),
                             "status": key(d.status)}
        for name, value in (("dept", d.department), ("category", d.category),
                            ("volume", d.volume)):
            if value:
                f[name] = key(value)
        if d.year is not None:
            f["year"] = int(d.year)
        if d.date:
            f["date"] = d.date
        if d.locked:
            f["meta"] = {k: meta[k] for k in _LOCKED_KEEP}
            f["code_sort"] = "\uffff"
            return f
        if d.retention:
            f["retention"] = _canon(normalise_retention, d.retention)
        for name, value in (("mime", d.mime), ("code", d.archival_code)):
            if value:
                f[name] = key(value)
        f["code_sort"] = d.archival_code or "\uffff"
        if d.tags:
            f["tags"] = ",".join(key(t).replace(",", " ") for t in d.tags)
        extra = [*d.filenames, *d.metadata.values(), *d.tags]
        body = d.content if not extra else d.content + "\n\n" + "\n".join(extra)
        f["title"] = d.title
        f["content"] = body
        f["uni"] = d.title + "\n" + body
        f["meta"] = meta
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
        raise _damaged(self.path, err)

    def doc_count(self) -> int:
        with self._searcher() as s:
            return s.doc_count()

    def count(self, query: Query | str, *,
              allowed: Callable[[dict[str, Any]], bool] | None = None) -> int:
        q = parse_query(query) if isinstance(query, str) else query
        wquery = self._tr.query(q)
        with self._searcher() as s:
            try:
                return len(self._docs(s, wquery, allowed))
            except DanganError:
                raise
            except Exception as e:  # noqa: BLE001 - a broken segment
                raise _damaged(self.path, e) from e

    @staticmethod
    def _docs(s, wquery, allowed: Callable[[dict[str, Any]], bool] | None) -> set[int]:
        """The exact set of matching documents (``whoosh_docset``), after ``allowed``."""
        docs = docset(s, wquery)
        if allowed is not None:
            stored = s.stored_fields
            docs = {d for d in docs if allowed(dict(stored(d)["meta"]))}
        return docs

    def search(self, query: Query | str, *, sort: str = "relevance", limit: int = 20,
               page: int = 1, allowed: Callable[[dict[str, Any]], bool] | None = None,
               snippets: bool = True) -> SearchResults:
        if sort not in SORTS:
            raise UsageError(f"unknown sort {sort!r}: use one of {', '.join(SORTS)}")
        if not 1 <= limit <= MAX_LIMIT:
            raise UsageError(f"limit must be between 1 and {MAX_LIMIT}")
        if page < 1:
            raise UsageError("page must be 1 or more")
        q = parse_query(query) if isinstance(query, str) else query
        wquery = self._tr.query(q)
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
                    rq = rank_query(wquery)
                    best = top(s, rq, docs, first + limit) if sortedby is None else None
                    if best is not None:
                        page_hits = [(d, score, s.stored_fields(d))
                                     for score, d in best[first:first + limit]]
                    elif sort == "date":
                        res = s.search(rq, filter=docs, limit=None, sortedby=sortedby)
                        order = [(h.docnum, h.score) for h in res][::-1][first:first + limit]
                        page_hits = [(d, score, s.stored_fields(d)) for d, score in order]
                    else:
                        res = s.search(rq, filter=docs, limit=first + limit, sortedby=sortedby)
                        page_hits = [(h.docnum, h.score, h.fields())
                                     for h in res[first:first + limit]]
            except DanganError:
                raise
            except Exception as e:  # noqa: BLE001 - a broken segment
                raise _damaged(self.path, e) from e
        hits = [self._hit(score, stored, q if snippets else None)
                for _, score, stored in page_hits]
        return SearchResults(total=total, hits=hits, page=page, limit=limit)

    def _hit(self, score: float, stored: dict[str, Any], q: Query | None) -> Hit:
        meta = stored["meta"]
        if isinstance(score, tuple):  # sorted: (field key, -score) from the MultiFacet
            score = -score[-1]
        hit = Hit(record_id=meta["record_id"], score=float(score or 0.0),
                  **{k: meta.get(k) for k in (
                      "archival_code", "title", "department", "category", "year", "date",
                      "retention", "volume", "mime")},
                  secrecy=meta.get("secrecy", "public"), tags=list(meta.get("tags") or []),
                  status=meta.get("status", "active"), locked=bool(meta.get("locked")))
        body = stored.get("body")
        if q is not None and body and not hit.locked:
            text = zlib.decompress(body).decode("utf-8")
            needles, prefixes = self._needles(q)
            plain, spans = make_snippet(text, needles, self._text.normalise_with_map,
                                        prefixes=prefixes)
            hit.snippet_text, hit.snippet_spans = plain, spans
            hit.snippet = mark(plain, spans)
        return hit

    def _needles(self, q: Query) -> tuple[list[str], set[str]]:
        """Normalised words and phrases to highlight (those not under NOT)."""
        needles: list[str] = []
        prefixes: set[str] = set()
        stack = [q.terms]
        while stack:
            n = stack.pop()
            if isinstance(n, (And, Or)):
                stack.extend(n.items)
            elif isinstance(n, (Word, Phrase)):
                k = self._tr.key(n.text)
                if k:
                    needles.append(k)
                    if isinstance(n, Word) and n.prefix:
                        prefixes.add(k)
        return needles, prefixes


# --- helpers -----------------------------------------------------------------

def _canon(fn: Callable[[str], str], value: str) -> str:
    """The canonical vocabulary term (as filters parse it), else the folded value."""
    try:
        return fn(value).lower()
    except UsageError:
        return normalise(value).strip()


def _has_toc(path: Path) -> bool:
    return path.is_dir() and any(p.name.endswith(".toc") for p in path.iterdir())


def _write_marker(path: Path) -> None:
    tmp = path / (MARKER + ".tmp")
    tmp.write_text(json.dumps({"engine": "whoosh", "schema": SCHEMA_VERSION,
                               "analysis": "analysis_v1"}), encoding="utf-8")
    os.replace(tmp, path / MARKER)


def _open_dir(path: Path):
    try:
        marker = json.loads((path / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise _damaged(path, f"cannot read {MARKER} ({e})") from e
    if marker.get("schema") != SCHEMA_VERSION:
        raise IntegrityError(
            f"index at {path} has schema {marker.get('schema')!r}, this dangan uses "
            f"{SCHEMA_VERSION}; run `dangan reindex` to rebuild it")
    try:
        return FileStorage(str(path), supports_mmap=False).open_index()
    except Exception as e:  # noqa: BLE001 - anything Whoosh raises on a bad TOC
        raise _damaged(path, e) from e


@contextmanager
def _flock(lockpath: Path, timeout: float) -> Iterator[None]:
    with flocked(lockpath, timeout=timeout, mode=0o644) as held:
        if not held:
            raise LockTimeout(f"the search index at {lockpath.parent} is busy (another writer has "
                              f"held it for over {timeout:g} s); try again")
        yield
