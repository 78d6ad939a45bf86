"""The fast writer (``whoosh_writer``) writes what Whoosh's own writer writes."""
from __future__ import annotations

import random
from pathlib import Path

import pytest
from whoosh import index as windex
from whoosh.writing import SegmentWriter

from dangan.index import IndexDocument
from dangan.index.analysis_v1 import BigramTokenizer, UnigramTokenizer
from dangan.index.text_v1 import normalise, term_positions, tokens
from dangan.index.whoosh_index import WhooshIndex, make_schema
from dangan.index.whoosh_writer import FastWriter

TEXTS = [
    "档案管理制度 Annual Report 2021 檔案", "人民共和国档案法，第一条。PDF格式 e-mail",
    "", "abc档案def 123 ４５ ＡＢＣ", "单", "archive records records 的的的 档案 档案",
    "Ünïcode café naïve 한국어 にほんご ㄅ", "x" * 50 + " 档" * 30,
]


@pytest.mark.parametrize("text", TEXTS)
def test_term_positions_equal_the_tokenizers(text: str) -> None:
    norm = normalise(text)
    want: dict[str, list[int]] = {}
    for i, (tok, _, _) in enumerate(tokens(norm)):
        want.setdefault(tok, []).append(i)
    assert term_positions(norm) == (want, sum(map(len, want.values())))
    got, n = BigramTokenizer().term_positions(text)
    assert got == want and n == sum(map(len, want.values()))
    uni, _ = UnigramTokenizer().term_positions(text)
    assert sorted(uni) == sorted(t.text for t in UnigramTokenizer()(text))


def _docs(n: int, seed: int) -> list[IndexDocument]:
    rnd = random.Random(seed)
    words = "档案 管理 制度 借阅 利用 report annual budget 檔案 人民 共和国 的 a b".split()
    out = []
    for i in range(n):
        content = "".join(rnd.choice(words) + rnd.choice(["", " ", "，"])
                          for _ in range(rnd.randint(0, 300)))
        out.append(IndexDocument(
            record_id=f"r{i % (n - 3)}", title=rnd.choice(["", "档案管理", "Annual 报告"]),
            department=rnd.choice([None, "办公室", "财务部"]), year=2000 + i % 7,
            date=f"20{i % 20:02d}-01-02", tags=rnd.sample(["甲", "乙", "a,b"], rnd.randint(0, 2)),
            metadata={"k": "元数据 meta"} if i % 3 else {}, filenames=[f"f{i}.pdf"],
            content=content, locked=i % 11 == 0, secrecy="secret" if i % 11 == 0 else "public"))
    return out


def _build(path: Path, writer_cls, docs: list[IndexDocument]) -> dict:
    path.mkdir()
    ix = windex.create_in(str(path), make_schema())
    fields = WhooshIndex.__new__(WhooshIndex)
    fields._tr = type("T", (), {"key": staticmethod(lambda v: normalise(v).strip())})()
    for k in range(0, len(docs), 25):  # several commits: segments get merged
        w = writer_cls(ix)
        for d in docs[k:k + 25]:
            w.update_document(**WhooshIndex._fields(fields, d))
        w.commit()
    w = writer_cls(ix)
    w.delete_by_term("id", "r3")
    w.commit(optimize=True)
    with ix.reader() as r:
        postings = {}
        for fieldname, btext in r.all_terms():
            m = r.postings(fieldname, btext)
            got = []
            while m.is_active():
                got.append((m.id(), m.weight(), m.value(), m.block_min_length(),
                            m.block_max_length(), m.block_max_weight()))
                m.next()
            postings[(fieldname, btext)] = got
        lengths = {(d, f): r.doc_field_length(d, f)
                   for d in range(r.doc_count_all()) for f in ("title", "content", "uni")}
        stored = list(r.all_stored_fields())
        return {"postings": postings, "lengths": lengths, "stored": stored,
                "count": r.doc_count(), "total": [r.field_length(f) for f in ("title", "content")]}


def _spilling(ix) -> FastWriter:
    w = FastWriter(ix)
    w.pool.limit = 300  # postings: spill to temporary runs every few documents
    return w


@pytest.mark.parametrize("writer", [FastWriter, _spilling])
def test_fast_writer_writes_the_same_index_as_whoosh(tmp_path: Path, writer) -> None:
    docs = _docs(160, seed=3)
    fast = _build(tmp_path / "fast", writer, docs)
    slow = _build(tmp_path / "slow", SegmentWriter, docs)
    assert fast["count"] == slow["count"] > 100
    assert fast["lengths"] == slow["lengths"]
    assert fast["stored"] == slow["stored"]
    assert fast["total"] == slow["total"]
    assert fast["postings"].keys() == slow["postings"].keys()
    for key, want in slow["postings"].items():
        assert fast["postings"][key] == want, key


def test_documents_added_after_a_merged_segment(tmp_path: Path) -> None:
    from whoosh.reading import SegmentReader

    got = []
    for name, cls in (("fast", _spilling), ("slow", SegmentWriter)):
        path = tmp_path / name
        path.mkdir()
        ix = windex.create_in(str(path), make_schema())
        w = cls(ix)
        w.add_document(id="a", content="档案管理 first", uni="档案管理")
        w.commit()
        w = cls(ix)
        seg = ix._segments()[0]
        w.add_reader(SegmentReader(ix.storage, ix.schema, seg))
        w.add_document(id="b", content="管理档案 second", uni="管理档案")
        w.commit(merge=False)
        with ix.reader() as r:
            got.append(sorted((f, t, list(r.postings(f, t).all_ids())) for f, t in r.all_terms()))
    assert got[0] == got[1]


def test_merge_policy_keeps_few_segments_and_drops_deleted(tmp_path: Path, monkeypatch) -> None:
    from dangan.index import open_index, whoosh_merge

    monkeypatch.setattr(whoosh_merge, "SMALL", 20)
    monkeypatch.setattr(whoosh_merge, "FANOUT", 4)
    ix = open_index(tmp_path / "index")
    for i in range(60):
        ix.add([IndexDocument(record_id=f"r{i % 45}", content=f"档案 {i}")])
    segs = ix._ix._segments()
    assert len(segs) <= 8
    assert ix.doc_count() == 45 == ix.count("档案")
    assert sum(s.deleted_count() for s in segs) * 3 <= sum(s.doc_count_all() for s in segs)
