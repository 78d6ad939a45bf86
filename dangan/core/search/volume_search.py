"""Search inside confidential volumes: only while unlocked, only for cleared actors.

The main index holds only the plain allow-list fields of sealed records.  A
confidential volume's searchable text lives in its own **volume index**: the
records' extracted text and titles, kept at rest as one blob in
``index/volumes/<volume-id>.enc`` encrypted (``dangan-enc/1``) under a key
derived from the volume's private key — so it can be read, and brought up to
date, only while the volume is unlocked; it is opened in memory and never
written in plaintext.  Matching follows the index's semantics: text and query
are normalised alike (NFKC, case, Traditional→Simplified); Chinese matches
as a substring, Latin words as whole words (``word*`` as a prefix), phrases
in order.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from dangan.errors import CryptoError
from dangan.model import Record

if TYPE_CHECKING:
    from dangan.core.archive import Archive

INDEX_LABEL = b"dangan-volume-index/1"


@dataclass
class VolumeHit:
    record_id: str
    score: float
    title: str
    snippet: str
    fields: dict


def _index_key(private_key: bytes) -> bytes:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=INDEX_LABEL).derive(private_key)


def _path(archive: Archive, vol):
    return archive.root / "index" / "volumes" / f"{vol.id}.enc"


def _binding(vol):
    from dangan.repository.crypto import Binding
    return Binding(vol.id, "volume-index", 1, "volume-index")


def _load(archive: Archive, vol, key: bytes) -> dict:
    from dangan.repository.crypto import decrypt_bytes
    p = _path(archive, vol)
    if not p.exists():
        return {}
    try:
        return json.loads(decrypt_bytes(p.read_bytes(), key, _binding(vol)))
    except CryptoError:
        return {}          # made under a rotated key, or damaged: rebuilt from the records below


def _save(archive: Archive, vol, key: bytes, entries: dict) -> None:
    from dangan.repository.crypto import encrypt_bytes
    from dangan.repository.fsutil import replace_durable
    p = _path(archive, vol)
    p.parent.mkdir(parents=True, exist_ok=True)
    replace_durable(p, encrypt_bytes(json.dumps(entries, ensure_ascii=False).encode("utf-8"), key, _binding(vol)))


def refresh(archive: Archive, vol, private_key: bytes) -> dict:
    """The volume index brought up to date with the catalogue (new versions added, gone records dropped)."""
    from dangan.core.confidential.sealing import decrypt_chunks, opened, record_key
    from dangan.core.store.layout import text_path
    key = _index_key(private_key)
    entries = _load(archive, vol, key)
    rows = archive.conn.execute("SELECT id, version, sealed FROM records WHERE volume = ? AND status != 'destroyed'"
                                " AND sealed IS NOT NULL", (vol.name,)).fetchall()
    live = {r["id"]: r for r in rows}
    changed = False
    for rid in [rid for rid in entries if rid not in live]:
        del entries[rid]
        changed = True
    for rid, r in live.items():
        if entries.get(rid, {}).get("v") == r["version"]:
            continue
        rec = archive.record(rid)
        rkey = record_key(archive, rec)
        full, _files = opened(archive, rec, r["sealed"], rkey)
        texts = []
        stored = {f.logical_path: f for f in archive.store.files(rid)}
        for f in full.files:
            t = stored.get(text_path(f.path))
            if t is not None:
                texts.append(b"".join(decrypt_chunks(archive, rec, t, rkey)).decode("utf-8", "replace"))
        entries[rid] = {"v": r["version"], "title": full.title, "text": "\n\n".join(texts),
                        "meta": " ".join(f"{v}" for v in full.metadata.values()), "tags": full.tags}
        changed = True
    if changed:
        _save(archive, vol, key, entries)
    return entries


def search(archive: Archive, query, visible=None) -> list[VolumeHit]:
    """Hits in every confidential volume that is unlocked for this user; [] when none is."""
    from dangan.core.catalogue.volumes import Volume, is_unlocked, private_key
    hits: list[VolumeHit] = []
    if query.terms is None:
        return hits
    for row in archive.conn.execute("SELECT * FROM volumes WHERE confidential = 1"):
        vol = Volume.from_row(row)
        if not is_unlocked(archive, vol):
            continue
        entries = refresh(archive, vol, private_key(archive, vol))
        allowed = _allowed(archive, vol, query.filters, visible)
        for rid, e in entries.items():
            if rid not in allowed:
                continue
            from dangan.index.text_v1 import normalise
            norm = normalise(e["title"] + "\n" + e["text"] + "\n" + e.get("meta", "") + "\n" + " ".join(e.get("tags", [])))
            if _match(query.terms, norm):
                hits.append(VolumeHit(rid, float(_count(query, norm)), e["title"], _snippet(e["text"], query),
                                      allowed[rid]))
    return sorted(hits, key=lambda h: -h.score)


def _allowed(archive: Archive, vol, filters, visible) -> dict[str, dict]:
    from dangan.index.query import filters_to_sql
    from dangan.core.catalogue import records as rows
    from dangan.core.catalogue.db import dialect
    sql, params = filters_to_sql(filters, folded=True, dialect=dialect(archive.conn))
    out = {}
    for r in archive.conn.execute(f"SELECT * FROM records WHERE volume = ? AND status != 'destroyed' AND {sql}",
                                  [vol.name, *params]):
        rec: Record = rows.row_to_record(archive.conn, r, with_files=False)
        if visible is None or visible(rec):
            out[rec.id] = {k: getattr(rec, k) for k in ("archival_code", "department", "category", "year", "date",
                                                         "retention", "secrecy", "volume", "status")}
    return out


_LATIN = re.compile(r"[0-9a-z]")


def _pattern(text: str, prefix: bool = False) -> re.Pattern:
    from dangan.index.text_v1 import normalise
    norm = normalise(text).strip()
    parts = re.findall(r"[0-9a-z]+|[^\s0-9a-z]", norm)
    out = ""
    for i, p in enumerate(parts):
        if i and (_LATIN.match(p) or _LATIN.match(parts[i - 1])):
            out += r"[^0-9a-z]*" if _LATIN.match(p) and _LATIN.match(parts[i - 1]) else r"\s*"
        out += re.escape(p)
    head = r"(?<![0-9a-z])" if parts and _LATIN.match(parts[0]) else ""
    tail = r"(?![0-9a-z])" if parts and _LATIN.match(parts[-1]) and not prefix else ""
    return re.compile(head + out + tail)


def _match(node, norm: str) -> bool:
    from dangan.index.query import And, Not, Or, Phrase, Word
    if isinstance(node, Word):
        return bool(_pattern(node.text, node.prefix).search(norm))
    if isinstance(node, Phrase):
        return bool(_pattern(node.text).search(norm))
    if isinstance(node, And):
        return all(_match(i, norm) for i in node.items)
    if isinstance(node, Or):
        return any(_match(i, norm) for i in node.items)
    if isinstance(node, Not):
        return not _match(node.item, norm)
    return False


def _count(query, norm: str) -> int:
    return sum(len(_pattern(t).findall(norm)) for t in query.positive_texts()) or 1


def _snippet(text: str, query, width: int = 60) -> str:
    from dangan.index.text_v1 import normalise
    norm = normalise(text)           # same length as text: per-character folding
    for t in query.positive_texts():
        m = _pattern(t).search(norm)
        if m and len(norm) == len(text):
            a, b = max(0, m.start() - width), min(len(text), m.end() + width)
            return (text[a:m.start()] + "[[" + text[m.start():m.end()] + "]]" + text[m.end():b]).replace("\n", " ")
    return text[:2 * width].replace("\n", " ")


def merged_search(archive: Archive, index, text: str, *, sort: str, limit: int, page: int, allowed, count_only: bool = False,
                  within=None, filters=()):
    """Main-index results with hits from unlocked confidential volumes merged in (volume hits first).

    ``within``: access filtering the engine applies (``search_access``); ``filters``: more
    :class:`~dangan.index.query.Filter` s ANDed to the query's own (``search --dept`` ...).
    """
    from dangan.index import Hit, SearchResults, parse_query
    from dangan.core.policy.access import visibility
    q = parse_query(text)
    q.filters.extend(filters)
    has_unlocked = archive.conn.execute("SELECT 1 FROM volumes WHERE confidential = 1 LIMIT 1").fetchone()
    from dangan.core.search.indexing import search_purpose
    vhits = search(archive, q, visibility(archive, search_purpose(text))) if has_unlocked else []
    if not vhits:
        if count_only:
            return SearchResults(total=index.count(q, allowed=allowed, within=within), hits=[])
        return index.search(q, sort=sort, limit=limit, page=page, allowed=allowed, within=within)
    if count_only:
        return SearchResults(total=index.count(q, allowed=allowed, within=within) + len(vhits), hits=[])
    main = index.search(q, sort=sort, limit=min(1000, page * limit), page=1, allowed=allowed, within=within)
    mine = {h.record_id for h in vhits}
    combined = [Hit(record_id=h.record_id, score=h.score, title=h.title, snippet=h.snippet,
                    snippet_text=h.snippet.replace("[[", "").replace("]]", ""), **h.fields) for h in vhits]
    combined += [h for h in main.hits if h.record_id not in mine]
    return SearchResults(total=main.total + len(vhits), hits=combined[(page - 1) * limit: page * limit],
                         page=page, limit=limit)


def merged_facets(archive: Archive, index, text: str, *, allowed, within=None, filters=()) -> dict[str, dict[str, int]]:
    """Facet counts over every hit ``merged_search`` would give (all pages): the main index's matches and the
    hits of confidential volumes unlocked for this user (their catalogue fields; counted as its total is)."""
    from dangan.core.policy.access import visibility
    from dangan.core.search.indexing import search_purpose
    from dangan.index import parse_query
    from dangan.index.common import FACET_FIELDS
    q = parse_query(text)
    q.filters.extend(filters)
    out = index.facets(q, allowed=allowed, within=within)
    if archive.conn.execute("SELECT 1 FROM volumes WHERE confidential = 1 LIMIT 1").fetchone():
        for h in search(archive, q, visibility(archive, search_purpose(text))):
            for name in FACET_FIELDS:
                v = h.fields.get(name)
                if v not in (None, ""):
                    counts = out.setdefault(name, {})
                    counts[str(v)] = counts.get(str(v), 0) + 1
    return out
