"""Parity: tantivy and Whoosh, fed the same text_v1 tokens, find exactly the same records,
and both agree with a grep of the normalised text -- CJK inside boolean and negated queries
too (paperless-ngx lost CJK there when it moved to tantivy: their #12860 and #14156).
"""
from __future__ import annotations

import random
import re

import pytest

from dangan.index import IndexDocument, open_index
from dangan.index.query import And, Not, Or, Phrase, Word, parse_query
from dangan.index.text_v1 import is_cjk, normalise

from search_corpus_helpers import articles, udhr_blocks


def _records() -> list[IndexDocument]:
    rnd = random.Random(15)
    out = []
    for i, t in enumerate(articles()):
        out.append(IndexDocument(
            record_id=f"art{i:03d}", content=t, title=t[:12], department=rnd.choice(["办公室", "財務部", "档案室"]),
            year=2015 + i % 10, date=f"{2015 + i % 10}-0{1 + i % 9}-1{i % 10}", secrecy=rnd.choice(
                ["public", "internal", "secret"]), tags=[rnd.choice(["合同", "制度", "報告"])],
            archival_code=f"Z109-WS·{2015 + i % 10}-Y-BGS-{i:04d}",
            metadata={"counterparty": rnd.choice(["中国饮料有限公司", "北京档案馆"])}))
    for i, t in enumerate(udhr_blocks()):
        out.append(IndexDocument(record_id=f"udhr{i:03d}", content=t, department="外事处", year=2020))
    return out


@pytest.fixture(scope="module")
def both(tmp_path_factory):
    docs = _records()
    engines = {}
    for name in ("tantivy", "whoosh"):
        ix = open_index(tmp_path_factory.mktemp(name) / "index", engine=name)
        ix.add(docs)
        engines[name] = ix
    yield engines, {d.record_id: d for d in docs}
    for ix in engines.values():
        ix.close()


def _contains(norm: str, text: str, prefix: bool = False) -> bool:
    """Grep semantics: CJK as a substring, Latin words as whole words (``word*`` a prefix)."""
    q = normalise(text).strip()
    if not q:
        return False
    parts = re.findall(r"[^\W_]+", q)
    if any(is_cjk(ch) for ch in q):
        return q.replace(" ", "") in norm.replace(" ", "") if not parts or all(
            any(is_cjk(ch) for ch in p) for p in parts) else all(p in norm for p in parts)
    pat = r"(?<![^\W_])" + r"[\W_]+".join(map(re.escape, parts)) + ("" if prefix else r"(?![^\W_])")
    return bool(re.search(pat, norm))


def _grep(node, norm: str) -> bool:
    if isinstance(node, Word):
        return _contains(norm, node.text, node.prefix)
    if isinstance(node, Phrase):
        return _contains(norm, node.text)
    if isinstance(node, And):
        return all(_grep(i, norm) for i in node.items)
    if isinstance(node, Or):
        return any(_grep(i, norm) for i in node.items)
    if isinstance(node, Not):
        return not _grep(node.item, norm)
    raise TypeError(node)


def _text(d: IndexDocument) -> str:
    return normalise("\n".join([d.title, d.content, *d.filenames, *d.metadata.values(), *d.tags]))


TEXT_QUERIES = [
    "档案", "檔案管理", "人民", "保密", "借阅", "銷毀", "的", "檔", "归档 保密", "档案 OR 銷毀",
    "档案 -保密", "-档案", "档案 NOT 借阅", "(档案 OR 借阅) -銷毀", "保密 (归档 OR -档案)",
    "NOT (档案 AND 保密)", "human", "human beings", "brotherhood -dignity", "right*", "人 -的",
    "human OR 档案", '"reason and conscience"', "档案 (human OR 人民)", "-human -档案",
]
FILTER_QUERIES = [
    "档案 dept:办公室", "dept:財務部", "档案 -dept:办公室", "year:2019..2021 档案", "year:>2022",
    "date:2016", "date:>=2020-03-01 档案", "tag:制度", "tag:报告 -档案", "secrecy:secret",
    "code:Z109-WS·2019", "title:档案", "title:第一", "meta.counterparty:中国饮料有限公司",
    "meta.counterparty:北京档案馆 借阅", "title:條 -dept:办公室",
]


