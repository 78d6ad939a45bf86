"""The search language, as plain data: shared by ``dangan search`` and ``dangan ls``.

Pure Python, no search engine imported.  ``parse_query`` turns text such as::

    档案管理 "annual report" -draft (借阅 OR 利用) dept:办公室 year:2019..2021 date:>=2024-01-01

into a :class:`Query`: ``terms`` (an AST of :class:`Word`, :class:`Phrase`,
:class:`And`, :class:`Or`, :class:`Not`; ``None`` when the query is filters
only) and ``filters`` (a flat list of :class:`Filter`, all of which must
hold).  Filters may be negated (``-secrecy:secret``) but not put inside
``OR`` or parentheses.  ``filters_to_sql`` renders the filters for the
catalogue.
"""
from __future__ import annotations

import datetime as _dt
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Union

from ..errors import UsageError
from ..model import normalise_retention, normalise_secrecy

__all__ = [
    "Word", "Phrase", "And", "Or", "Not", "Filter", "Query", "Node",
    "parse_query", "filters_to_sql", "option_filters", "FIELDS", "CATALOGUE_FIELDS", "MAX_QUERY_CHARS",
    "MAX_QUERY_TERMS",
]

MAX_QUERY_CHARS = 1000
MAX_QUERY_TERMS = 64
MAX_DEPTH = 16

#: query field name -> canonical filter field
FIELDS = {
    "dept": "department", "department": "department", "category": "category",
    "year": "year", "date": "date", "retention": "retention", "secrecy": "secrecy",
    "mime": "mime", "volume": "volume", "tag": "tag", "code": "code", "status": "status",
    "title": "title", "format": "puid", "puid": "puid",
}
#: ``meta.KEY:VALUE`` -- free metadata (``meta.counterparty:中国饮料``): Filter("meta", "=", (KEY, VALUE))
META_PREFIX = "meta."
#: Filters the catalogue answers (not the index): ``format:`` looks at the PUIDs of a record's current files.
CATALOGUE_FIELDS = frozenset({"puid"})
_OPS = (">=", "<=", ">", "<")
_QUOTES = {'"': '"', "\u201c": "\u201d", "\u300c": "\u300d"}  # "", “”, 「」


@dataclass(frozen=True)
class Word:
    text: str
    prefix: bool = False          # ``word*``


@dataclass(frozen=True)
class Phrase:
    text: str


@dataclass(frozen=True)
class And:
    items: tuple["Node", ...]


@dataclass(frozen=True)
class Or:
    items: tuple["Node", ...]


@dataclass(frozen=True)
class Not:
    item: "Node"


Node = Union[Word, Phrase, And, Or, Not]


@dataclass(frozen=True)
class Filter:
    """``field`` is canonical (see FIELDS); ``op`` one of = prefix contains > >= < <= range.

    ``title`` is ``contains`` (words and phrases in the title, as the index
    matches them); ``meta`` has the value (KEY, VALUE).

    ``value`` is a str, an int (year) or, for ``range``, a (low, high) pair.
    """

    field: str
    op: str
    value: object
    negate: bool = False


@dataclass
class Query:
    terms: Node | None
    filters: list[Filter] = field(default_factory=list)
    text: str = ""

    def positive_texts(self) -> list[str]:
        """Words and phrases that a hit may contain (not under NOT), for snippets."""
        out: list[str] = []

        def walk(n: Node | None) -> None:
            if isinstance(n, (Word, Phrase)):
                out.append(n.text)
            elif isinstance(n, (And, Or)):
                for i in n.items:
                    walk(i)

        walk(self.terms)
        return out


# --- lexer -----------------------------------------------------------------

_TOKEN_END = set(" \t\r\n()\u3000")


def _lex(text: str) -> list[tuple[str, str]]:
    """Tokens as (kind, value): ( ) OP NEG WORD PHRASE FIELD (value 'name:rest')."""
    out: list[tuple[str, str]] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c in " \t\r\n\u3000":
            i += 1
        elif c in "()":
            out.append((c, c))
            i += 1
        elif c in "-+" and i + 1 < n and text[i + 1] not in _TOKEN_END:
            if c == "-":
                out.append(("NEG", c))
            i += 1
        elif c in _QUOTES:
            j = text.find(_QUOTES[c], i + 1)
            if j < 0:
                raise UsageError(f"unbalanced quote {c} in query at character {i + 1}")
            out.append(("PHRASE", text[i + 1:j]))
            i = j + 1
        else:
            j = i
            while j < n and text[j] not in _TOKEN_END and text[j] not in _QUOTES:
                j += 1
            word = text[i:j]
            m = re.match(r"([A-Za-z]+(?:\.[^:\s]+)?):(.*)$", word, re.S)
            if m and m.group(2).startswith("//"):
                m = None  # a URL, not a field
            if m and not m.group(2) and j < n and text[j] in _QUOTES:
                k = text.find(_QUOTES[text[j]], j + 1)
                if k < 0:
                    raise UsageError(f"unbalanced quote {text[j]} in query at character {j + 1}")
                word, j = word + text[j + 1:k], k + 1
            if m:
                out.append(("FIELD", word))
            elif word in ("AND", "OR", "NOT"):
                out.append(("OP", word))
            else:
                out.append(("WORD", word))
            i = j
    return out


