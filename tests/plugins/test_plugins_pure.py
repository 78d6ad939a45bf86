"""Pure policy functions: DA/T 22 formatting, retention arithmetic, precedence rules."""
from __future__ import annotations

from datetime import date

import pytest

from dangan.errors import PluginError, UsageError
from dangan.model import Record
from dangan.plugins.builtin import dat22
from dangan.core.management.disposition import add_years, due_date, trigger_start
from dangan.plugins.registry import (
    SchemeRegistry, combine_access, longest_retention, override, shortest_limit, strictest_status,
)
from dangan.plugins.types import Category, RetentionRule, Scheme


def test_archival_code_matches_the_standard_example():
    cls = dat22.archival_class("Z109", "WS", 2021, "permanent", "BGS")
    assert cls == "Z109-WS·2021-Y-BGS"
    assert dat22.archival_code(cls, 1) == "Z109-WS·2021-Y-BGS-0001"
    assert dat22.archival_class("Z109", "WS", 2021, "D30", "BGS") == "Z109-WS·2021-D30-BGS"
    assert dat22.archival_class("Z109", "WS", 2021, "short-term", "BGS") == "Z109-WS·2021-D10-BGS"


def test_archival_code_round_trips_and_grows_past_9999():
    code = dat22.archival_code("Z109-WS·2021-D10-BGS", 12345)
    assert code.endswith("-12345")
    parsed = dat22.parse_archival_code("Z109-WS·2021-Y-BGS-0042")
    assert (parsed.fonds, parsed.class_code, parsed.year, parsed.retention_code, parsed.department, parsed.piece) \
        == ("Z109", "WS", 2021, "Y", "BGS", 42)
    assert str(parsed) == "Z109-WS·2021-Y-BGS-0042"


@pytest.mark.parametrize("args", [
    ("Z-109", "WS", 2021, "Y", "BGS"), ("Z109", "WS·", 2021, "Y", "BGS"), ("Z109", "WS", 21, "Y", "BGS"),
    ("Z109", "WS", 2021, "Y", ""),
])
def test_archival_class_refuses_parts_that_break_the_code(args):
    with pytest.raises(ValueError):
        dat22.archival_class(*args)


@pytest.mark.parametrize("piece", [0, -1, True, 1.0])
def test_piece_number_must_be_positive_int(piece):
    with pytest.raises(ValueError):
        dat22.archival_code("Z109-WS·2021-Y-BGS", piece)


def test_parse_refuses_garbage():
    with pytest.raises(ValueError):
        dat22.parse_archival_code("Z109-WS-2021-Y-BGS-1")


def test_retention_arithmetic():
    """The one retention arithmetic, production's (``core/management/disposition.py``)."""
    rec = Record("r", "Z109", date="2021-03-04", year=2021, metadata={"valid_until": "2024-02-29"})
    assert due_date(rec, RetentionRule(10)).due == "2031-12-31"
    assert due_date(rec, RetentionRule(10, trigger="record-date")).due == "2031-03-04"
    assert due_date(rec, RetentionRule(1, trigger="metadata:valid_until")).due == "2025-02-28"
    assert due_date(rec, RetentionRule(None, "permanent")).due is None
    assert trigger_start(rec, "metadata:missing") == (None, "no date in metadata 'missing'")
    assert add_years(date(2024, 2, 29), 1) == date(2025, 2, 28)
    assert due_date(rec, RetentionRule(10)).due_by(date(2031, 12, 31))
    assert not due_date(rec, RetentionRule(10)).due_by(date(2031, 12, 30))
    assert not due_date(rec, RetentionRule(None, "permanent")).due_by(date(9999, 1, 1))


