"""A faster Whoosh segment writer: the same segment files, less Python per posting.

Whoosh's ``SegmentWriter`` pays for every (document, distinct term) pair --
about 1,200 per 1-2k character document here: a ``Token`` per position, a
tuple through an external-sort pool (pickled to temporary files past
``limitmb``, then merged back), a ``doc_field_length`` lookup and one
``add_posting`` call each.  :class:`FastWriter` writes the same files
(codec ``whoosh3``, unchanged format, read by the stock reader):

* **analysis in one pass** for fields whose analyzer has ``term_positions``
  (``analysis_v1``) and whose format is ``Positions`` or ``Existence``: a
  dict of term -> positions, encoded exactly as ``Positions.encode`` does;
* **an in-memory pool** ``field -> term -> (docnums, weights, values)``:
  documents arrive in docnum order, so only the terms are sorted, once;
* **whole posting blocks** handed to the codec's block writer, with field
  lengths read once per field instead of once per posting;
* **segment merges** copy decoded blocks, not one posting at a time.

Everything else (other formats, vectors, spelling, non-whoosh3 codecs) goes
through Whoosh's own code.  ``test_index_writer`` checks that both writers
produce the same postings.
"""
from __future__ import annotations

from array import array
from pickle import dumps
from typing import Any

from whoosh import formats
from whoosh.codec.whoosh3 import W3FieldWriter, W3LeafMatcher, W3TermsReader
from whoosh.system import pack_uint
from whoosh.util.text import utf8encode
from whoosh.writing import SegmentWriter

__all__ = ["FastWriter", "FastPool"]


class FastPool:
    """Postings in memory: {field: {term bytes: [docnums, weights, values]}}.

    ``values`` holds the non-empty encoded values only, like Whoosh's block
    writer (a format's values are either all empty or never empty).
    """

    def __init__(self) -> None:
        self.fields: dict[str, dict[bytes, list]] = {}

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

    def iter_postings(self):
        for fieldname in sorted(self.fields):
            terms = self.fields[fieldname]
            for tbytes in sorted(terms):
                ids, weights, values = terms[tbytes]
                for i, docnum in enumerate(ids):
                    yield fieldname, tbytes, docnum, weights[i], values[i] if values else None

    def cleanup(self) -> None:
        self.fields.clear()


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

    def __init__(self, ix, **kwargs: Any) -> None:
        super().__init__(ix, **kwargs)
        self.pool = FastPool()
        self._kinds = {name: _fast_kind(f) for name, f in self.schema.items()
                       if f.indexed and f.analyzer is not None}

    # --- documents -------------------------------------------------------
    def add_document(self, **fields: Any) -> None:
        self._check_state()
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
        terms_reader = getattr(reader, "_terms", None)
        if not isinstance(terms_reader, W3TermsReader):
            return super().add_postings_to_pool(reader, startdoc, docmap)
        schema = self.schema
        pool = self.pool
        for fieldname, btext in reader.all_terms():
            fieldobj = schema[fieldname]
            m = terms_reader.matcher(fieldname, btext, fieldobj.format)
            if not isinstance(m, W3LeafMatcher):  # inlined postings
                while m.is_active():
                    d = m.id()
                    if docmap is None or d in docmap:
                        nd = startdoc + d if docmap is None else docmap[d]
                        pool.add((fieldname, btext, nd, m.weight(), m.value()))
                    m.next()
                continue
            terms = pool.terms(fieldname)
            pl = terms.get(btext)
            if pl is None:
                pl = terms[btext] = [array("I"), array("f"), []]
            ids, weights, values = pl
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

    # --- writing the segment -----------------------------------------------
    def _flush_segment(self) -> None:
        self.perdocwriter.close()
        pdr = self.per_document_reader() if self.codec.length_stats else None
        fw = self.fieldwriter
        if isinstance(fw, W3FieldWriter):
            _write_postings(fw, self.schema, pdr, self.pool, self.docnum)
        else:
            fw.add_postings(self.schema, pdr, self.pool.iter_postings())
        fw.close()
        if pdr:
            pdr.close()


def _write_postings(fw: W3FieldWriter, schema, pdr, pool: FastPool, doccount: int) -> None:
    for fieldname in sorted(pool.fields):
        terms = pool.fields[fieldname]
        if not any(pl[0] for pl in terms.values()):
            continue
        fieldobj = schema[fieldname]
        lengths = None
        if pdr is not None and fieldobj.scorable:
            dfl = pdr.doc_field_length
            lengths = [dfl(d, fieldname) or 0 for d in range(doccount)]
        fw.start_field(fieldname, fieldobj)
        pw = fw._postwriter
        limit = pw._blocklimit
        for tbytes in sorted(terms):
            ids, weights, values = terms[tbytes]
            n = len(ids)
            if not n:
                continue
            if values and len(values) != n:
                raise RuntimeError(f"postings of {fieldname}:{tbytes!r} mix empty values")
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
        fw.finish_field()
