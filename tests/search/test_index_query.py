"""The search language: parsing, errors, and SQL for the catalogue."""
from __future__ import annotations

import json
import sqlite3

import pytest

from dangan.errors import UsageError
from dangan.index.query import (And, Filter, Not, Or, Phrase, Word, filters_to_sql,
                                parse_query)
from dangan.index.text_v1 import fold


def test_words_phrases_boolean_and_implicit_and() -> None:
    q = parse_query('档案 "annual report" -draft (借阅 OR 利用) NOT 销毁')
    assert q.terms == And((Word("档案"), Phrase("annual report"), Not(Word("draft")),
                           Or((Word("借阅"), Word("利用"))), Not(Word("销毁"))))
    assert q.filters == []


def test_and_binds_tighter_than_or() -> None:
    assert parse_query("a OR b AND c").terms == Or((Word("a"), And((Word("b"), Word("c")))))


def test_chinese_quotes_and_fullwidth_parentheses() -> None:
    q = parse_query("“档案 管理” （a OR b）")
    assert q.terms == And((Phrase("档案 管理"), Or((Word("a"), Word("b")))))


def test_filters_of_every_kind() -> None:
    q = parse_query("dept:办公室 department:\"财务 部\" category:WS year:2021 year:2019..2021 "
                    "year:>=2020 date:>2024-01-01 date:2023-01-01..2023-12-31 date:2024-03 "
                    "retention:永久 secrecy:机密 mime:image/* volume:V1 tag:合同 code:Z109* "
                    "-secrecy:secret")
    assert q.terms is None
    assert q.filters == [
        Filter("department", "=", "办公室"), Filter("department", "=", "财务 部"),
        Filter("category", "=", "WS"), Filter("year", "=", 2021),
        Filter("year", "range", (2019, 2021)), Filter("year", ">=", 2020),
        Filter("date", ">", "2024-01-01"), Filter("date", "range", ("2023-01-01", "2023-12-31")),
        Filter("date", "prefix", "2024-03"), Filter("retention", "=", "permanent"),
        Filter("secrecy", "=", "confidential"), Filter("mime", "prefix", "image/"),
        Filter("volume", "=", "V1"), Filter("tag", "=", "合同"), Filter("code", "prefix", "Z109"),
        Filter("secrecy", "=", "secret", negate=True),
    ]


@pytest.mark.parametrize("bad, says", [
    ('"unclosed', "unbalanced quote"), ("(a b", "unbalanced '('"), ("a b)", "unbalanced ')'"),
    ("colour:red", "unknown field"), ("year:21", "bad year"), ("year:abcd", "bad year"),
    ("year:2022..2020", "empty range"), ("date:>2024-13-01", "bad date"), ("a OR", "expected"),
    ("(dept:x OR b)", "cannot be inside OR"), ("dept:x OR b", "cannot be inside OR"),
    ("secrecy:ultra", "unknown secrecy"), ("", "empty query"), ("   ", "empty query"),
    ("x" * 1001, "limit is 1000"), (" ".join(["a"] * 65), "more than 64 terms"),
    ("(" * 20 + "a" + ")" * 20, "deeper"), ("dept:", "needs a value"),
])
def test_malformed_or_overlong_queries_are_refused(bad: str, says: str) -> None:
    with pytest.raises(UsageError, match=says.replace("(", r"\(").replace(")", r"\)")):
        parse_query(bad)


def test_url_is_a_word_not_a_field() -> None:
    assert parse_query("http://example.org").terms == Word("http://example.org")


def test_prefix_word() -> None:
    assert parse_query("manag*").terms == Word("manag", prefix=True)


