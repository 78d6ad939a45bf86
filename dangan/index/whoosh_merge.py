"""When to merge segments: a tiered policy instead of Whoosh's ``MERGE_SMALL``.

Each commit writes one segment.  Whoosh's default policy, past a Fibonacci
threshold, merges *every* segment into one: adding 2,000 records to a
38,000-record index rewrote all 38,000 (about two minutes).  Merging rewrites
every posting in Python, so this policy bounds how often a record is
rewritten, while keeping the number of segments (each costs a search a
little) small:

* segments of fewer than ``SMALL`` records are merged together once there
  are ``FANOUT`` of them (commits of one record, or of a few hundred, end up
  in segments of thousands; a record is rewritten about once per tier);
* a segment with more than a third of its records deleted is merged away
  (with the small ones), so replaced records do not linger;
* larger segments are otherwise left alone.  A bulk rebuild committing
  ``SMALL`` or more records at a time is never merged.

Segments are merged smallest first, up to ``MAX_MERGE`` records per commit.
"""
from __future__ import annotations

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
    small = sorted((s for s in segments if live(s) < SMALL and s not in chosen), key=live)
    tiny = [s for s in small if live(s) * FANOUT < SMALL]
    if len(small) >= FANOUT:
        chosen += small
    elif len(tiny) >= FANOUT:  # many tiny commits: merge them into one small segment
        chosen += tiny
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