# --- parser ----------------------------------------------------------------

@dataclass(frozen=True)
class _FilterNode:
    filter: Filter


class _Parser:
    def __init__(self, toks: list[tuple[str, str]]) -> None:
        self.toks, self.i, self.depth, self.terms = toks, 0, 0, 0

    def peek(self) -> tuple[str, str] | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def parse(self):
        node = self.or_expr()
        if self.peek() is not None:
            raise UsageError("unbalanced ')' in query")
        return node

    def or_expr(self):
        items = [self.and_expr()]
        while self.peek() == ("OP", "OR"):
            self.i += 1
            items.append(self.and_expr())
        return items[0] if len(items) == 1 else Or(tuple(items))

    def and_expr(self):
        items = [self.unary()]
        while True:
            t = self.peek()
            if t is None or t[0] == ")" or t == ("OP", "OR"):
                break
            if t == ("OP", "AND"):
                self.i += 1
            items.append(self.unary())
        return items[0] if len(items) == 1 else And(tuple(items))

    def unary(self):
        t = self.peek()
        if t is not None and (t[0] == "NEG" or t == ("OP", "NOT")):
            self.i += 1
            inner = self.unary()
            if isinstance(inner, _FilterNode):
                f = inner.filter
                return _FilterNode(Filter(f.field, f.op, f.value, not f.negate))
            return Not(inner)
        return self.atom()

    def atom(self):
        t = self.peek()
        if t is None:
            raise UsageError("query ends where a word, phrase or filter was expected")
        self.i += 1
        kind, value = t
        if kind == "(":
            self.depth += 1
            if self.depth > MAX_DEPTH:
                raise UsageError(f"query nests parentheses deeper than {MAX_DEPTH}")
            node = self.or_expr()
            if self.peek() != (")", ")"):
                raise UsageError("unbalanced '(' in query")
            self.i += 1
            self.depth -= 1
            return node
        if kind in (")", "OP"):
            raise UsageError(f"unexpected {value!r} in query")
        self.count()
        if kind == "PHRASE":
            return Phrase(value)
        if kind == "FIELD":
            name, _, raw = value.partition(":")
            return _FilterNode(_make_filter(name, raw))
        if value.endswith("*") and len(value) > 1:
            return Word(value.rstrip("*"), prefix=True)
        return Word(value)

    def count(self) -> None:
        self.terms += 1
        if self.terms > MAX_QUERY_TERMS:
            raise UsageError(f"query has more than {MAX_QUERY_TERMS} terms; narrow it down")


def parse_query(text: str) -> Query:
    """Parse the search language; UsageError on anything malformed or too long."""
    if len(text) > MAX_QUERY_CHARS:
        raise UsageError(f"query is {len(text)} characters long; the limit is {MAX_QUERY_CHARS}")
    text = unicodedata.normalize("NFKC", text)
    toks = _lex(text)
    if not toks:
        raise UsageError("empty query: give words, \"phrases\" or field filters such as dept:办公室")
    root = _Parser(toks).parse()
    filters: list[Filter] = []
    items = list(root.items) if isinstance(root, And) else [root]
    rest = []
    for it in items:
        if isinstance(it, _FilterNode):
            filters.append(it.filter)
        else:
            _check_no_filters(it)
            rest.append(it)
    terms = None if not rest else rest[0] if len(rest) == 1 else And(tuple(rest))
    return Query(terms=terms, filters=filters, text=text)


def _check_no_filters(node) -> None:
    if isinstance(node, _FilterNode):
        raise UsageError(
            f"field filter {node.filter.field}: cannot be inside OR or parentheses; "
            "filters always apply to the whole query"
        )
    if isinstance(node, (And, Or)):
        for i in node.items:
            _check_no_filters(i)
    elif isinstance(node, Not):
        _check_no_filters(node.item)


