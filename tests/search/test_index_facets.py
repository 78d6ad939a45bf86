"""Facet counts over every match of a query, on each engine: not one page's, after the access filters."""
from __future__ import annotations

from pathlib import Path

import pytest

from dangan.index import IndexDocument, SearchIndex, open_index


def _docs() -> list[IndexDocument]:
    out = []
    for i in range(45):                               # more than two pages of 20
        out.append(IndexDocument(record_id=f"r{i:02d}", title=f"档案{i}", content="年度档案 records",
                                 department="BGS" if i % 3 else "CWB", category="WS", year=2019 + i % 2,
                                 date=f"{2019 + i % 2}-01-01", secrecy="public" if i % 5 else "internal",
                                 volume="V1", mime="application/pdf" if i % 2 else "text/plain"))
    out.append(IndexDocument(record_id="s", title="机密", content="档案", secrecy="secret", department="BWB",
                             category="BM", year=2022, volume="VX", locked=True))
    out.append(IndexDocument(record_id="x", title="无关", content="其他", department="BGS", year=2020))
    return out


@pytest.fixture()
def ix(tmp_path: Path, engine: str) -> SearchIndex:
    index = open_index(tmp_path / "index", engine=engine)
    index.add(_docs())
    yield index
    index.close()


def test_facets_count_every_hit_not_one_page(ix: SearchIndex) -> None:
    page = ix.search("档案", limit=20)
    assert page.total == 45 and len(page.hits) == 20
    f = ix.facets("档案")
    assert f["department"] == {"BGS": 30, "CWB": 15}
    assert f["year"] == {"2019": 23, "2020": 22}
    assert f["secrecy"] == {"public": 36, "internal": 9}
    assert f["mime"] == {"application/pdf": 22, "text/plain": 23}
    assert f["volume"] == {"V1": 45} and f["category"] == {"WS": 45}
    f = ix.facets("year:2019..2022")                          # the locked record matches by its open fields
    assert f["department"] == {"BGS": 31, "CWB": 15, "BWB": 1} and f["secrecy"]["secret"] == 1
    assert sum(f["mime"].values()) == 45                       # a locked record keeps no format


def test_facets_follow_the_query_and_the_access_filters(ix: SearchIndex) -> None:
    f = ix.facets("档案 dept:CWB")
    assert f["department"] == {"CWB": 15} and sum(f["year"].values()) == 15
    f = ix.facets("year:2019..2022", within={"secrecy": ["public", "internal"]})     # clearance, in the query
    assert "secret" not in f["secrecy"] and "VX" not in f["volume"] and sum(f["secrecy"].values()) == 46
    f = ix.facets("档案", allowed=lambda meta: meta.get("year") == 2019)    # a plugin's rule, per hit
    assert f["year"] == {"2019": 23}
    assert ix.facets("没有的词") == {}


def test_counted_from_columns_as_from_stored_fields(ix: SearchIndex) -> None:
    """The fast path (tantivy: one aggregation over the facet columns, no stored document read) counts exactly
    what reading every match's stored fields counts — Chinese values, a locked record, a record with no year."""
    more = [IndexDocument(record_id=f"c{i}", title="档案", content="档案 卷", department="办公室", category="文书",
                          year=None if i % 2 else 2021, secrecy="public", volume="卷一" if i % 3 else "卷二",
                          mime="image/png") for i in range(7)]
    ix.add(more)
    for q in ("档案", "year:2019..2022", "卷", "档案 -dept:BGS"):
        fast = ix.facets(q)
        assert fast == ix.facets(q, allowed=lambda meta: True), q    # the per-hit path reads stored fields
    f = ix.facets("卷")
    assert f["department"] == {"办公室": 7} and f["year"] == {"2021": 4} and f["volume"] == {"卷一": 4, "卷二": 3}


def test_facets_without_a_per_hit_rule_read_no_stored_document(tmp_path: Path, monkeypatch) -> None:
    """tantivy: counting facets of 47 matches opens none of their stored documents (the cost at 10,000 or a
    million hits is the columns', not the documents')."""
    from dangan.index.tantivy_index import TantivyIndex
    index = open_index(tmp_path / "index", engine="tantivy")
    index.add(_docs())
    real = TantivyIndex._searcher

    class NoDocs:
        def __init__(self, s) -> None:
            self.s = s

        def __getattr__(self, name):
            if name == "doc":
                raise AssertionError("a stored document was read")
            return getattr(self.s, name)
    monkeypatch.setattr(TantivyIndex, "_searcher", lambda self: NoDocs(real(self)))
    f = index.facets("year:2019..2022")
    assert f["department"] == {"BGS": 31, "CWB": 15, "BWB": 1}
    with pytest.raises(AssertionError, match="stored document"):     # the per-hit path does read them
        index.facets("year:2019..2022", allowed=lambda m: True)
    index.close()
