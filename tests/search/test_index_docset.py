"""Exact match sets from posting blocks (``whoosh_docset``) equal Whoosh's own."""
from __future__ import annotations

import random
from pathlib import Path

import pytest

from dangan.index import IndexDocument, open_index, parse_query
from dangan.index.whoosh_docset import docset

QUERIES = [
    "档案", "档", "管理", '"档案管理"', '"管理档案"', '"档案档案"', "档案 管理", "档案 OR report",
    "档案 -管理", "-档案", "report", '"annual report"', '"report annual"', "rep*", "档案 dept:办公室",
    "year:2001..2003", "date:>2010-01-01", "-dept:财务部 档案", "(档案 OR 借阅) -report",
    '"人民共和国"', "PDF格", "借阅 利用 登记", "tag:甲", "report OR -records", "nothing-here",
    '"档案管理" year:2002', "secrecy:secret", "档案 -secrecy:secret",
]


@pytest.fixture(scope="module")
def ix(tmp_path_factory):
    rnd = random.Random(7)
    words = ["档案", "管理", "借阅", "利用", "登记", "人民", "共和国", "report", "annual",
             "records", "PDF", "格式", "的", "檔案", "管理档案"]
    path = Path(tmp_path_factory.mktemp("docset")) / "index"
    ix = open_index(path)
    n = 0
    for batch in range(6):  # several segments, some replaced and deleted documents
        docs = []
        for _ in range(40):
            text = "".join(rnd.choice(words) + rnd.choice(["", "", " ", "。"])
                           for _ in range(rnd.randint(0, 40)))
            docs.append(IndexDocument(
                record_id=f"r{rnd.randrange(200)}", title=rnd.choice(["", "档案管理办法"]),
                department=rnd.choice(["办公室", "财务部", None]), year=2000 + n % 5,
                date=f"20{n % 20:02d}-03-04", tags=["甲"] if n % 4 == 0 else [],
                secrecy="secret" if n % 9 == 0 else "public", content=text,
                locked=n % 17 == 0))
            n += 1
        ix.add(docs)
        ix.delete([f"r{rnd.randrange(200)}" for _ in range(5)])
    yield ix
    ix.close()


@pytest.mark.parametrize("text", QUERIES)
def test_docset_equals_whoosh_docs_for_query(ix, text: str) -> None:
    wq = ix._tr.query(parse_query(text))
    with ix._searcher() as s:
        assert s.reader().leaf_readers() and len(s.reader().leaf_readers()) > 1
        want = set(s.docs_for_query(wq))
        assert docset(s, wq) == want
    res = ix.search(text, limit=5)
    assert res.total == len(want) == ix.count(text)
    assert len(res.hits) == min(5, len(want))


def test_pages_cover_every_match_once(ix) -> None:
    total = ix.count("档案")
    seen = []
    page = 1
    while True:
        res = ix.search("档案", limit=7, page=page)
        if not res.hits:
            break
        seen += [h.record_id for h in res.hits]
        page += 1
    assert len(seen) == len(set(seen)) == total > 20


def test_allowed_filters_count_and_pages(ix) -> None:
    public = ix.count("档案 -secrecy:secret")
    allowed = lambda meta: meta["secrecy"] != "secret"  # noqa: E731
    assert ix.count("档案", allowed=allowed) == public
    assert ix.search("档案", allowed=allowed, limit=3).total == public


@pytest.mark.parametrize("text", QUERIES)
def test_block_ranking_equals_whoosh_ranking(ix, text: str) -> None:
    from whoosh import query as wquery

    from dangan.index.whoosh_docset import rank_query
    from dangan.index.whoosh_rank import top

    wq = ix._tr.query(parse_query(text))
    rq = rank_query(wq)
    with ix._searcher() as s:
        docs = docset(s, wq)
        got = top(s, rq, docs, 40)
        if got is None:  # prefixes, an Every inside OR: Whoosh ranks those
            assert "*" in text or "OR -" in text
            return
        want = [(h.score, h.docnum) for h in s.search(rq, filter=docs, limit=len(docs) or 1)]
    if isinstance(rq, wquery.Every):  # filters only: every score is the same
        assert [d for _, d in got] == sorted(docs)[:40]
        return
    key = lambda sd: (-round(sd[0], 9), sd[1])  # noqa: E731 - equal scores: lower docnum first
    assert [(round(a, 9), d) for a, d in got] == \
        [(round(a, 9), d) for a, d in sorted(want, key=key)[:40]]