# --- filter values ---------------------------------------------------------

def _year(s: str) -> int:
    if not re.fullmatch(r"\d{4}", s):
        raise UsageError(f"bad year {s!r}: use four digits, e.g. year:2021 or year:2019..2021")
    return int(s)


def _date(s: str) -> str:
    try:
        return _dt.date.fromisoformat(s).isoformat()
    except ValueError:
        raise UsageError(f"bad date {s!r}: use yyyy-mm-dd, e.g. date:>2024-01-01") from None


def _make_filter(name: str, raw: str) -> Filter:
    key = name.lower()
    if key.startswith(META_PREFIX) and len(key) > len(META_PREFIX):
        if not raw.strip():
            raise UsageError(f"field {name}: needs a value")
        return Filter("meta", "=", (name[len(META_PREFIX):], raw.strip()))
    if key not in FIELDS:
        raise UsageError(f"unknown field {name}: in query; known fields: "
                         f"{', '.join(sorted(FIELDS))}, meta.KEY")
    fld = FIELDS[key]
    raw = raw.strip()
    if not raw:
        raise UsageError(f"field {name}: needs a value")
    if fld in ("year", "date"):
        conv = _year if fld == "year" else _date
        for op in _OPS:
            if raw.startswith(op):
                return Filter(fld, op, conv(raw[len(op):]))
        if ".." in raw:
            lo, _, hi = raw.partition("..")
            if not lo and not hi:
                raise UsageError(f"field {name}: a range needs at least one end")
            if not hi:
                return Filter(fld, ">=", conv(lo))
            if not lo:
                return Filter(fld, "<=", conv(hi))
            a, b = conv(lo), conv(hi)
            if a > b:
                raise UsageError(f"empty range {raw!r}: the first end is after the second")
            return Filter(fld, "range", (a, b))
        if fld == "date" and re.fullmatch(r"\d{4}(-\d{2})?", raw):
            return Filter(fld, "prefix", raw)
        return Filter(fld, "=", conv(raw))
    if fld == "secrecy":
        return Filter(fld, "=", normalise_secrecy(raw))
    if fld == "retention":
        return Filter(fld, "=", normalise_retention(raw))
    if fld == "puid":                       # format:fmt/95, format:x-fmt/111, format:PDF/A (in the name), fmt/*
        return Filter(fld, "prefix", raw[:-1]) if raw.endswith("*") and len(raw) > 1 else Filter(fld, "=", raw)
    if fld == "mime":
        raw = raw.lower()
        if raw.endswith("/*"):
            return Filter(fld, "prefix", raw[:-1])
        if "/" not in raw:
            return Filter(fld, "prefix", raw + "/")
    if fld == "title":
        return Filter(fld, "contains", raw)
    if fld == "code":  # an archival-code prefix: code:Z109-WS·2021 is that fonds, class and year
        return Filter(fld, "prefix", raw.rstrip("*") or raw)
    if raw.endswith("*") and len(raw) > 1:
        return Filter(fld, "prefix", raw.rstrip("*"))
    return Filter(fld, "=", raw)


def option_filters(**values: object) -> list[Filter]:
    """Filters from command options (``--dept X`` is ``dept:X``); None values are left out."""
    out = []
    for name, value in values.items():
        if value is not None:
            f = _make_filter(name, str(value))
            out.append(Filter(f.field, "=", f.value) if f.op == "prefix" and f.field != "code" else f)
    return out


# --- SQL -------------------------------------------------------------------

_SQL_COLUMNS = {
    "department": "department", "category": "category", "year": "year", "date": "date",
    "retention": "retention", "secrecy": "secrecy", "mime": "mime", "volume": "volume",
    "code": "archival_code", "status": "status",
}


