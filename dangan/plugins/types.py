"""Plugin-facing data types, the context protocols core implements, and the
pure precedence rules core applies when plugins disagree.

Plugins build and return these types; core consumes them through the typed
facade in :mod:`dangan.plugins.manager`.  Nothing here imports ``dangan.core``.
"""
from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Protocol, runtime_checkable

from ..errors import PluginError, UsageError
from .access_types import AccessContext as AccessContext, Actor as Actor
from ..model import Record, normalise_retention, normalise_secrecy, retention_code, retention_years

#: Actions an access hook is asked about.  ``view`` = see the record in listings
#: and search results; ``read`` = open its content.
ACTIONS: tuple[str, ...] = ("view", "read", "lend", "export", "copy", "edit", "destroy", "approve")
#: Record statuses a plugin may ask for at ingest, least to most restrictive.
INITIAL_STATUSES: tuple[str, ...] = ("active", "pending")
#: Disposition actions at the end of retention, least to most conservative.
DISPOSITIONS: tuple[str, ...] = ("destroy", "review", "transfer", "permanent")
#: When a retention period starts counting.
TRIGGERS: tuple[str, ...] = ("end-of-year", "record-date")   # or "metadata:<key>"


# ----------------------------------------------------------------- schemes

@dataclass(frozen=True)
class Category:
    """A class of records in a file plan (归档范围 item).

    ``code`` is unique across all plugins (e.g. ``WS-HY``); ``class_code`` is
    the DA/T 22 门类代码 used in the archival code (e.g. ``WS``); it defaults
    to ``code``.  ``required_fields`` are keys of ``Record.metadata`` that
    must be present and non-empty.
    """

    code: str
    name: str
    default_retention: str
    default_secrecy: str = "public"
    required_fields: tuple[str, ...] = ()
    department: str | None = None
    class_code: str = ""
    description: str = ""
    #: ``(field, when)``: metadata required only in some cases (checked by the plugin's validate hook),
    #: listed by ``dangan schemes`` beside ``required_fields``.
    conditional_fields: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        if not self.code or any(c.isspace() for c in self.code):
            raise UsageError(f"category code {self.code!r} must be a non-empty word")
        object.__setattr__(self, "default_retention", normalise_retention(self.default_retention))
        object.__setattr__(self, "default_secrecy", normalise_secrecy(self.default_secrecy))
        object.__setattr__(self, "required_fields", tuple(self.required_fields))
        if not self.class_code:
            object.__setattr__(self, "class_code", self.code)


@dataclass(frozen=True)
class Scheme:
    """A classification scheme (file plan): a named list of categories."""

    name: str
    title: str
    categories: tuple[Category, ...]
    department: str | None = None


@dataclass(frozen=True)
class RegisteredCategory:
    category: Category
    scheme: str
    plugin: str


# --------------------------------------------------------------- retention

@dataclass(frozen=True)
class RetentionRule:
    """How long a record is kept and what happens then.

    ``years`` is None for permanent.  ``trigger`` is ``end-of-year`` (count
    from 31 December of the record's year), ``record-date`` (from the record
    date) or ``metadata:<key>`` (from an ISO date in ``record.metadata[key]``).
    """

    years: int | None
    action: str = "destroy"
    trigger: str = "end-of-year"
    reason: str = ""

    @classmethod
    def from_retention(cls, retention: str, reason: str = "") -> "RetentionRule":
        """A rule from a retention term or code (``permanent``, ``D30``...)."""
        years = retention_years(retention)
        return cls(years=years, action="permanent" if years is None else "review", reason=reason)

    @property
    def permanent(self) -> bool:
        return self.years is None

    @property
    def retention(self) -> str:
        """Canonical retention term or ``D<n>`` code for the catalogue."""
        if self.years is None:
            return "permanent"
        return normalise_retention(f"D{self.years}")

    @property
    def code(self) -> str:
        return retention_code(self.retention)

    def problems(self) -> list[str]:
        """What is wrong with this rule (empty when well-formed)."""
        out = []
        if self.years is not None and (not isinstance(self.years, int) or self.years <= 0):
            out.append(f"retention period must be a positive number of years, got {self.years!r}")
        if self.action not in DISPOSITIONS:
            out.append(f"unknown disposition action {self.action!r} (use {', '.join(DISPOSITIONS)})")
        if self.years is None and self.action != "permanent":
            out.append("a permanent rule must have action 'permanent'")
        if self.years is not None and self.action == "permanent":
            out.append("action 'permanent' needs years=None")
        if self.trigger not in TRIGGERS and not self.trigger.startswith("metadata:"):
            out.append(f"unknown trigger {self.trigger!r}")
        return out


@dataclass(frozen=True)
class RetentionDecision:
    """The rule that won, which plugin gave it, and every rule considered."""

    rule: RetentionRule
    plugin: str
    considered: tuple[tuple[str, RetentionRule], ...] = ()

    @property
    def retention(self) -> str:
        return self.rule.retention


# --------------------------------------------------------------- validation

@dataclass(frozen=True)
class Issue:
    """One validation finding.  ``level`` is ``error`` (blocks) or ``warning``."""

    message: str
    level: str = "error"
    field: str | None = None
    plugin: str = ""

    def __str__(self) -> str:
        where = f" [{self.field}]" if self.field else ""
        return f"{self.plugin}: {self.message}{where}" if self.plugin else self.message + where


def how_to_give(field: str) -> str:
    """The command-line words that supply a metadata field: ``--meta valid_until=YYYY-MM-DD``."""
    if field == "secrecy":
        return "--secrecy LEVEL (公开 内部 秘密 机密 绝密)"
    if "date" in field or field.endswith(("_until", "_from", "_on")):
        return f"--meta {field}=YYYY-MM-DD"
    return f"--meta {field}=VALUE"