def test_record_date_trigger_takes_the_whole_date_field():
    """Where the dead copy cut ``record.date`` to ten characters, production reads the field whole: a date
    with a time is not a record date, and the due list says why instead of guessing."""
    rec = Record("r", "Z109", date="2021-03-04T10:00", year=2021)
    start, problem = trigger_start(rec, "record-date")
    assert start is None and "bad date for trigger record-date" in problem
    due = due_date(rec, RetentionRule(10, trigger="record-date"))
    assert due.due is None and due.problem == problem and not due.due_by(date(9999, 1, 1))
    assert trigger_start(Record("r", "Z109", year=2021), "record-date") == (None, "no record date")


def test_retention_rule_problems():
    assert RetentionRule(-5).problems()
    assert RetentionRule(0).problems()
    assert RetentionRule(5, action="sell").problems()
    assert RetentionRule(None, "destroy").problems()
    assert RetentionRule(5, trigger="whenever").problems()
    assert not RetentionRule(5, trigger="metadata:valid_until").problems()
    assert RetentionRule.from_retention("D30").retention == "long-term"
    assert RetentionRule.from_retention("永久").permanent


def test_longest_retention_wins_permanent_beats_years_and_order_never_matters():
    a = ("a", RetentionRule(10))
    b = ("b", RetentionRule(None, "permanent"))
    c = ("c", RetentionRule(30, "destroy"))
    d = ("d", RetentionRule(30, "transfer"))
    assert longest_retention([a, b, c])[0] == "b"
    assert longest_retention([c, b, a])[0] == "b"
    assert longest_retention([a, c, d])[0] == "d"       # equal years: more conservative action
    assert longest_retention([d, c, a])[0] == "d"
    with pytest.raises(PluginError):
        longest_retention([])


def test_access_any_deny_wins():
    assert combine_access([]).allowed
    assert combine_access([("a", True), ("b", None)]).allowed
    decision = combine_access([("a", True), ("b", False)])
    assert not decision and decision.denied_by == ("b",)
    assert not combine_access([("b", False), ("a", True)])


def test_shortest_limit_and_strictest_status():
    assert shortest_limit([]) is None
    assert shortest_limit([("a", 30), ("b", 3), ("c", 7)]) == 3
    assert strictest_status([]) == "active"
    assert strictest_status([("a", "active"), ("b", "pending")]) == "pending"
    assert strictest_status([("b", "pending"), ("a", "active")]) == "pending"


def test_override_non_default_beats_builtin_and_conflicts_name_both():
    defaults = frozenset({"builtin.scheme"})
    assert override("h", [("builtin.scheme", 1)], defaults) == 1
    assert override("h", [("builtin.scheme", 1), ("dept", 2)], defaults) == 2
    assert override("h", [("x", 2), ("dept", 2)], defaults) == 2
    with pytest.raises(PluginError, match="dept and x"):
        override("h", [("x", 3), ("dept", 2)], defaults)


def test_scheme_registry_withdraws_a_doubly_defined_code_from_both():
    reg = SchemeRegistry()
    assert reg.add("p1", Scheme("s1", "S1", (Category("AA", "a", "short-term"), Category("BB", "b", "Y")))) == []
    problems = reg.add("p2", Scheme("s2", "S2", (Category("AA", "a2", "long-term"),)))
    assert problems and "p1 and p2" in problems[0]
    with pytest.raises(PluginError, match="p1 and p2"):
        reg.get("AA")
    assert reg.category("BB").default_retention == "permanent"
    with pytest.raises(UsageError, match="unknown category"):
        reg.category("ZZ")
    # and the other way round gives the same result: not load order
    reg2 = SchemeRegistry()
    reg2.add("p2", Scheme("s2", "S2", (Category("AA", "a2", "long-term"),)))
    reg2.add("p1", Scheme("s1", "S1", (Category("AA", "a", "short-term"),)))
    assert reg2.conflicts == reg.conflicts


def test_category_refuses_bad_retention_and_secrecy():
    with pytest.raises(UsageError):
        Category("AA", "a", "D-5")
    with pytest.raises(UsageError):
        Category("AA", "a", "Y", "very secret")
    with pytest.raises(UsageError):
        Category("A A", "a", "Y")
