"""A faster Whoosh segment writer: the same segment files, less Python per posting.

Whoosh's ``SegmentWriter`` pays for every (document, distinct term) pair --
about 1,200 per 1-2k character record: a ``Token`` per position, a tuple
through an external-sort pool, a ``doc_field_length`` lookup and an
``add_posting`` call.  :class:`FastWriter` writes the same ``whoosh3`` files:

* **one-pass analysis** where the analyzer has ``term_positions``
  (``analysis_v1``) and the format is ``Positions`` or ``Existence``;
* **a pool of arrays** ``field -> term -> (docnums, weights, values)``,
  spilled to sorted runs past ``limitmb``; only terms are sorted;
* **whole posting blocks** handed to the codec's block writer, field lengths
  read once per field;
* **merged segments streamed** term by term, a decoded block at a time.

Everything else (other formats, vectors, spelling, other codecs) goes through
Whoosh's own code.  ``test_index_fastwriter`` checks both writers agree.
"""
from __future__ import annotations

import heapq
import marshal
from array import array
from itertools import groupby
from operator import itemgetter
from pickle import dumps
from typing import Any, Iterator

from whoosh import formats
from whoosh.codec.whoosh3 import W3FieldWriter, W3TermsReader
from whoosh.filedb.filestore import FileStorage
from whoosh.reading import SegmentReader
from whoosh.system import pack_uint
from whoosh.util import random_name
from whoosh.util.text import utf8encode
from whoosh.writing import SegmentWriter

from .whoosh_merge import segment_items

__all__ = ["FastWriter", "FastPool"]


class FastPool:
    """Postings in memory: {field: {term bytes: [docnums, weights, values]}}.

    ``values`` holds the non-empty encoded values only, like Whoosh's block
    writer (a format's values are either all empty or never empty).  Past
    ``limitmb`` the postings are written to a sorted temporary run
    (``marshal``) and merged back, term by term, when the segment is written.
    """

    def __init__(self, tempstore=None, limitmb: int = 256) -> None:
        self.fields: dict[str, dict[bytes, list]] = {}
        self.count = 0                         # postings held in memory
        self.limit = max(1, limitmb) * (1 << 20) // _BYTES_PER_POSTING
        self.tempstore = tempstore
        self.runs: list[str] = []

    def terms(self, fieldname: str) -> dict[bytes, list]:
        d = self.fields.get(fieldname)
        if d is None:
            d = self.fields[fieldname] = {}
        return d

    def add(self, item: tuple) -> None:  # Whoosh's pool interface
        fieldname, tbytes, docnum, weight, vbytes = item
        terms = self.terms(fieldname)
        pl = terms.get(tbytes)
        if pl is None:
            pl = terms[tbytes] = [array("I"), array("f"), []]
        pl[0].append(docnum)
        pl[1].append(weight)
        if vbytes:
            pl[2].append(vbytes)
        self.count += 1

    def maybe_spill(self) -> None:
        if self.count > self.limit and self.tempstore is not None:
            name = "%s.dgrun" % random_name()
            with self.tempstore.create_file(name).raw_file() as f:
                for key, ids, weights, values in self.items():
                    marshal.dump((key, ids.tobytes(), weights.tobytes(), values), f)
            self.runs.append(name)
            self.fields, self.count = {}, 0

    def items(self) -> Iterator[tuple]:
        """((field, term), docnums, weights, values) in (field, term) order."""
        for fieldname in sorted(self.fields):
            terms = self.fields[fieldname]
            for tbytes in sorted(terms):
                ids, weights, values = terms[tbytes]
                if ids:
                    yield (fieldname, tbytes), ids, weights, values

    def sources(self) -> list[Iterator[tuple]]:
        """The spilled runs, oldest first, then memory: each in (field, term) order."""
        return [*(self._run(name) for name in self.runs), self.items()]

    def _run(self, name: str) -> Iterator[tuple]:
        with self.tempstore.open_file(name).raw_file() as f:
            while True:
                try:
                    key, ib, wb, values = marshal.load(f)
                except EOFError:
                    return
                ids, weights = array("I"), array("f")
                ids.frombytes(ib)
                weights.frombytes(wb)
                yield tuple(key), ids, weights, values

    def iter_postings(self):  # Whoosh's interface, for a codec other than whoosh3
        for (fieldname, tbytes), ids, ws, vs in heapq.merge(*self.sources(), key=itemgetter(0)):
            for i, docnum in enumerate(ids):
                yield fieldname, tbytes, docnum, ws[i], vs[i] if vs else None

    def cleanup(self) -> None:
        self.fields.clear()
        for name in self.runs:
            try:
                self.tempstore.delete_file(name)
            except OSError:
                pass
        self.runs = []


