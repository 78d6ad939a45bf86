"""The plugin author's contract: every hook dangan calls.

Each hook is prefixed ``dangan_``.  Implement one by decorating a function of
the same name with :data:`dangan.plugins.hookimpl`; you may accept any subset
of the parameters.  Unless a hook says *firstresult*, every plugin's answer is
collected and core merges them by the precedence rule documented on the hook
(and in ``docs/plugins.md``) — never by load order.  Return ``None`` to express
no opinion, and stay silent on records outside your own categories.
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pluggy

from ..model import Extraction, Record
from .types import (
    AccessContext, Actor, Alert, Category, FilingDecision, Issue, RecordContext, ReportSpec,
    RetentionRule, Scheme,
)

if TYPE_CHECKING:  # pragma: no cover
    import click

PROJECT = "dangan"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def dangan_register_schemes(register: Callable[[Scheme], None]) -> None:
    """Register classification schemes (file plans) and their categories.

    Not firstresult: every plugin registers.  A category code defined by two
    plugins is withdrawn from both and reported as a load problem naming them.

    :param register: call once per :class:`~dangan.plugins.types.Scheme`.
    :returns: nothing.

    Example::

        @hookimpl
        def dangan_register_schemes(register):
            register(Scheme("qa", "Quality", (Category("ZL-YC", "异常质量信息", "long-term"),)))
    """


@hookspec
def dangan_archival_class(record: Record, category: Category) -> str | None:
    """Give the lowest class of a record: the archival code without the piece number.

    Not firstresult.  Core allocates piece numbers (件号) from 1 per distinct
    class string, in its catalogue transaction.  Non-default plugins override the builtin; two
    non-default plugins giving different answers is a PluginError.

    :param record: the classified record (fonds, category, year, retention, department set).
    :param category: its category.
    :returns: e.g. ``"Z109-WS·2021-Y-BGS"``, or None for no opinion.

    Example::

        @hookimpl
        def dangan_archival_class(record, category):
            return f"{record.fonds}-{category.class_code}·{record.year}" if category.code.startswith("QA") else None
    """


@hookspec
def dangan_archival_code(record: Record, category: Category, piece_number: int) -> str | None:
    """Format a record's archival code (档号) from the piece number core allocated.

    Not firstresult; same precedence as :func:`dangan_archival_class`.

    :param record: the classified record.
    :param category: its category.
    :param piece_number: 件号, from 1, allocated by core without gaps per class.
    :returns: e.g. ``"Z109-WS·2021-Y-BGS-0001"``, or None.

    Example::

        @hookimpl
        def dangan_archival_code(record, category, piece_number):
            return None  # let the builtin DA/T 22 format apply
    """


@hookspec
def dangan_retention_for(record: Record, category: Category) -> RetentionRule | None:
    """Give the retention rule for a record.

    Not firstresult.  Precedence: the longest period wins, permanent beats any
    years; on equal periods the most conservative action wins.  A rule with a
    period of zero or less is an error naming the plugin.

    :param record: the record (its date, metadata).
    :param category: its category (``default_retention`` is applied by the builtin).
    :returns: a :class:`~dangan.plugins.types.RetentionRule` or None.

    Example::

        @hookimpl
        def dangan_retention_for(record, category):
            if category.code == "KH-TS":
                return RetentionRule(years=5, action="destroy", trigger="record-date")
    """


@hookspec
def dangan_validate(record: Record, category: Category | None, context: RecordContext) -> list[Issue] | None:
    """Check a record before it is archived.

    Not firstresult.  Precedence: any error from any plugin blocks; warnings
    are kept.  Core calls this before writing anything.

    :param record: the candidate record (not yet stored).
    :param category: its category, or None when the category is unknown.
    :param context: read-only view of the archive (volumes, other records).
    :returns: a list of :class:`~dangan.plugins.types.Issue` (``error(...)``, ``warning(...)``) or None.

    Example::

        @hookimpl
        def dangan_validate(record, category):
            if category and category.code == "SG-JD" and not record.metadata.get("valid_until"):
                return [error("validity period is required", "valid_until")]
    """


@hookspec(firstresult=True)
def dangan_extract(path: Path, mime: str, options: Any) -> Extraction | None:
    """Extract text and technical metadata from one file.

    **firstresult**: the first plugin returning an Extraction wins.  The
    builtin extractors run ``trylast``, so mark yours ``tryfirst`` or plain.

    :param path: the file, readable.
    :param mime: its MIME type by content.
    :param options: ``ExtractOptions`` (time and memory limits, OCR languages, password).
    :returns: a :class:`~dangan.model.Extraction` or None for MIME types you do not handle.

    Example::

        @hookimpl
        def dangan_extract(path, mime, options):
            if mime == "text/x-dangan":
                return Extraction(text=path.read_text(), extractor="dangan-text")
    """


@hookspec
def dangan_after_archive(record: Record, category: Category | None, now: datetime) -> list[Alert] | None:
    """React after a record is durably archived; return alerts with deadlines.

    Not firstresult: alerts from all plugins are kept.  Core stores them, runs
    the configured notification command, and lists them in ``dangan alerts``.

    :param record: the archived record (with id and archival code).
    :param category: its category.
    :param now: archiving time (UTC).
    :returns: a list of :class:`~dangan.plugins.types.Alert` or None.

    Example::

        @hookimpl
        def dangan_after_archive(record, now):
            return [Alert.new(record.id, "review", "please review", now + timedelta(days=1), "manager")]
    """


@hookspec
def dangan_filing(record: Record, category: Category, context: RecordContext) -> FilingDecision | None:
    """Decide which year a record is filed under and which volume it joins.

    Not firstresult.  A non-default plugin overrides the builtin (year of the
    record date); two non-default plugins disagreeing is a PluginError.

    :param record: the record (``date`` and metadata such as ``doc_kind``, ``reply_date``).
    :param category: its category.
    :param context: read-only view of the archive.
    :returns: a :class:`~dangan.plugins.types.FilingDecision` or None.

    Example::

        @hookimpl
        def dangan_filing(record, category):
            return FilingDecision(year=2021, volume_key="BGS-2021-HY")
    """


@hookspec
def dangan_volume_order(records: list[Record]) -> list[Record] | None:
    """Order the records inside one volume (卷内顺序).

    Not firstresult.  The answer must be a permutation of ``records``.
    A non-default plugin overrides the builtin (by date); two disagreeing is
    a PluginError.  Return None unless the volume is yours.

    :param records: the records of one volume, in any order.
    :returns: the same records, ordered, or None.

    Example::

        @hookimpl
        def dangan_volume_order(records):
            return sorted(records, key=lambda r: r.date or "")
    """


@hookspec
def dangan_initial_status(record: Record, category: Category | None) -> str | None:
    """Give the status a new record starts in (``active`` or ``pending``).

    Not firstresult.  Precedence: the most restrictive wins (pending > active).
    Core keeps a pending record hidden until an approval makes it active.

    :param record: the new record.
    :param category: its category.
    :returns: ``"pending"``, ``"active"`` or None.

    Example::

        @hookimpl
        def dangan_initial_status(record, category):
            return "pending" if category and category.department == "XMB" else None
    """


@hookspec
def dangan_access(actor: Actor, action: str, record: Record, context: AccessContext) -> bool | None:
    """Decide whether an actor may do an action to a record.

    Not firstresult.  Precedence: any ``False`` (deny) wins; otherwise allowed
    (core's clearance rules still apply).  Actions: see ``types.ACTIONS``.

    :param actor: who asks (name, roles, clearance).
    :param action: ``view``, ``read``, ``lend``, ``export``, ``copy``, ...
    :param record: the record.
    :param context: approvals on file for this request, purpose, time.
    :returns: True (allow), False (deny) or None (no opinion).

    Example::

        @hookimpl
        def dangan_access(actor, action, record, context):
            if action == "export" and "export" not in context.approvals:
                return False
    """


@hookspec
def dangan_access_reason(actor: Actor, action: str, record: Record) -> str | None:
    """Say why this plugin denies an action (or keeps a pending record hidden), in one sentence.

    Not firstresult.  Core adds the sentences of the plugins that denied to
    every refusal, and shows a pending record's reason when it is archived
    (then ``action`` is ``view`` and ``actor`` has no roles).

    :param actor: who was refused.
    :param action: the action refused (``view``, ``read``, ``approve``, ...).
    :param record: the record.
    :returns: the reason, naming who may act (a role) and how, or None.

    Example::

        @hookimpl
        def dangan_access_reason(actor, action, record):
            if record.status == "pending":
                return "it waits for a project-manager's approval (dangan approve ID)"
    """


@hookspec
def dangan_lending_limit(record: Record, actor: Actor) -> int | None:
    """Give the maximum days a record may be lent.

    Not firstresult.  Precedence: the shortest limit wins.  A limit below 1 is
    an error naming the plugin.

    :param record: the record to lend.
    :param actor: the borrower.
    :returns: days, or None for no limit.

    Example::

        @hookimpl
        def dangan_lending_limit(record):
            return 3
    """


@hookspec
def dangan_listing_marker(record: Record) -> str | None:
    """Give a marker core shows beside the record in every listing.

    Not firstresult: distinct markers are joined.

    :param record: the listed record.
    :returns: e.g. ``"【机密】"`` or None.

    Example::

        @hookimpl
        def dangan_listing_marker(record):
            return "【绝密】" if record.secrecy == "top-secret" else None
    """


@hookspec
def dangan_register_reports(register: Callable[[ReportSpec], None]) -> None:
    """Contribute reports (``dangan report NAME``).

    Not firstresult.  A report name registered by two plugins is withdrawn
    from both and reported as a load problem.

    :param register: call once per :class:`~dangan.plugins.types.ReportSpec`;
        ``run(context, **params)`` returns a ``ReportResult``.
    :returns: nothing.

    Example::

        @hookimpl
        def dangan_register_reports(register):
            register(ReportSpec("count", "records per category", run=lambda ctx: ...))
    """


@hookspec
def dangan_cli_commands(cli: "click.Group") -> None:
    """Add commands to the ``dangan`` command line.

    Not firstresult.  Keep commands thin: call core through the context object.

    :param cli: the root click group.
    :returns: nothing.

    Example::

        @hookimpl
        def dangan_cli_commands(cli):
            @cli.command()
            def hello():
                click.echo("hello")
    """


@hookspec(firstresult=True)
def dangan_destroy(record: Record, actor: Actor, reason: str, perform: Callable[[], Any]) -> Any:
    """Destroy a record; **implement as a wrapper** (``@hookimpl(wrapper=True)``).

    firstresult: the builtin implementation calls ``perform()`` (core's
    destruction) and returns its result.  A wrapper vetoes by raising (ideally
    :class:`~dangan.plugins.types.Veto`) before ``yield``; nothing is destroyed.
    After ``yield`` it may observe the result; it must not raise then.

    :param record: the record to destroy.
    :param actor: who destroys.
    :param reason: the approved reason (destruction list entry).
    :param perform: core's action; never call it from a wrapper.
    :returns: whatever ``perform()`` returns (a destruction certificate).

    Example::

        @hookimpl(wrapper=True)
        def dangan_destroy(record, actor, reason):
            if record.metadata.get("litigation"):
                raise Veto("record is evidence in a lawsuit")
            return (yield)
    """


@hookspec(firstresult=True)
def dangan_purge(record: Record, actor: Actor, reason: str, perform: Callable[[], Any]) -> Any:
    """Purge a record version or tombstone; a wrapper hook like :func:`dangan_destroy`.

    firstresult: the builtin runs ``perform()``; wrappers veto by raising before ``yield``.

    :param record: the record to purge.
    :param actor: who purges.
    :param reason: why.
    :param perform: core's action.
    :returns: whatever ``perform()`` returns.

    Example::

        @hookimpl(wrapper=True)
        def dangan_purge(record, actor):
            log.info("purge of %s by %s", record.id, actor.name)
            return (yield)
    """

