"""Precision and recall on real text: the regulations (one record per article)
and the UDHR first article in every language (one record per language).

Ground truth: for Chinese queries, the records whose normalised text (NFKC,
lower case, Traditional -> Simplified) contains the normalised query; for
English words and phrases, the records where they occur as whole words.
"""
from __future__ import annotations

import random
import re

import pytest

from dangan.index import IndexDocument, open_index
from dangan.index.text_v1 import normalise


from search_corpus_helpers import articles, udhr_blocks  # noqa: E402,F401

HAN = re.compile(r"[\u4e00-\u9fff]+")
CJK = re.compile(r"[\u3005\u3007\u3041-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]")


def _word_re(q: str) -> re.Pattern[str]:
    words = [re.escape(w) for w in q.split()]
    return re.compile(r"(?<![^\W_])" + r"[\W_]+".join(words) + r"(?![^\W_])")


def truth(norm_docs: dict[str, str], blanked: dict[str, str], q: str) -> set[str]:
    nq = normalise(q)
    if HAN.search(nq):
        return {rid for rid, t in norm_docs.items() if nq in t}
    pat = _word_re(nq)
    return {rid for rid, t in blanked.items() if pat.search(t)}


@pytest.fixture(scope="module", params=["tantivy", "whoosh"])
def corpus(tmp_path_factory: pytest.TempPathFactory, request):
    docs = {f"art{i:03d}": t for i, t in enumerate(articles())}
    docs.update({f"udhr{i:03d}": t for i, t in enumerate(udhr_blocks())})
    assert len(docs) > 300
    ix = open_index(tmp_path_factory.mktemp("quality") / "index", engine=request.param)
    ix.add(IndexDocument(record_id=rid, content=text) for rid, text in docs.items())
    norm = {rid: normalise(t) for rid, t in docs.items()}
    blanked = {rid: CJK.sub(" ", t) for rid, t in norm.items()}
    return ix, docs, norm, blanked


def chinese_queries(docs: dict[str, str]) -> list[str]:
    rnd = random.Random(20240601)
    texts = [t for rid, t in sorted(docs.items()) if rid.startswith("art")]
    out = ["档案", "檔案管理", "人民", "信息", "保密", "借阅", "銷毀", "归档", "客户服务部",
           "质量", "檢索", "备份", "的", "檔", "人人生而自由", "尊嚴和權利", "兄弟关系"]
    for length in range(1, 7):
        n = 0
        while n < 30:
            t = rnd.choice(texts)
            i = rnd.randrange(len(t))
            q = t[i:i + length]
            if len(q) == length and HAN.fullmatch(q):
                out.append(q)                     # as written: Traditional
                out.append(normalise(q))          # and its Simplified form
                n += 1
    return out


def english_queries(docs: dict[str, str]) -> list[str]:
    rnd = random.Random(7)
    words = sorted({w for rid, t in docs.items() if rid.startswith("udhr")
                    for w in re.findall(r"[A-Za-z\u00c0-\u024f]{3,}", t)})
    return ["human", "beings", "dignity", "brotherhood", "rights", "IT", "human beings",
            "in a spirit of brotherhood", "reason and conscience", *rnd.sample(words, 60)]


def test_precision_and_recall_at_least_99_percent(corpus) -> None:
    ix, docs, norm, blanked = corpus
    tp = fp = fn = 0
    misses = []
    queries = chinese_queries(docs) + english_queries(docs)
    for q in queries:
        want = truth(norm, blanked, q)
        got = {h.record_id for h in ix.search(f'"{q}"', limit=1000).hits}
        assert ix.count(f'"{q}"') == len(got)
        tp += len(want & got)
        fp += len(got - want)
        fn += len(want - got)
        if want != got:
            misses.append((q, sorted(want - got)[:3], sorted(got - want)[:3]))
    precision = tp / (tp + fp)
    recall = tp / (tp + fn)
    assert tp > 1000
    assert precision >= 0.99 and recall >= 0.99, (precision, recall, misses[:10])


def test_traditional_and_simplified_find_the_same_records(corpus) -> None:
    ix = corpus[0]
    for trad, simp in [("檔案管理", "档案管理"), ("銷毀", "销毁"), ("權利", "权利"),
                       ("總經理辦公室", "总经理办公室"), ("關係", "关系"), ("質", "质")]:
        a = {h.record_id for h in ix.search(trad, limit=1000).hits}
        b = {h.record_id for h in ix.search(simp, limit=1000).hits}
        assert a == b and a, trad