_BYTES_PER_POSTING = 80
_MMAP_DOCS = 2000         # segments merged from memory up to this size (~30 MB)   # docnum, weight, a small bytes object, list and dict shares


def _fast_kind(field: Any) -> str | None:
    """'positions' / 'existence' when the field can take the one-pass path."""
    if getattr(field.analyzer, "term_positions", None) is None or field.vector \
            or field.separate_spelling():
        return None
    ftype = type(field.format)
    if ftype is formats.Positions:
        return "positions"
    if ftype is formats.Existence:
        return "existence"
    return None


_ONE: list[bytes] = []


def _one_position(n: int) -> list[bytes]:
    """``Positions.encode([p])`` for p < n, cached (most terms occur once in a document)."""
    while len(_ONE) < n:
        _ONE.append(pack_uint(1) + dumps([len(_ONE)], 2))
    return _ONE


class FastWriter(SegmentWriter):
    """``SegmentWriter`` with the fast paths above; same constructor arguments."""

    def __init__(self, ix, limitmb: int = 256, **kwargs: Any) -> None:
        super().__init__(ix, limitmb=limitmb, **kwargs)
        self.pool = FastPool(self._tempstorage, limitmb)
        self._merging: list[tuple[Any, int, dict | None]] = []  # (segment, startdoc, docmap)
        self._kinds = {name: _fast_kind(f) for name, f in self.schema.items()
                       if f.indexed and f.analyzer is not None}

    # --- documents -------------------------------------------------------
    def add_document(self, **fields: Any) -> None:
        self._check_state()
        if self._merging:  # documents after a merge: keep docnums in order in the pool
            self._pool_merges()
        perdocwriter = self.perdocwriter
        schema = self.schema
        docnum = self.docnum
        add_post = self.pool.add
        docboost = self._doc_boost(fields)
        fieldnames = sorted(name for name in fields if not name.startswith("_"))
        self._check_fields(schema, fieldnames)
        perdocwriter.start_doc(docnum)
        try:
            for fieldname in fieldnames:
                value = fields.get(fieldname)
                if value is None:
                    continue
                field = schema[fieldname]
                length = 0
                if field.indexed:
                    fieldboost = self._field_boost(fields, fieldname, docboost)
                    kind = self._kinds.get(fieldname)
                    if kind is not None and isinstance(value, str):
                        length = self._add_fast(fieldname, field, kind, value, fieldboost)
                    else:
                        scorable = field.scorable
                        for tbytes, freq, weight, vbytes in field.index(value):
                            if scorable:
                                length += freq
                            add_post((fieldname, tbytes, docnum, weight * fieldboost, vbytes))
                    if field.separate_spelling():
                        spellfield = field.spelling_fieldname(fieldname)
                        for word in field.spellable_words(value):
                            add_post((spellfield, utf8encode(word)[0], 0, 1, None))
                if field.vector:
                    vitems = field.vector.word_values(value, field.analyzer, mode="index")
                    vitems = sorted((t, w, v) for t, _, w, v in vitems)
                    perdocwriter.add_vector_items(fieldname, field, vitems)
                customval = fields.get("_stored_%s" % fieldname, value)
                perdocwriter.add_field(fieldname, field, customval if field.stored else None,
                                       length)
                column = field.column_type
                if column and customval is not None:
                    perdocwriter.add_column_value(fieldname, column,
                                                  field.to_column_value(customval))
        except Exception:
            perdocwriter.cancel_doc()
            raise
        perdocwriter.finish_doc()
        self._added = True
        self.docnum += 1
        self.pool.maybe_spill()

    def _add_fast(self, fieldname: str, field: Any, kind: str, value: str,
                  fieldboost: float) -> int:
        positions, length = field.analyzer.term_positions(value)
        terms = self.pool.terms(fieldname)
        get = terms.get
        docnum = self.docnum
        fb = field.format.field_boost * fieldboost
        if kind == "existence":
            length = len(positions)
            for text in positions:
                tbytes = text.encode("utf-8")
                pl = get(tbytes)
                if pl is None:
                    pl = terms[tbytes] = [array("I"), array("f"), []]
                pl[0].append(docnum)
                pl[1].append(fb)
            return length if field.scorable else 0
        one = _one_position(length)
        for text, poses in positions.items():
            tbytes = text.encode("utf-8")
            pl = get(tbytes)
            if pl is None:
                pl = terms[tbytes] = [array("I"), array("f"), []]
            pl[0].append(docnum)
            n = len(poses)
            if n == 1:
                pl[1].append(fb)
                pl[2].append(one[poses[0]])
            else:  # Positions.encode: count, then the pickled position deltas
                pl[1].append(n * fb)
                pl[2].append(pack_uint(n) + dumps(
                    [poses[0], *map(int.__sub__, poses[1:], poses[:-1])], 2))
        return length if field.scorable else 0

    # --- merging segments --------------------------------------------------
    def add_postings_to_pool(self, reader, startdoc, docmap) -> None:
        # Whoosh closes ``reader`` right after this, but the segment's files stay
        # until the commit is done: its postings are streamed, term by term,
        # into the new segment when that is written (no pool, bounded memory).
        if not isinstance(getattr(reader, "_terms", None), W3TermsReader) \
                or getattr(reader, "_segment", None) is None:
            return super().add_postings_to_pool(reader, startdoc, docmap)
        self._merging.append((reader._segment, startdoc, docmap))

    def _reader(self, segment) -> SegmentReader:
        """A reader for merging.  Small segments are read from memory (mmap): the
        stock non-mmap sub-files cost a Python call per tiny read, which dominates
        merging the many short posting lists of one-record commits."""
        storage = self.storage
        if isinstance(storage, FileStorage) and not storage.supports_mmap \
                and segment.doc_count_all() <= _MMAP_DOCS:
            storage = FileStorage(storage.folder)
        return SegmentReader(storage, self.schema, segment)

    def _pool_merges(self) -> None:
        """Move pending merges into the pool (only if documents follow them)."""
        pending, self._merging = self._merging, []
        for segment, startdoc, docmap in pending:
            reader = self._reader(segment)
            try:
                for (fieldname, tbytes), ids, weights, values in segment_items(
                        reader, self.schema, startdoc, docmap):
                    pl = self.pool.terms(fieldname).setdefault(
                        tbytes, [array("I"), array("f"), []])
                    pl[0].extend(ids)
                    pl[1].extend(weights)
                    pl[2].extend(values)
                    self.pool.count += len(ids)
            finally:
                reader.close()
            self.pool.maybe_spill()

    # --- writing the segment -----------------------------------------------
    def _flush_segment(self) -> None:
        self.perdocwriter.close()
        pdr = self.per_document_reader() if self.codec.length_stats else None
        fw = self.fieldwriter
        readers = []
        try:
            if isinstance(fw, W3FieldWriter):
                sources = self.pool.sources()
                for segment, startdoc, docmap in self._merging:
                    readers.append(self._reader(segment))
                    sources.append(segment_items(readers[-1], self.schema, startdoc, docmap))
                _write_postings(fw, self.schema, pdr, sources, self.docnum)
            else:
                fw.add_postings(self.schema, pdr, self.pool.iter_postings())
        finally:
            for r in readers:
                r.close()
        fw.close()
        if pdr:
            pdr.close()


