"""When to merge segments: a tiered policy instead of Whoosh's ``MERGE_SMALL``.

Each commit writes one segment.  Whoosh's default policy, past a Fibonacci
threshold, merges *every* segment into one: adding 2,000 records to a
38,000-record index rewrote all 38,000 (about two minutes).  Merging rewrites
every posting in Python, so this policy bounds how often a record is
rewritten, while keeping the number of segments (each costs a search a
little) small:

* segments of fewer than ``SMALL`` records are grouped in tiers by the
  power of ten of their size; once a tier holds ``FANOUT`` segments they are
  merged (one-record commits become tens, then hundreds...), so a record is
  rewritten about once per tier, never on every commit;
* a segment with more than a third of its records deleted is merged away
  (with the tier being merged, if any), so replaced records do not linger;
* larger segments are otherwise left alone: a bulk rebuild committing
  ``SMALL`` or more records at a time is never merged.

At most ``MAX_MERGE`` records are merged per commit.
"""
from __future__ import annotations

import math
from array import array
from typing import Iterator

from whoosh.codec.whoosh3 import W3LeafMatcher
from whoosh.reading import SegmentReader

__all__ = ["merge_policy", "segment_items", "SMALL", "FANOUT"]

SMALL = 5000
FANOUT = 10
MAX_MERGE = 50_000


def merge_policy(writer, segments: list) -> list:
    """A Whoosh merge policy: merge some segments into ``writer``; return the others."""
    def live(seg) -> int:
        return seg.doc_count_all() - seg.deleted_count()

    chosen = [s for s in segments if s.doc_count_all() and
              s.deleted_count() * 3 > s.doc_count_all()]
    tiers: dict[int, list] = {}
    for seg in segments:
        if seg not in chosen and live(seg) < SMALL:
            tiers.setdefault(int(math.log10(max(1, live(seg)))), []).append(seg)
    for tier in sorted(tiers):
        if len(tiers[tier]) >= FANOUT:
            chosen += sorted(tiers[tier], key=live)
            break
    total = 0
    merge = []
    for seg in chosen:
        if merge and total + live(seg) > MAX_MERGE:
            break
        merge.append(seg)
        total += live(seg)
    if len(merge) < 2 and not any(s.deleted_count() for s in merge):
        return segments
    for seg in merge:
        reader = SegmentReader(writer.storage, writer.schema, seg)
        try:
            writer.add_reader(reader)
        finally:
            reader.close()
    return [s for s in segments if s not in merge]


def segment_items(reader, schema, startdoc: int, docmap: dict | None) -> Iterator[tuple]:
    """((field, term), docnums, weights, values) of a segment, renumbered, in order."""
    for (fieldname, btext), m in _matchers(reader, schema):
        ids, weights, values = array("I"), array("f"), []
        if not isinstance(m, W3LeafMatcher):  # inlined postings
            while m.is_active():
                d = m.id()
                if docmap is None or d in docmap:
                    ids.append(startdoc + d if docmap is None else docmap[d])
                    weights.append(m.weight())
                    v = m.value()
                    if v:
                        values.append(v)
                m.next()
        else:
            while m.is_active():
                m._read_ids()
                m._read_weights()
                m._read_values()
                bids, bws, bvs = m._ids, m._weights, m._values
                if docmap is None:
                    ids.extend([startdoc + d for d in bids])
                    weights.extend(bws)
                    if bvs and bvs[0]:
                        values.extend(bvs)
                else:
                    keep = [i for i, d in enumerate(bids) if d in docmap]
                    ids.extend([docmap[bids[i]] for i in keep])
                    weights.extend([bws[i] for i in keep])
                    if bvs and bvs[0]:
                        values.extend([bvs[i] for i in keep])
                m._next_block()
        if ids:
            yield (fieldname, btext), ids, weights, values


def _matchers(reader, schema) -> Iterator[tuple]:
    """((field, term), matcher) of a segment in (field, term) order.

    Walks the terms file in its stored order (no hash lookup per term) when
    that order is by field name -- both writers write fields sorted by name.
    """
    terms = reader._terms
    fmap = terms._fieldmap
    if sorted(fmap, key=fmap.get) == sorted(fmap):
        codec, postfile = terms._codec, terms._postfile
        for (fieldname, btext), terminfo in terms.items():
            if fieldname in schema:
                yield (fieldname, btext), codec.postings_reader(
                    postfile, terminfo, schema[fieldname].format, term=(fieldname, btext))
        return
    for fieldname in sorted(f for f in reader.indexed_field_names() if f in schema):
        fmt = schema[fieldname].format
        for btext in reader.lexicon(fieldname):
            yield (fieldname, btext), terms.matcher(fieldname, btext, fmt)