@pytest.mark.parametrize("q", TEXT_QUERIES)
def test_text_queries_identical_on_both_engines_and_to_grep(both, q: str) -> None:
    engines, docs = both
    got = {name: {h.record_id for h in ix.search(q, limit=1000).hits} for name, ix in engines.items()}
    want = {rid for rid, d in docs.items() if _grep(parse_query(q).terms, _text(d))}
    assert got["tantivy"] == got["whoosh"] == want, (q, len(want))
    assert engines["tantivy"].count(q) == len(want) == engines["whoosh"].count(q)


@pytest.mark.parametrize("q", FILTER_QUERIES)
def test_filter_queries_identical_on_both_engines(both, q: str) -> None:
    engines, _ = both
    got = {name: {h.record_id for h in ix.search(q, limit=1000).hits} for name, ix in engines.items()}
    assert got["tantivy"] == got["whoosh"] and got["tantivy"], q


def test_meta_and_title_and_code_fields_mean_what_they_say(both) -> None:
    engines, docs = both
    for ix in engines.values():
        hits = {h.record_id for h in ix.search("meta.counterparty:中国饮料有限公司", limit=1000).hits}
        assert hits == {r for r, d in docs.items() if d.metadata.get("counterparty") == "中国饮料有限公司"}
        hits = {h.record_id for h in ix.search("title:档案", limit=1000).hits}
        assert hits == {r for r, d in docs.items() if "档案" in normalise(d.title)}
        hits = {h.record_id for h in ix.search("code:Z109-WS·2019", limit=1000).hits}
        assert hits == {r for r, d in docs.items() if (d.archival_code or "").startswith("Z109-WS·2019")}


def test_access_within_is_applied_inside_the_engine(both) -> None:
    engines, docs = both
    for ix in engines.values():
        res = ix.search("档案", limit=1000, within={"secrecy": ["public", "internal"]})
        assert res.total == len(res.hits) > 0
        assert all(docs[h.record_id].secrecy != "secret" for h in res.hits)
        everything = ix.count("档案")
        secret = ix.count("档案 secrecy:secret")
        assert res.total == everything - secret and secret > 0
        assert ix.count("档案", within={"secrecy": []}) == 0


def test_sorting_by_date_and_code_agree(both) -> None:
    engines, _ = both
    for sort in ("date", "code"):
        orders = {}
        for name, ix in engines.items():
            hits = ix.search("保密", sort=sort, limit=50).hits
            key = [h.date for h in hits] if sort == "date" else [h.archival_code for h in hits]
            orders[name] = key
        assert orders["tantivy"] == orders["whoosh"], sort
        assert orders["tantivy"] == sorted(orders["tantivy"], reverse=sort == "date")


# --- phrases that are one CJK run: one term of tantivy's ``grams`` field (issue 15, third pass) -----------

_RUN = re.compile(r"[\u3400-\u9fff]+")


