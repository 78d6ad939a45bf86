"""What plugins contributed, merged: the scheme and report registries, and
the pure precedence rules core applies when plugins disagree.

Every function here is pure and tested on its own (tests/plugins/test_plugins_pure.py).
"""
from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from ..errors import PluginError, UsageError
from ..model import Record
from .types import (
    DISPOSITIONS, INITIAL_STATUSES, AccessDecision, Category, FilingDecision, RegisteredCategory,
    ReportSpec, RetentionDecision, RetentionRule, Scheme, how_to_give,
)


@dataclass
class SchemeRegistry:
    """All categories from all plugins.  A code defined by two plugins is in
    ``conflicts`` (withdrawn from both), never resolved by load order."""

    categories: dict[str, RegisteredCategory] = field(default_factory=dict)
    conflicts: dict[str, tuple[str, ...]] = field(default_factory=dict)
    schemes: list[tuple[str, Scheme]] = field(default_factory=list)

    def add(self, plugin: str, scheme: Scheme) -> list[str]:
        """Add a scheme; returns conflict messages (empty when all codes are new)."""
        if not isinstance(scheme, Scheme):
            raise PluginError(f"plugin {plugin} registered {scheme!r}, expected a Scheme")
        self.schemes.append((plugin, scheme))
        problems = []
        for cat in scheme.categories:
            if not isinstance(cat, Category):
                raise PluginError(f"plugin {plugin} scheme {scheme.name}: {cat!r} is not a Category")
            code = cat.code
            if code in self.conflicts:
                self.conflicts[code] += (plugin,)
            elif code in self.categories:
                first = self.categories.pop(code).plugin
                self.conflicts[code] = tuple(sorted({first, plugin}))
            else:
                self.categories[code] = RegisteredCategory(cat, scheme.name, plugin)
                continue
            problems.append(conflict_message(code, self.conflicts[code]))
        return problems

    def get(self, code: str | None) -> Category | None:
        """The category, None when unknown; PluginError when conflicted."""
        if code is None:
            return None
        if code in self.conflicts:
            raise PluginError(conflict_message(code, self.conflicts[code]))
        reg = self.categories.get(code)
        return reg.category if reg else None

    def category(self, code: str) -> Category:
        cat = self.get(code)
        if cat is None:
            known = ", ".join(sorted(self.categories)) or "none"
            raise UsageError(f"unknown category {code!r} (known: {known})")
        return cat

    def owner(self, code: str) -> str | None:
        reg = self.categories.get(code)
        return reg.plugin if reg else None

    def __iter__(self) -> Iterator[RegisteredCategory]:
        return iter(sorted(self.categories.values(), key=lambda r: r.category.code))

    def __len__(self) -> int:
        return len(self.categories)

    def rows(self) -> list[dict[str, str]]:
        """One row per category, for ``dangan schemes``."""
        return [{
            "code": r.category.code, "name": r.category.name, "class": r.category.class_code,
            "retention": r.category.default_retention, "secrecy": r.category.default_secrecy,
            "department": r.category.department or "",
            "required": ", ".join([*r.category.required_fields,
                                   *(f"{f} ({when})" for f, when in r.category.conditional_fields)]),
            "fields": [{"field": f, "required": "always", "give": how_to_give(f)} for f in r.category.required_fields]
            + [{"field": f, "required": when, "give": how_to_give(f)} for f, when in r.category.conditional_fields],
            "description": r.category.description, "scheme": r.scheme, "plugin": r.plugin,
        } for r in self]


def conflict_message(code: str, plugins: Sequence[str]) -> str:
    return (f"category code {code!r} is defined by plugins {' and '.join(plugins)}; "
            f"it is withdrawn until one of them is disabled or renames it")


@dataclass
class ReportRegistry:
    reports: dict[str, tuple[str, ReportSpec]] = field(default_factory=dict)
    conflicts: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def add(self, plugin: str, spec: ReportSpec) -> str | None:
        if not isinstance(spec, ReportSpec):
            raise PluginError(f"plugin {plugin} registered {spec!r}, expected a ReportSpec")
        if spec.name in self.conflicts:
            self.conflicts[spec.name] += (plugin,)
        elif spec.name in self.reports:
            first = self.reports.pop(spec.name)[0]
            self.conflicts[spec.name] = tuple(sorted({first, plugin}))
        else:
            self.reports[spec.name] = (plugin, spec)
            return None
        return f"report {spec.name!r} is defined by plugins {' and '.join(self.conflicts[spec.name])}; withdrawn"


@dataclass(frozen=True)
class Classified:
    """A record with its category defaults and plugin decisions applied, ready
    for validation and then for core to allocate the piece number."""

    record: Record
    category: Category
    retention: RetentionDecision
    filing: FilingDecision
    archival_class: str


# ------------------------------------------------------------------ precedence

def longest_retention(rules: Sequence[tuple[str, RetentionRule]]) -> tuple[str, RetentionRule]:
    """Precedence: the longest period wins; permanent beats any years.

    On equal periods the more conservative action wins
    (permanent > transfer > review > destroy); on a full tie, the plugin name
    sorting first.  Never load order.
    """
    if not rules:
        raise PluginError("no plugin gave a retention rule (is builtin.scheme disabled?)")

    def key(item: tuple[str, RetentionRule]) -> tuple[int, int, str]:
        name, rule = item
        years = rule.years if rule.years is not None else 10**9
        return (-years, -DISPOSITIONS.index(rule.action), name)

    return sorted(rules, key=key)[0]


def combine_access(votes: Sequence[tuple[str, bool | None]]) -> AccessDecision:
    """Precedence: any deny wins; nobody denying means allowed (core's own
    clearance checks still apply)."""
    denied = tuple(sorted(n for n, v in votes if v is False))
    allowed = tuple(sorted(n for n, v in votes if v is True))
    return AccessDecision(not denied, denied, allowed)


def shortest_limit(limits: Sequence[tuple[str, int]]) -> int | None:
    """Precedence: the shortest lending limit wins; None when nobody limits."""
    return min((d for _, d in limits), default=None)


def strictest_status(statuses: Sequence[tuple[str, str]]) -> str:
    """Precedence: the most restrictive initial status wins (pending > active)."""
    return max((s for _, s in statuses), key=INITIAL_STATUSES.index, default="active")


def override(hook: str, answers: Sequence[tuple[str, object]], defaults: frozenset[str]) -> object | None:
    """Precedence for single-answer hooks (archival code, filing, volume order):
    a non-default plugin's answer overrides the builtin's; two non-default
    plugins giving different answers is a PluginError naming both."""
    custom = [(n, a) for n, a in answers if n not in defaults]
    if custom:
        distinct = {repr(a) for _, a in custom}
        if len(distinct) > 1:
            names = " and ".join(sorted(n for n, _ in custom))
            raise PluginError(f"plugins {names} disagree in {hook}; disable one or narrow its categories")
        return custom[0][1]
    return answers[0][1] if answers else None
