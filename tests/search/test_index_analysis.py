"""Analysis v1: normalisation, bigram tokens with real positions."""
from __future__ import annotations

import pickle

from dangan.index import analysis_v1 as a
from dangan.index.text_v1 import normalise, normalise_with_map, query_tokens, split_trailing


def toks(text: str) -> list[tuple[str, int]]:
    return [(t.text, t.pos) for t in a.BigramTokenizer()(text, positions=True)]


def test_bigrams_have_consecutive_positions() -> None:
    got = toks("档案管理制度")
    assert got == [("档案", 0), ("案管", 1), ("管理", 2), ("理制", 3), ("制度", 4), ("度", 5)]


def test_positions_run_on_across_words_and_runs() -> None:
    got = toks("使用PDF格式, annual report 2021年")
    assert [t for t, _ in got] == ["使用", "用", "pdf", "格式", "式", "annual", "report", "2021", "年"]
    assert [p for _, p in got] == list(range(len(got)))


def test_start_pos_offsets_positions() -> None:
    got = [(t.text, t.pos) for t in a.BigramTokenizer()("档案", positions=True, start_pos=10)]
    assert got == [("档案", 10), ("案", 11)]


def test_nfkc_full_width_letters_and_digits() -> None:
    assert normalise("ＰＤＦ２０２１") == "pdf2021"
    assert [t for t, _ in toks("ＡＢＣ　１２３")] == ["abc", "123"]


def test_traditional_to_simplified_both_ways_meet() -> None:
    assert normalise("檔案管理") == normalise("档案管理") == "档案管理"
    assert normalise("總經理辦公室") == "总经理办公室"
    # per character: 乾 always maps the same way, whatever its neighbours
    assert normalise("乾坤")[0] == normalise("乾")


def test_mixed_chinese_english_lowercase_no_stemming() -> None:
    assert [t for t, _ in toks("Records檔案Management")] == ["records", "档案", "案", "management"]


def test_normalise_with_map_keeps_offsets() -> None:
    text = "第①條 ＡＢ 檔案"
    norm, where = normalise_with_map(text)
    assert norm == "第1条 ab 档案"
    i = norm.index("档案")
    assert (where[i] if where else i) == text.index("檔案")


def test_query_tokens_drop_trailing_unigram_of_a_run() -> None:
    assert query_tokens("档案管理") == ["档案", "案管", "管理"]
    assert query_tokens("档") == ["档"]
    assert query_tokens("在PDF") == ["在", "pdf"]
    assert split_trailing(query_tokens("PDF格")) == (["pdf"], "格")


def test_unigram_field_distinct_cjk_chars() -> None:
    got = [t.text for t in a.UnigramTokenizer()("檔案, 档案 abc 的的")]
    assert sorted(got) == sorted(["档", "案", "的"])


def test_analyzers_pickle_by_module_name() -> None:
    blob = pickle.dumps(a.BigramTokenizer())
    assert b"dangan.index.analysis_v1" in blob
    assert pickle.loads(blob) == a.BigramTokenizer()


def test_import_is_cheap_and_lazy() -> None:
    import subprocess
    import sys

    code = ("import sys, dangan.index, dangan.index.query; "
            "assert 'whoosh' not in sys.modules and 'opencc' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_token_string_and_term_positions_are_the_tokens() -> None:
    """What tantivy is fed (``token_string``) is exactly v1's tokens, in order, one per position."""
    import random

    from dangan.index.text_v1 import term_positions, token_string, tokens
    from search_corpus_helpers import articles, udhr_blocks
    texts = ["", "档", "档案管理制度", "PDF格式 and 2021年 年度报告！ ＡＢＣ１２３ x_y", "  spaces\tand\nlines  "]
    texts += random.Random(3).sample(articles(), 20) + random.Random(4).sample(udhr_blocks(), 20)
    for text in texts:
        norm = normalise(text)
        toks = [t for t, _, _ in tokens(norm)]
        assert token_string(norm).split(" ") == toks if toks else token_string(norm) == ""
        assert not any(" " in t or "\t" in t for t in toks)
        inverted, n = term_positions(norm)
        assert n == len(toks) and all(toks[p] == t for t, ps in inverted.items() for p in ps)
