"""What both engines share: the writer lock, the on-disk marker, stored fields, hits and snippets.

Pure Python, no search engine imported.  Each engine keeps its files in its
own directory with a ``dangan-index.json`` marker naming the engine, the
schema version and the analysis version (``text_v1``).
"""
from __future__ import annotations

import json
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from ..errors import IntegrityError, LockTimeout, UsageError
from ..model import normalise_retention, normalise_secrecy
from . import SORTS, Hit, IndexDocument
from .query import And, Filter, Or, Phrase, Query, Word
from .text_v1 import normalise, normalise_with_map

MARKER = "dangan-index.json"
LOCKFILE = ".writer.lock"
MAX_LIMIT = 1000
#: what a locked (sealed) record keeps in the index
LOCKED_KEEP = ("record_id", "secrecy", "date", "year", "department", "category",
               "volume", "status", "locked")
#: a snippet is cut from at most this many characters of stored text around the first hits
SNIPPET_WINDOW = 20_000
#: fragments are chosen among this many first hits in the text
SNIPPET_MATCHES = 16

#: filter field -> index keyword field (same names in both engines)
KEYWORD_FIELDS = {
    "department": "dept", "category": "category", "retention": "retention",
    "secrecy": "secrecy", "volume": "volume", "mime": "mime", "code": "code",
    "tag": "tags", "status": "status", "title": "title_key",
}


def damaged(path: Path, why: object) -> IntegrityError:
    return IntegrityError(f"index is damaged: {path}: {why}; run `dangan reindex` to rebuild it")


def check_page(sort: str, limit: int, page: int) -> None:
    if sort not in SORTS:
        raise UsageError(f"unknown sort {sort!r}: use one of {', '.join(SORTS)}")
    if not 1 <= limit <= MAX_LIMIT:
        raise UsageError(f"limit must be between 1 and {MAX_LIMIT}")
    if page < 1:
        raise UsageError("page must be 1 or more")


def key(value: str) -> str:
    """A keyword field's indexed form (and a filter value's): normalised, stripped."""
    return normalise(value).strip()


def canon(fn: Callable[[str], str], value: str) -> str:
    """The canonical vocabulary term (as filters parse it), else the folded value."""
    try:
        return fn(value).lower()
    except UsageError:
        return key(value)


#: The catalogue fields a search's facets count (``mime`` is the format; a locked record has none).
FACET_FIELDS = ("department", "year", "category", "secrecy", "volume", "mime")


def count_facets(metas: Iterable[dict[str, Any]]) -> dict[str, dict[str, int]]:
    """Field → value → how many of ``metas`` (stored catalogue fields) have it; empty values left out."""
    out: dict[str, dict[str, int]] = {}
    for meta in metas:
        for name in FACET_FIELDS:
            v = meta.get(name)
            if v not in (None, ""):
                counts = out.setdefault(name, {})
                counts[str(v)] = counts.get(str(v), 0) + 1
    return out


def stored_meta(d: IndexDocument) -> dict[str, Any]:
    """The catalogue fields a hit shows (a locked record: the allow-list only)."""
    meta: dict[str, Any] = {
        "record_id": d.record_id, "archival_code": d.archival_code, "title": d.title,
        "department": d.department, "category": d.category, "year": d.year,
        "date": d.date, "retention": d.retention, "secrecy": d.secrecy,
        "volume": d.volume, "mime": d.mime, "tags": list(d.tags),
        "status": d.status, "locked": bool(d.locked),
    }
    return {k: meta[k] for k in LOCKED_KEEP} if d.locked else meta


def keyword_values(d: IndexDocument) -> dict[str, list[str]]:
    """Keyword field -> indexed values (a locked record: no title, code, mime, tags or metadata)."""
    out: dict[str, list[str]] = {"secrecy": [canon(normalise_secrecy, d.secrecy)], "status": [key(d.status)]}
    for name, value in (("dept", d.department), ("category", d.category), ("volume", d.volume)):
        if value:
            out[name] = [key(value)]
    if d.locked:
        return out
    if d.retention:
        out["retention"] = [canon(normalise_retention, d.retention)]
    for name, value in (("mime", d.mime), ("code", d.archival_code)):
        if value:
            out[name] = [key(value)]
    if d.tags:
        out["tags"] = [key(t) for t in d.tags]
    for k, v in d.metadata.items():
        if str(v).strip():
            out.setdefault("meta_kv", []).append(meta_term(k, str(v)))
    return out


def meta_term(name: str, value: str) -> str:
    """``meta.KEY:VALUE`` as one keyword term: normalised key, a unit separator, normalised value."""
    return key(name) + "\x1f" + key(value)


def body_text(d: IndexDocument) -> str:
    """The positional ``content`` of a record: its text, then file names, metadata values and tags."""
    extra = [*d.filenames, *(str(v) for v in d.metadata.values()), *d.tags]
    return d.content if not extra else d.content + "\n\n" + "\n".join(extra)


def needles(q: Query) -> tuple[list[str], set[str]]:
    """Normalised words and phrases to highlight (those not under NOT), and which are prefixes."""
    out: list[str] = []
    prefixes: set[str] = set()
    stack = [q.terms]
    while stack:
        n = stack.pop()
        if isinstance(n, (And, Or)):
            stack.extend(n.items)
        elif isinstance(n, (Word, Phrase)):
            k = key(n.text)
            if k:
                out.append(k)
                if isinstance(n, Word) and n.prefix:
                    prefixes.add(k)
    return out, prefixes