def _write_postings(fw: W3FieldWriter, schema, pdr, sources: list, doccount: int) -> None:
    """Write the merged sources (each in (field, term) order, older documents first)."""
    lastfield = None
    lengths = pw = None
    limit = 0
    merged = heapq.merge(*sources, key=itemgetter(0))  # stable: equal keys in source order
    for (fieldname, tbytes), group in groupby(merged, key=itemgetter(0)):
        parts = list(group)
        if len(parts) == 1:
            _, ids, weights, values = parts[0]
        else:
            ids, weights, values = array("I"), array("f"), []
            for _, i, w, v in parts:
                ids.extend(i)
                weights.extend(w)
                values.extend(v)
        n = len(ids)
        if not n:
            continue
        if values and len(values) != n:
            raise RuntimeError(f"postings of {fieldname}:{tbytes!r} mix empty values")
        if fieldname != lastfield:
            if lastfield is not None:
                fw.finish_field()
            fieldobj = schema[fieldname]
            lengths = None
            if pdr is not None and fieldobj.scorable:
                dfl = pdr.doc_field_length
                lengths = [dfl(d, fieldname) or 0 for d in range(doccount)]
            fw.start_field(fieldname, fieldobj)
            pw = fw._postwriter
            limit = pw._blocklimit
            lastfield = fieldname
        fw.start_term(tbytes)
        for s in range(0, n, limit):
            e = min(n, s + limit)
            bids = ids[s:e]
            pw._ids = bids
            pw._weights = bws = weights[s:e]
            pw._values = values[s:e] if values else []
            pw._maxweight = max(0, max(bws))
            if lengths is not None:
                ls = [x for x in map(lengths.__getitem__, bids) if x]
                pw._minlength = min(ls) if ls else None
                pw._maxlength = max(ls) if ls else 0
            else:
                pw._minlength, pw._maxlength = None, 0
            if e < n:
                pw._write_block()
        fw.finish_term()
    if lastfield is not None:
        fw.finish_field()