def _like(prefix: str) -> str:
    return prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def filters_to_sql(filters: list[Filter], *, table: str = "", fold: str | None = None, folded: bool = False,
                   dialect: str = "sqlite") -> tuple[str, list[object]]:
    """Render filters as an SQL condition (never empty: ``1=1`` for none) and its params.

    Columns: department category year date retention secrecy mime volume
    archival_code status title, ``tags`` holding a JSON list and ``metadata`` a JSON object.  ``table`` prefixes
    column names (``"r"`` -> ``r.department``).  Text is compared exactly,
    ignoring ASCII case.  To compare as the index does (NFKC, case, T->S): ``folded=True`` compares the
    folded columns (``title_fold`` …, ``tags_fold``, ``metadata_fold``: the catalogue stores them, see
    ``core/catalogue/folded.py``) with the value folded; or pass ``fold="dangan_fold"`` after registering
    ``conn.create_function("dangan_fold", 1, text_v1.fold,
    deterministic=True)``.  ``dialect="postgresql"`` renders for PostgreSQL (no ``COLLATE NOCASE``, no
    ``json_each``).
    """
    col = (lambda c: f"{table}.{c}") if table else (lambda c: c)
    parts: list[str] = []
    params: list[object] = []
    pg = dialect == "postgresql"
    normalising = bool(fold) or folded

    def text_expr(c: str) -> str:
        if folded:
            return f"lower({c})"          # a column without a folded twin (none of the fields below)
        return f"{fold}({c})" if fold else c

    def fcol(name: str) -> str:           # the column compared: its folded twin when folding
        return col(f"{name}_fold") if folded else text_expr(col(name))

    def nocase_eq(expr: str) -> str:      # folded values are lower case already
        if normalising and folded:
            return f"{expr} = ?"
        return f"lower({expr}) = lower(?)" if pg else f"{expr} = ? COLLATE NOCASE"

    def tag_values() -> tuple[str, str]:  # (FROM …, the value's expression)
        src = col("tags_fold") if folded else col("tags")
        if pg:
            return f"jsonb_array_elements_text({src}::jsonb) AS t(value)", "t.value"
        return f"json_each({src})", ("json_each.value" if folded else text_expr("json_each.value"))

    def text_param(v: object) -> object:
        if normalising and isinstance(v, str):
            from .text_v1 import normalise
            return normalise(v)
        return v

    for f in filters:
        if f.field == "puid":
            # the PUID of a current original or attachment, or words of its format name
            puid_eq = "lower(f.puid) = lower(?)" if pg else "f.puid = ? COLLATE NOCASE"
            match = "f.puid LIKE ? ESCAPE '\\'" if f.op == "prefix" else \
                f"({puid_eq} OR f.format_name LIKE ? ESCAPE '\\')"
            cond = (f"{col('id')} IN (SELECT f.record_id FROM files f JOIN records r ON r.id = f.record_id AND "
                    f"r.version = f.version WHERE f.role != 'derivative' AND {match})")
            params.extend([_like(str(f.value))] if f.op == "prefix" else [f.value, "%" + _like(str(f.value))])
            parts.append(f"NOT ({cond})" if f.negate else cond)
            continue
        if f.field in ("title", "meta"):
            if f.field == "title":
                expr, value = fcol("title"), str(f.value)
            else:
                name, value = f.value  # type: ignore[misc]
                source = col("metadata_fold") if folded else col("metadata")
                expr = f"json_extract({source}, ?)" if folded else text_expr(f"json_extract({source}, ?)")
                params.append("$." + '"' + str(name).replace('"', '') + '"')
            if f.field == "title":
                cond = f"{expr} LIKE ? ESCAPE '\\'"
                params.append("%" + _like(str(text_param(value))))
            else:
                cond = nocase_eq(expr)
                params.append(text_param(value))
            false = "FALSE" if pg else "0"
            parts.append(f"NOT COALESCE(({cond}), {false})" if f.negate else cond)   # no such key: not equal
            continue
        if f.field == "tag":
            source, value_expr = tag_values()
            if f.op == "prefix":
                cond = f"EXISTS (SELECT 1 FROM {source} WHERE {value_expr} LIKE ? ESCAPE '\\')"
                params.append(_like(str(text_param(f.value))))
            else:
                cond = f"EXISTS (SELECT 1 FROM {source} WHERE {nocase_eq(value_expr)})"
                params.append(text_param(f.value))
        else:
            name = _SQL_COLUMNS[f.field]
            c = col(name)
            if f.op == "range":
                cond = f"{c} BETWEEN ? AND ?"
                params.extend(f.value)  # type: ignore[arg-type]
            elif f.op in _OPS:
                cond = f"{c} {f.op} ?"
                params.append(f.value)
            elif f.op == "prefix":
                cond = f"{fcol(name)} LIKE ? ESCAPE '\\'"
                params.append(_like(str(text_param(f.value))))
            elif f.field == "year":
                cond = f"{c} = ?"
                params.append(f.value)
            else:
                cond = nocase_eq(fcol(name))
                params.append(text_param(f.value))
            if f.negate:
                cond = f"({c} IS NULL OR NOT ({cond}))"
                parts.append(cond)
                continue
        parts.append(f"NOT ({cond})" if f.negate else cond)
    return (" AND ".join(parts) if parts else "1=1"), params