def make_hit(meta: dict[str, Any], score: float, body: str | None, q: Query | None,
             norm: str | None = None) -> Hit:
    """A hit from stored fields; its snippet (only when ``q``) from at most ``SNIPPET_WINDOW`` characters.

    ``norm``: the stored normalised body when it has the body's length (so no normalising per hit).
    """
    hit = Hit(record_id=meta["record_id"], score=float(score or 0.0),
              **{k: meta.get(k) for k in (
                  "archival_code", "title", "department", "category", "year", "date",
                  "retention", "volume", "mime")},
              secrecy=meta.get("secrecy", "public"), tags=list(meta.get("tags") or []),
              status=meta.get("status", "active"), locked=bool(meta.get("locked")))
    if q is not None and body and not hit.locked:
        from .snippets import make_snippet, mark
        found, prefixes = needles(q)
        if norm is not None and len(norm) == len(body):
            start = _window_start(norm, found)
            text, ntext = body[start:start + SNIPPET_WINDOW], norm[start:start + SNIPPET_WINDOW]
            plain, spans = make_snippet(text, found, lambda _t: (ntext, None), prefixes=prefixes,
                                        max_matches=SNIPPET_MATCHES)
        else:
            text = _window(body, found)
            plain, spans = make_snippet(text, found, normalise_with_map, prefixes=prefixes,
                                        max_matches=SNIPPET_MATCHES)
        hit.snippet_text, hit.snippet_spans = plain, spans
        hit.snippet = mark(plain, spans)
    return hit


def _window_start(norm: str, found: list[str]) -> int:
    if len(norm) <= SNIPPET_WINDOW:
        return 0
    first = min((i for i in (norm.find(n) for n in found) if i >= 0), default=-1)
    return 0 if first < SNIPPET_WINDOW // 2 else first - SNIPPET_WINDOW // 2


def _window(body: str, found: list[str]) -> str:
    """A bounded piece of ``body`` around the first occurrence of a needle (normalised lengths agree
    for nearly all text; when they do not, the start of the text is used)."""
    if len(body) <= SNIPPET_WINDOW:
        return body
    head = body[:SNIPPET_WINDOW]
    norm = normalise(body)
    if len(norm) != len(body):
        return head
    first = min((i for i in (norm.find(n) for n in found) if i >= 0), default=-1)
    if first < SNIPPET_WINDOW // 2:
        return head
    start = first - SNIPPET_WINDOW // 2
    return body[start:start + SNIPPET_WINDOW]


def date_number(iso: str) -> int:
    """``2024-03-01`` -> 20240301 (a sortable, range-queryable integer)."""
    return int(iso[:10].replace("-", ""))


def date_bounds(f: Filter) -> tuple[int | None, int | None, bool, bool]:
    """A date filter as (low, high, include low, include high) over ``date_number``."""
    v = f.value
    if f.op == "=":
        n = date_number(str(v))
        return n, n, True, True
    if f.op == "prefix":
        s = str(v)
        if len(s) == 4:
            return int(s) * 10000 + 101, int(s) * 10000 + 1231, True, True
        y, m = s.split("-")
        return int(y) * 10000 + int(m) * 100 + 1, int(y) * 10000 + int(m) * 100 + 31, True, True
    if f.op == "range":
        lo, hi = v  # type: ignore[misc]
        return date_number(lo), date_number(hi), True, True
    n = date_number(str(v))
    if f.op in (">", ">="):
        return n, None, f.op == ">=", True
    return None, n, True, f.op == "<="


def year_bounds(f: Filter) -> tuple[int | None, int | None, bool, bool]:
    v = f.value
    if f.op == "=":
        return int(v), int(v), True, True  # type: ignore[arg-type]
    if f.op == "range":
        lo, hi = v  # type: ignore[misc]
        return int(lo), int(hi), True, True
    if f.op in (">", ">="):
        return int(v), None, f.op == ">=", True  # type: ignore[arg-type]
    return None, int(v), True, f.op == "<="  # type: ignore[arg-type]


# --- the marker and the writer lock ---------------------------------------------

def read_marker(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads((path / MARKER).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as e:
        raise damaged(path, f"cannot read {MARKER} ({e})") from e


def write_marker(path: Path, engine: str, schema: int) -> None:
    tmp = path / (MARKER + ".tmp")
    tmp.write_text(json.dumps({"engine": engine, "schema": schema, "analysis": "analysis_v1"}),
                   encoding="utf-8")
    os.replace(tmp, path / MARKER)


def check_marker(path: Path, engine: str, schema: int) -> None:
    marker = read_marker(path)
    if marker is None:
        raise damaged(path, f"{MARKER} is missing")
    if marker.get("engine", "whoosh") != engine or marker.get("schema") != schema:
        raise IntegrityError(
            f"index at {path} is {marker.get('engine', 'whoosh')} schema {marker.get('schema')!r}, this "
            f"dangan uses {engine} schema {schema}; run `dangan reindex` to rebuild it")


@contextmanager
def flock(lockpath: Path, timeout: float) -> Iterator[None]:
    """The index's one writer lock (``repository.fsutil.flocked``, the one file-lock home)."""
    from ..repository.fsutil import flocked
    with flocked(lockpath, timeout=timeout, mode=0o644) as held:
        if not held:
            raise LockTimeout(f"the search index at {lockpath.parent} is busy (another writer has "
                              f"held it for over {timeout:g} s); try again")
        yield


def last_of_each(docs) -> dict[str, IndexDocument]:
    """Keep the last document of each record id, in order."""
    batch: dict[str, IndexDocument] = {}
    for d in docs:
        batch.pop(d.record_id, None)
        batch[d.record_id] = d
    return batch
