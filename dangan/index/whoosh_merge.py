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

from whoosh.reading import SegmentReader

__all__ = ["merge_policy", "SMALL", "FANOUT"]

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