def _run_phrases(docs: dict[str, IndexDocument]) -> list[str]:
    """Phrases cut from the corpus: substrings of one CJK run of 3 to 7 characters (3..5 are one ``grams``
    term, 6 and 7 the positional phrase), and the same lengths across punctuation (``檔案，管理`` asked as
    ``檔案管理``: no record has it inside one run unless it also occurs unbroken)."""
    rnd = random.Random(3)
    out: list[str] = []
    texts = [_text(d) for d in docs.values() if d.record_id.startswith("art")]
    for norm in rnd.sample(texts, 12):
        runs = [r for r in _RUN.findall(norm) if len(r) >= 7]
        for n in (3, 4, 5, 6, 7):
            r = rnd.choice(runs)
            k = rnd.randrange(len(r) - n + 1)
            out.append(r[k:k + n])
        joined = re.findall(r"([\u3400-\u9fff]{2,3})[，、。；：]([\u3400-\u9fff]{2,3})", norm)
        out += [a + b for a, b in joined[:2]]
    english = [t for t in (_text(d) for d in docs.values() if d.record_id.startswith("udhr"))
               if len(re.findall(r"[a-z]+", t)) >= 20]
    for norm in rnd.sample(english, min(8, len(english))):       # two words (one ``pairs`` term), three
        words = re.findall(r"[a-z]+", norm)
        for n in (2, 2, 3):
            k = rnd.randrange(len(words) - n)
            out.append(" ".join(words[k:k + n]))
        out += [f"{a} {b}" for a, b in re.findall(r"([a-z]+)[.,;:] ([a-z]+)", norm)[:1]]   # across punctuation
    return list(dict.fromkeys(out))


def test_run_phrases_and_word_pairs_find_what_the_phrase_and_grep_find(both) -> None:
    engines, docs = both
    phrases = _run_phrases(docs)
    assert len(phrases) >= 70 and any(len(p) == 5 for p in phrases) and any(len(p) >= 6 for p in phrases)
    assert sum(p.count(" ") == 1 for p in phrases) >= 10
    misses = []
    for p in phrases:
        for q in (f'"{p}"', p, f"{p} -human", f'"{p}" OR human'):
            want = {rid for rid, d in docs.items() if _grep(parse_query(q).terms, _text(d))}
            got = {name: {h.record_id for h in ix.search(q, limit=1000).hits} for name, ix in engines.items()}
            if not (got["tantivy"] == got["whoosh"] == want and engines["tantivy"].count(q) == len(want)):
                misses.append((q, len(want), len(got["tantivy"]), len(got["whoosh"])))
    assert not misses, misses[:5]


def test_a_run_phrase_or_word_pair_is_one_term_and_longer_ones_stay_phrases(both) -> None:
    from dangan.index.tantivy_index import GRAM_MAX, GRAM_MIN, Translator
    engines, _ = both
    t = Translator(engines["tantivy"]._schema)
    for text, run in (('"检索档案"', "检索档案"), ('"客戶服務部"', "客户服务部"), ("档案馆", "档案馆"),
                      ('"档案管理制度"', None), ('"PDF档案"', None), ('"借阅 档案"', None),
                      ('"Annual Report"', "annual_report"), ('"annual report budget"', None)):
        r = repr(t.query(parse_query(text)))
        whole = normalise(text.strip('"')).replace(" ", "_" if text.isascii() else "")
        assert (f'"{whole}"))' in r) is (run is not None), (text, r)          # the run itself is the term
        assert ("PhraseQuery" in r) is True                                      # the title keeps its phrase
    assert (GRAM_MIN, GRAM_MAX) == (3, 5)


def test_one_term_phrases_do_not_reach_across_a_run_or_punctuation(tmp_path) -> None:
    docs = [IndexDocument(record_id="split-run", content="客户服务，部门 annual 档案 report"),
            IndexDocument(record_id="whole", content="客戶服務部 annual. Report"),
            IndexDocument(record_id="inside", content="总客户服务部门 the annual report budget")]
    want = {'"客户服务部"': {"whole", "inside"}, '"annual report"': {"whole", "inside"}, '"服务部门"': {"inside"},
            '"户服务"': {"split-run", "whole", "inside"}, '"annual 档案"': {"split-run"}, '"report budget"': {"inside"},
            '"总客户服务部门"': {"inside"}, '"务，部"': {"split-run"}}
    for engine in ("tantivy", "whoosh"):
        with open_index(tmp_path / engine, engine=engine) as ix:
            ix.add(docs)
            got = {q: {h.record_id for h in ix.search(q, limit=10).hits} for q in want}
            assert got == want, engine
            assert {q: ix.count(q) for q in want} == {q: len(v) for q, v in want.items()}, engine