@pytest.fixture()
def db() -> sqlite3.Connection:
    conn = sqlite3.connect(":memory:")
    conn.create_function("dangan_fold", 1, fold, deterministic=True)
    conn.execute("CREATE TABLE records (id TEXT, department TEXT, category TEXT, year INT, "
                 "date TEXT, retention TEXT, secrecy TEXT, mime TEXT, volume TEXT, "
                 "archival_code TEXT, status TEXT, tags TEXT)")
    rows = [
        ("r1", "办公室", "WS", 2019, "2019-05-01", "permanent", "public", "application/pdf",
         "V1", "Z109-WS·2019-Y-BGS-0001", "active", ["合同", "x"]),
        ("r2", "財務部", "KJ", 2021, "2021-12-31", "short-term", "secret", "image/png",
         "V2", "Z109-KJ·2021-D10-CWB-0002", "active", []),
        ("r3", None, None, None, None, None, "public", None, None, None, "active", ["y"]),
    ]
    conn.executemany("INSERT INTO records VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                     [(*r[:-1], json.dumps(r[-1], ensure_ascii=False)) for r in rows])
    return conn


def ids(db: sqlite3.Connection, text: str, **kw: object) -> list[str]:
    where, params = filters_to_sql(parse_query(text).filters, table="r", **kw)
    return [r[0] for r in db.execute(f"SELECT id FROM records r WHERE {where} ORDER BY id", params)]


def test_filters_to_sql_runs_on_sqlite(db: sqlite3.Connection) -> None:
    assert ids(db, "dept:办公室") == ["r1"]
    assert ids(db, "year:2019..2021") == ["r1", "r2"]
    assert ids(db, "year:>2019") == ["r2"]
    assert ids(db, "date:<2020-01-01") == ["r1"]
    assert ids(db, "date:2021") == ["r2"]
    assert ids(db, "mime:image/*") == ["r2"]
    assert ids(db, "mime:application") == ["r1"]
    assert ids(db, "tag:合同") == ["r1"]
    assert ids(db, "-tag:合同") == ["r2", "r3"]
    assert ids(db, "secrecy:秘密") == ["r2"]
    assert ids(db, "-secrecy:secret") == ["r1", "r3"]
    assert ids(db, "retention:Y") == ["r1"]
    assert ids(db, "code:Z109-KJ*") == ["r2"]
    assert ids(db, "-dept:办公室") == ["r2", "r3"]
    assert ids(db, "volume:v1") == ["r1"]
    assert ids(db, "档案") == ["r1", "r2", "r3"]          # no filters: 1=1


def test_filters_to_sql_folds_like_the_index(db: sqlite3.Connection) -> None:
    assert ids(db, "dept:财务部") == []
    assert ids(db, "dept:财务部", fold="dangan_fold") == ["r2"]


def test_like_wildcards_are_escaped(db: sqlite3.Connection) -> None:
    assert ids(db, "code:Z109%*") == []


def test_title_code_and_meta_fields_parse() -> None:
    q = parse_query("title:档案管理 code:Z109-WS·2021 meta.counterparty:中国饮料 tag:合同 借阅")
    assert q.terms == Word("借阅")
    assert [(f.field, f.op, f.value) for f in q.filters] == [
        ("title", "contains", "档案管理"), ("code", "prefix", "Z109-WS·2021"),
        ("meta", "=", ("counterparty", "中国饮料")), ("tag", "=", "合同")]
    assert parse_query("-meta.对方单位:某公司").filters[0].negate
    with pytest.raises(UsageError, match="meta.KEY"):
        parse_query("nosuch:x")


def test_title_and_meta_filters_run_on_sqlite() -> None:
    conn = sqlite3.connect(":memory:")
    conn.create_function("dangan_fold", 1, fold, deterministic=True)
    conn.execute("CREATE TABLE records (id TEXT, title TEXT, metadata TEXT)")
    conn.executemany("INSERT INTO records VALUES (?,?,?)", [
        ("r1", "檔案管理制度", json.dumps({"counterparty": "中国饮料"}, ensure_ascii=False)),
        ("r2", "会议纪要", json.dumps({"counterparty": "别家"}, ensure_ascii=False)),
        ("r3", "100%_done", "{}")])

    def sel(text: str) -> list[str]:
        where, params = filters_to_sql(parse_query(text).filters, fold="dangan_fold")
        return [r[0] for r in conn.execute(f"SELECT id FROM records WHERE {where} ORDER BY id", params)]
    assert sel("title:档案管理") == ["r1"]
    assert sel("meta.counterparty:中國飲料") == ["r1"]
    assert sel("-meta.counterparty:中国饮料") == ["r2", "r3"]
    assert sel("title:100%") == ["r3"] and sel("title:1_0") == [] and sel("title:%_") == ["r3"]
