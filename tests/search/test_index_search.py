"""Searching a real index in tmp_path, on each engine (tantivy and Whoosh)."""
from __future__ import annotations

from pathlib import Path

import pytest

from dangan.errors import UsageError
from dangan.index import IndexDocument, SearchIndex, open_index


def doc(rid: str, content: str = "", **kw) -> IndexDocument:
    return IndexDocument(record_id=rid, content=content, **{"title": "", **kw})


DOCS = [
    doc("a", "為加強公司文書檔案管理制度的工作，保證歸檔。中华人民共和国档案法。",
        title="檔案管理制度", archival_code="Z109-WS·2021-Y-BGS-0002", department="總經理辦公室",
        category="WS", year=2021, date="2021-03-01", retention="permanent", secrecy="public",
        volume="V1", mime="application/pdf", tags=["制度", "归档"]),
    doc("b", "The annual report on records management. 年度报告，借阅利用统计。",
        title="Annual report", archival_code="Z109-WS·2019-D30-CWB-0001", department="财务部",
        category="KJ", year=2019, date="2019-11-20", retention="long-term", secrecy="internal",
        volume="V2", mime="text/plain", tags=["报告"]),
    doc("c", "Meeting minutes: records were reviewed. 会议纪要，销毁清单。",
        title="会议纪要", archival_code="Z109-WS·2020-D10-BGS-0003", department="总经理办公室",
        category="WS", year=2020, date="2020-06-15", retention="short-term", secrecy="internal",
        volume="V1", mime="image/png", tags=[]),
    doc("s", "机密档案内容：人民共和国 secret plans", title="机密文件", secrecy="secret",
        department="保卫部", category="BM", year=2022, date="2022-01-05", volume="VX",
        archival_code="Z109-BM·2022-Y-BWB-0001", mime="application/pdf", locked=True,
        filenames=["密件.pdf"], metadata={"author": "某人"}),
]


@pytest.fixture()
def ix(tmp_path: Path, engine: str) -> SearchIndex:
    index = open_index(tmp_path / "index", engine=engine)
    assert index.add(DOCS) == 4
    yield index
    index.close()


def ids(ix: SearchIndex, q: str, **kw) -> list[str]:
    return sorted(h.record_id for h in ix.search(q, limit=100, **kw).hits)


@pytest.mark.parametrize("q, want", [
    ("档", ["a"]), ("檔", ["a"]), ("纪", ["c"]),                  # 1 character
    ("档案", ["a"]), ("檔案", ["a"]), ("管理", ["a"]),
    ("案管", ["a"]), ("管理制", ["a"]), ("档案管理", ["a"]), ("人民共和国", ["a"]),
    ("中华人民共和", ["a"]), ("借阅利用", ["b"]), ("销毁清单", ["c"]),
    ("会议", ["c"]), ("會議紀要", ["c"]),
])
def test_chinese_queries_found_inside_longer_words(ix: SearchIndex, q: str, want: list[str]) -> None:
    assert ids(ix, q) == want


def test_chinese_bigrams_must_be_adjacent(ix: SearchIndex) -> None:
    # 档 and 案 ... 法 all occur in "a"; "档法" does not, nor "理档".
    assert ids(ix, "档法") == []
    assert ids(ix, "理档") == []


def test_english_words_and_phrases(ix: SearchIndex) -> None:
    assert ids(ix, "records") == ["b", "c"]
    assert ids(ix, "RECORDS") == ["b", "c"]
    assert ids(ix, "record") == []                      # no stemming
    assert ids(ix, "record*") == ["b", "c"]
    assert ids(ix, '"annual report"') == ["b"]
    assert ids(ix, '"report annual"') == []
    assert ids(ix, "ＡＮＮＵＡＬ") == ["b"]                # full-width query


def test_boolean_operators(ix: SearchIndex) -> None:
    assert ids(ix, "records AND 会议") == ["c"]
    assert ids(ix, "records 会议") == ["c"]
    assert ids(ix, "档案 OR 会议") == ["a", "c"]
    assert ids(ix, "records -会议") == ["b"]
    assert ids(ix, "records NOT 会议") == ["b"]
    assert ids(ix, "(档案 OR annual) -report") == ["a"]
    assert ids(ix, "-records") == ["a", "s"]
    assert ids(ix, "会议 OR -records") == ["a", "c", "s"]


@pytest.mark.parametrize("q, want", [
    ("dept:总经理办公室", ["a", "c"]), ("department:總經理辦公室", ["a", "c"]),
    ("category:ws", ["a", "c"]), ("year:2021", ["a"]), ("year:2019..2020", ["b", "c"]),
    ("year:>2020", ["a", "s"]), ("year:<=2019", ["b"]), ("date:>2020-06-15", ["a", "s"]),
    ("date:>=2020-06-15", ["a", "c", "s"]), ("date:<2020-01-01", ["b"]),
    ("date:2019-01-01..2020-12-31", ["b", "c"]), ("date:2020", ["c"]),
    ("date:2020-06-15", ["c"]), ("retention:permanent", ["a"]), ("retention:D30", ["b"]),
    ("secrecy:internal", ["b", "c"]), ("secrecy:秘密", ["s"]), ("-secrecy:internal", ["a", "s"]),
    ("mime:image/*", ["c"]), ("mime:application/pdf", ["a"]), ("volume:V1", ["a", "c"]),
    ("volume:vx", ["s"]), ("tag:制度", ["a"]), ("tag:歸檔", ["a"]), ("code:Z109-WS*", ["a", "b", "c"]),
    ("code:z109-ws·2019-d30-cwb-0001", ["b"]), ("档案 dept:总经理办公室", ["a"]),
    ("records year:2020", ["c"]),
])
def test_every_filter_kind(ix: SearchIndex, q: str, want: list[str]) -> None:
    assert ids(ix, q) == want