def error(message: str, field: str | None = None) -> Issue:
    return Issue(message, "error", field)


def warning(message: str, field: str | None = None) -> Issue:
    return Issue(message, "warning", field)


@dataclass(frozen=True)
class ValidationOutcome:
    """All findings; any error blocks archiving (precedence: errors win)."""

    errors: tuple[Issue, ...] = ()
    warnings: tuple[Issue, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.errors

    def raise_if_blocked(self, what: str = "record") -> None:
        from ..errors import ValidationFailed
        if self.errors:
            raise ValidationFailed(f"{what} refused: " + "; ".join(str(e) for e in self.errors))


# --------------------------------------------------------------- filing

@dataclass(frozen=True)
class FilingDecision:
    """Which year a record is filed under and which volume (案卷) it joins.

    ``volume_key`` groups records into one volume; core maps it to a volume
    id.  ``volume_secrecy`` set to ``top-secret`` asks for a volume of its own.
    """

    year: int
    volume_key: str
    volume_secrecy: str | None = None
    reason: str = ""


# --------------------------------------------------------------- alerts

@dataclass(frozen=True)
class Alert:
    """A deadline a person must meet, raised after archiving; core stores it,
    runs the configured notification command, and lists it in ``dangan alerts``
    until acknowledged.  ``id`` is stable for (record, kind), so re-raising is
    idempotent.  ``recipient`` is a role or user name.
    """

    id: str
    record_id: str
    kind: str
    message: str
    due_at: datetime
    recipient: str
    plugin: str = ""

    @staticmethod
    def make_id(record_id: str, kind: str) -> str:
        return hashlib.sha256(f"{record_id}\0{kind}".encode()).hexdigest()[:16]

    @classmethod
    def new(cls, record_id: str, kind: str, message: str, due_at: datetime, recipient: str) -> "Alert":
        return cls(cls.make_id(record_id, kind), record_id, kind, message, due_at, recipient)


# --------------------------------------------------------------- access

# ``Actor`` and ``AccessContext``: defined in ``access_types`` (small: every command builds an actor,
# and a command that loads no plugin need not load this module), part of this API.


#: ``AccessContext.purpose`` of the ``view`` question for the hits of a search whose query holds a resident
#: ID number (a plugin may keep its files out of searches by ID number while leaving them listed).
SEARCH_BY_ID_NUMBER = "search by ID number"


@dataclass(frozen=True)
class AccessDecision:
    allowed: bool
    denied_by: tuple[str, ...] = ()
    allowed_by: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return self.allowed


# --------------------------------------------------------------- reports

@dataclass
class ReportResult:
    """Rows (dicts keyed by column) and the column order; core renders them
    as a table, CSV or PDF."""

    columns: list[str]
    rows: list[dict[str, Any]]
    title: str = ""
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ReportSpec:
    """A report a plugin contributes: ``run(context, **params)``."""

    name: str
    description: str
    run: Callable[..., ReportResult]
    params: tuple[str, ...] = ()


@dataclass(frozen=True)
class VolumeInfo:
    id: str
    title: str = ""
    secrecy: str = "public"
    year: int | None = None
    filer: str = ""
    checker: str = ""
    notes: str = ""


@runtime_checkable
class ReportContext(Protocol):
    """What a report (and the access/validation hooks) may read; core implements it.

    ``as_of`` is the report date; records created after it are not yielded.
    Records the requesting actor may not ``view`` are never yielded.
    """

    as_of: date

    def records(self, *, category: str | None = None, department: str | None = None,
                volume: str | None = None, status: str | None = None) -> Iterable[Record]: ...

    def volume(self, volume_id: str) -> VolumeInfo | None: ...

    def last_event(self, record_id: str, event_type: str) -> datetime | None: ...


@runtime_checkable
class RecordContext(Protocol):
    """Read-only view of the archive given to validation and filing hooks."""

    def volume(self, volume_id: str) -> VolumeInfo | None: ...

    def records(self, *, category: str | None = None, department: str | None = None,
                volume: str | None = None, status: str | None = None) -> Iterable[Record]: ...


class NullContext:
    """A context with an empty archive (used when core passes none, and in tests)."""

    def __init__(self, as_of: date | None = None, records: Iterable[Record] = (),
                 volumes: Mapping[str, VolumeInfo] | None = None,
                 events: Mapping[tuple[str, str], datetime] | None = None) -> None:
        self.as_of = as_of or date.today()
        self._records = list(records)
        self._volumes = dict(volumes or {})
        self._events = dict(events or {})

    def records(self, *, category: str | None = None, department: str | None = None,
                volume: str | None = None, status: str | None = None) -> Iterable[Record]:
        for r in self._records:
            if category and r.category != category:
                continue
            if department and r.department != department:
                continue
            if volume and r.volume != volume:
                continue
            if status and r.status != status:
                continue
            if r.created and r.created[:10] > self.as_of.isoformat():
                continue
            yield r

    def volume(self, volume_id: str) -> VolumeInfo | None:
        return self._volumes.get(volume_id)

    def last_event(self, record_id: str, event_type: str) -> datetime | None:
        return self._events.get((record_id, event_type))


# --------------------------------------------------------------- actions

class Veto(PluginError):
    """Raise from a destroy/purge wrapper (before ``yield``) to stop the action."""


@dataclass(frozen=True)
class LoadProblem:
    plugin: str
    source: str
    message: str

    def __str__(self) -> str:
        return f"plugin {self.plugin} ({self.source}) not loaded: {self.message}"


@dataclass(frozen=True)
class PluginInfo:
    name: str
    version: str
    source: str
    hooks: tuple[str, ...]