def test_locked_documents_match_filters_only(ix: SearchIndex) -> None:
    for q in ("机密", "机密文件", "secret", "人民共和国", "密件", "某人", "code:Z109-BM*",
              "mime:application/pdf"):
        assert "s" not in ids(ix, q), q
    r = ix.search("dept:保卫部")
    assert [h.record_id for h in r.hits] == ["s"]
    h = r.hits[0]
    assert h.locked and h.title is None and h.archival_code is None and h.snippet == ""
    assert (h.secrecy, h.year, h.date, h.volume, h.category) == ("secret", 2022, "2022-01-05", "VX", "BM")


def test_sorting_and_paging(ix: SearchIndex) -> None:
    q = "year:2000..2030"
    assert [h.record_id for h in ix.search(q, sort="date").hits] == ["s", "a", "c", "b"]
    # locked "s" has no archival code in the index: it sorts last
    assert [h.record_id for h in ix.search(q, sort="code").hits] == ["b", "c", "a", "s"]
    pages = [ix.search(q, sort="date", limit=3, page=p) for p in (1, 2, 3)]
    assert [[h.record_id for h in r.hits] for r in pages] == [["s", "a", "c"], ["b"], []]
    assert all(r.total == 4 for r in pages) and pages[0].pages == 2
    with pytest.raises(UsageError):
        ix.search(q, sort="size")
    with pytest.raises(UsageError):
        ix.search(q, page=0)


def test_relevance_prefers_title(ix: SearchIndex) -> None:
    ix.add([doc("t", "一份档案", title="无关"), doc("u", "无关内容", title="一份档案")])
    order = [h.record_id for h in ix.search("档案 -制度").hits]
    assert order.index("u") < order.index("t")


def test_counts(ix: SearchIndex) -> None:
    assert ix.doc_count() == 4
    assert ix.count("records") == 2
    assert ix.count("secrecy:internal") == 2
    assert ix.count("nothingatall") == 0


def test_allowed_filters_before_paging(ix: SearchIndex) -> None:
    def public_only(fields: dict) -> bool:
        return fields["secrecy"] == "public"

    q = "year:2000..2030"
    r = ix.search(q, sort="date", limit=1, page=1, allowed=lambda f: f["secrecy"] != "secret")
    assert r.total == 3 and [h.record_id for h in r.hits] == ["a"]
    r2 = ix.search(q, sort="date", limit=1, page=3, allowed=lambda f: f["secrecy"] != "secret")
    assert [h.record_id for h in r2.hits] == ["b"]
    assert ix.count(q, allowed=public_only) == 1


def test_upsert_replaces_and_delete_removes(ix: SearchIndex) -> None:
    ix.add([doc("a", "全新的内容 replaced", title="新标题", year=1999)])
    assert ix.doc_count() == 4
    assert ids(ix, "档案管理") == []
    assert ids(ix, "replaced") == ["a"]
    assert ids(ix, "year:1999") == ["a"]
    assert ix.delete(["a", "missing"]) == 1
    assert ix.doc_count() == 3 and ids(ix, "replaced") == []
    ix.clear()
    assert ix.doc_count() == 0


def test_snippets_mark_hits_and_break_at_sentences(ix: SearchIndex) -> None:
    h = ix.search("档案管理").hits[0]
    assert h.snippet == "為加強公司文書[[檔案管理]]制度的工作，保證歸檔。"
    s, e = h.snippet_spans[0]
    assert h.snippet_text[s:e] == "檔案管理"


def test_snippet_for_a_hit_past_32k_characters(tmp_path: Path, engine: str) -> None:
    ix = open_index(tmp_path / "ix", engine=engine)
    filler = "这是一段没有关键词的填充文字。" * 4000          # 60K characters
    ix.add([doc("far", filler + "这里提到了借阅登记簿的要求。" + filler)])
    h = ix.search("借阅登记簿").hits[0]
    assert h.snippet == "这里提到了[[借阅登记簿]]的要求。"


def test_punctuation_only_query_matches_nothing(ix: SearchIndex) -> None:
    assert ix.search("，。").total == 0


def test_overlong_query_refused(ix: SearchIndex) -> None:
    with pytest.raises(UsageError, match="limit is 1000"):
        ix.search("档案" * 600)


def test_chinese_vocabulary_values_are_indexed_canonically(tmp_path: Path, engine: str) -> None:
    ix = open_index(tmp_path / "ix", engine=engine)
    ix.add([doc("z", "x", secrecy="机密", retention="永久", department="辦公室")])
    assert ids(ix, "secrecy:confidential") == ["z"]
    assert ids(ix, "retention:Y") == ["z"]
    assert ids(ix, "dept:办公室") == ["z"]


def test_a_hit_as_a_dict_is_its_fields_copied() -> None:
    """``Hit.to_dict`` (by hand, for speed) gives what ``dataclasses.asdict`` gives, and shares no list."""
    import dataclasses

    from dangan.index import Hit
    h = Hit(record_id="r1", score=1.5, title="档案", tags=["甲"], snippet="[[档案]]", snippet_text="档案",
            snippet_spans=[(0, 2)])
    d = h.to_dict()
    assert d == dataclasses.asdict(h)
    d["tags"].append("乙")
    d["snippet_spans"].append((3, 4))
    assert h.tags == ["甲"] and h.snippet_spans == [(0, 2)]
