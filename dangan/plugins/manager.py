"""The typed facade core calls (:class:`Plugins`), over a manager from :func:`get_plugin_manager`.

Core never calls ``pm.hook`` itself: each method here merges the plugins'
answers by an explicit precedence rule (see :mod:`dangan.plugins.registry`
and docs/plugins.md), checks their types, and turns an exception raised inside
a plugin into ``PluginError("plugin NAME failed in HOOK: reason")``.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from types import TracebackType
from typing import Any

from ..errors import DanganError, PluginError, UsageError
from ..model import Extraction, Record, secrecy_rank
from .loader import (  # noqa: F401  (re-exported: the public discovery API)
    DEFAULT_NAMES, DEFAULT_PLUGINS, DEPARTMENT_NAMES, DEPARTMENT_PLUGINS, ENTRYPOINT_GROUP, WRAPPER_HOOKS,
    DanganPluginManager, _reason, get_plugin_manager,
)
from .registry import (
    Classified, ReportRegistry, SchemeRegistry, combine_access, longest_retention, override,
    shortest_limit, strictest_status,
)
from .types import (
    ACTIONS, INITIAL_STATUSES, AccessContext, AccessDecision, Actor, Alert, Category, FilingDecision,
    Issue, LoadProblem, NullContext, PluginInfo, RecordContext, ReportContext, ReportResult, ReportSpec,
    RetentionDecision, RetentionRule, Scheme, ValidationOutcome, Veto,
)

__all__ = ["Plugins", "get_plugin_manager", "DEFAULT_PLUGINS", "DEPARTMENT_PLUGINS", "DEPARTMENT_NAMES", "ENTRYPOINT_GROUP",
           "DanganPluginManager", "Classified"]


def _culprit(exc: BaseException, impls: Iterable[Any]) -> str:
    """The plugin whose hook function raised, found from the traceback."""
    codes = {impl.function.__code__: impl.plugin_name for impl in impls}
    name = "unknown"
    tb: TracebackType | None = exc.__traceback__
    while tb is not None:
        name = codes.get(tb.tb_frame.f_code, name)
        tb = tb.tb_next
    return name


class Plugins:
    """The typed facade core calls; it never calls ``pm.hook`` itself.

    Each method merges the plugins' answers by a documented precedence rule,
    and turns an exception raised inside a plugin into
    ``PluginError("plugin NAME failed in HOOK: reason")``.
    """

    def __init__(self, pm: DanganPluginManager) -> None:
        self.pm = pm
        self._schemes = SchemeRegistry()
        self._reports = ReportRegistry()
        self._collect()

    @classmethod
    def load(cls, **kwargs: Any) -> "Plugins":
        """``Plugins(get_plugin_manager(**kwargs))``."""
        return cls(get_plugin_manager(**kwargs))

    @property
    def load_problems(self) -> list[LoadProblem]:
        return list(self.pm.load_problems)

    # -- calling -------------------------------------------------------------
    def _impls(self, hook: str) -> list[Any]:
        impls = getattr(self.pm.hook, hook).get_hookimpls()
        return sorted((i for i in impls if not (i.wrapper or i.hookwrapper)), key=lambda i: i.plugin_name)

    def _each(self, hook: str, **kwargs: Any) -> list[tuple[str, Any]]:
        out = []
        for impl in self._impls(hook):
            try:
                result = impl.function(*[kwargs[a] for a in impl.argnames])
            except Exception as e:  # noqa: BLE001 - the plugin boundary: name the plugin, no traceback
                raise PluginError(f"plugin {impl.plugin_name} failed in {hook}: {_reason(e)}") from e
            if result is not None:
                out.append((impl.plugin_name, result))
        return out

    @staticmethod
    def _typed(hook: str, answers: list[tuple[str, Any]], kind: type | tuple[type, ...]) -> list[tuple[str, Any]]:
        for name, value in answers:
            if not isinstance(value, kind):
                raise PluginError(f"plugin {name} returned {value!r} from {hook}, expected {getattr(kind, '__name__', kind)}")
        return answers

    def _collect(self) -> None:
        per_plugin: dict[str, dict[str, list[Any]]] = {}
        for hook in ("dangan_register_schemes", "dangan_register_reports"):
            for impl in self._impls(hook):
                items: list[Any] = []
                per_plugin.setdefault(impl.plugin_name, {})[hook] = items
                try:
                    impl.function(*[items.append for _ in impl.argnames])
                except Exception as e:  # noqa: BLE001
                    per_plugin[impl.plugin_name]["failed"] = [f"failed in {hook}: {_reason(e)}"]
        for name in sorted(per_plugin):
            got = per_plugin[name]
            schemes, reports = got.get("dangan_register_schemes", []), got.get("dangan_register_reports", [])
            bad = got.get("failed") or [f"registered {x!r}, expected a Scheme" for x in schemes if not isinstance(x, Scheme)]
            bad = bad or [f"registered {x!r}, expected a ReportSpec" for x in reports if not isinstance(x, ReportSpec)]
            if bad:
                version, source = self.pm.sources.pop(name, ("", ""))
                self.pm.unregister(name=name)
                self.pm.problem(name, source, bad[0])
                continue
            for scheme in schemes:
                for message in self._schemes.add(name, scheme):
                    self.pm.problem(name, "schemes", message)
            for spec in reports:
                message = self._reports.add(name, spec)
                if message:
                    self.pm.problem(name, "reports", message)

    def _wrapped(self, hook: str, perform: Callable[[], Any], **kwargs: Any) -> Any:
        box: list[BaseException] = []
        ran: list[bool] = []

        def guarded() -> Any:
            try:
                result = perform()
            except BaseException as e:
                box.append(e)
                raise
            ran.append(True)
            return result

        caller = getattr(self.pm.hook, hook)
        try:
            return caller(perform=guarded, **kwargs)
        except BaseException as e:
            if box and e is box[0]:
                raise            # core's own error from perform(): unchanged
            name = _culprit(e, caller.get_hookimpls())
            done = " (after the action completed)" if ran else ""
            if isinstance(e, Veto):
                raise Veto(f"plugin {name} vetoed {hook.removeprefix('dangan_')} of {kwargs['record'].id}: {e}") from e
            raise PluginError(f"plugin {name} failed in {hook}{done}: {_reason(e)}") from e

    # -- schemes and classification -----------------------------------------
    def schemes(self) -> SchemeRegistry:
        return self._schemes

    def category_of(self, record: Record) -> Category:
        if not record.category:
            raise UsageError(f"record {record.id} has no category")
        return self._schemes.category(record.category)

    def classify(self, record: Record, context: RecordContext | None = None) -> Classified:
        """Apply category defaults and plugin decisions (secrecy floor, department,
        filing year, retention, initial status, archival class).  Pure: returns
        a new record; call :meth:`validate` on ``.record`` next."""
        cat = self.category_of(record)
        secrecy = max(record.secrecy, cat.default_secrecy, key=secrecy_rank)
        rec = replace(record, secrecy=secrecy, department=record.department or cat.department)
        filing = self.filing(rec, context)
        rec = replace(rec, year=filing.year)
        decision = self.retention_for(rec)
        rec = replace(rec, retention=decision.retention)
        rec = replace(rec, status=self.initial_status(rec))
        return Classified(rec, cat, decision, filing, self.archival_class(rec))

    def filing(self, record: Record, context: RecordContext | None = None) -> FilingDecision:
        """Non-default plugin overrides builtin; two disagreeing -> PluginError."""
        answers = self._typed("dangan_filing", self._each(
            "dangan_filing", record=record, category=self.category_of(record), context=context or NullContext()),
            FilingDecision)
        return override("dangan_filing", answers, DEFAULT_NAMES)  # type: ignore[return-value]

    def retention_for(self, record: Record) -> RetentionDecision:
        """Longest wins, permanent beats years; a bad rule names its plugin."""
        answers = self._typed("dangan_retention_for", self._each(
            "dangan_retention_for", record=record, category=self.category_of(record)), RetentionRule)
        for name, rule in answers:
            bad = rule.problems()
            if bad:
                raise PluginError(f"plugin {name} gave a bad retention rule for {record.category}: {'; '.join(bad)}")
        name, rule = longest_retention(answers)
        return RetentionDecision(rule, name, tuple(answers))

    def initial_status(self, record: Record) -> str:
        """Most restrictive wins: pending > active."""
        answers = self._typed("dangan_initial_status", self._each(
            "dangan_initial_status", record=record, category=self._schemes.get(record.category)), str)
        for name, status in answers:
            if status not in INITIAL_STATUSES:
                raise PluginError(f"plugin {name} asked for unknown initial status {status!r}")
        return strictest_status(answers)

    def archival_class(self, record: Record) -> str:
        answers = self._typed("dangan_archival_class", self._each(
            "dangan_archival_class", record=record, category=self.category_of(record)), str)
        return self._one("dangan_archival_class", answers)

    def archival_code(self, record: Record, piece_number: int) -> str:
        """Format 档号 for the piece number core allocated in its transaction."""
        answers = self._typed("dangan_archival_code", self._each(
            "dangan_archival_code", record=record, category=self.category_of(record), piece_number=piece_number), str)
        return self._one("dangan_archival_code", answers)

    def _one(self, hook: str, answers: list[tuple[str, Any]]) -> Any:
        result = override(hook, answers, DEFAULT_NAMES)
        if result is None:
            raise PluginError(f"no plugin answered {hook} (is builtin.scheme disabled?)")
        return result

    def validate(self, record: Record, context: RecordContext | None = None) -> ValidationOutcome:
        """Any error from any plugin blocks.  Call before writing anything."""
        try:
            cat = self._schemes.get(record.category)
        except PluginError as e:
            return ValidationOutcome(errors=(Issue(str(e), field="category", plugin="dangan"),))
        answers = self._typed("dangan_validate", self._each(
            "dangan_validate", record=record, category=cat, context=context or NullContext()), list)
        errors: list[Issue] = []
        warnings: list[Issue] = []
        for name, issues in answers:
            for issue in self._typed("dangan_validate", [(name, i) for i in issues], Issue):
                (errors if issue[1].level == "error" else warnings).append(replace(issue[1], plugin=name))
        return ValidationOutcome(tuple(errors), tuple(warnings))

    # -- content and afterwards ---------------------------------------------
    def extract(self, path: Path, mime: str, options: Any) -> Extraction:
        """firstresult; a plugin that raises gives ``status="failed"`` naming it."""
        caller = self.pm.hook.dangan_extract
        try:
            result = caller(path=path, mime=mime, options=options)
        except Exception as e:  # noqa: BLE001
            name = _culprit(e, caller.get_hookimpls())
            return Extraction(status="failed", message=f"plugin {name} failed in dangan_extract: {_reason(e)}")
        if result is None:
            return Extraction(status="unsupported", message=f"no extractor for {mime}")
        return result

    def after_archive(self, record: Record, now: datetime | None = None) -> list[Alert]:
        now = now or datetime.now(timezone.utc)
        answers = self._typed("dangan_after_archive", self._each(
            "dangan_after_archive", record=record, category=self._schemes.get(record.category), now=now), list)
        return [replace(a, plugin=name) for name, alerts in answers
                for _, a in self._typed("dangan_after_archive", [(name, a) for a in alerts], Alert)]

    def volume_order(self, records: Sequence[Record]) -> list[Record]:
        answers = self._typed("dangan_volume_order", self._each("dangan_volume_order", records=list(records)), list)
        for name, ordered in answers:
            if sorted(r.id for r in ordered) != sorted(r.id for r in records):
                raise PluginError(f"plugin {name} returned from dangan_volume_order records that are not the volume's")
        result = override("dangan_volume_order", [(n, [r.id for r in o]) for n, o in answers], DEFAULT_NAMES)
        by_id = {r.id: r for r in records}
        return [by_id[i] for i in result] if result else list(records)  # type: ignore[union-attr]

    # -- access and lending ---------------------------------------------------
    def access(self, actor: Actor, action: str, record: Record, context: AccessContext | None = None) -> AccessDecision:
        """Any deny wins; otherwise allowed."""
        if action not in ACTIONS:
            raise UsageError(f"unknown action {action!r} (use {', '.join(ACTIONS)})")
        answers = self._typed("dangan_access", self._each(
            "dangan_access", actor=actor, action=action, record=record, context=context or AccessContext()), bool)
        return combine_access(answers)

    def access_reasons(self, actor: Actor, action: str, record: Record, plugins: Iterable[str] = ()) -> list[str]:
        """The reasons plugins give for a refusal (only ``plugins``' when named)."""
        names = set(plugins)
        return [r for n, r in self._typed("dangan_access_reason", self._each(
            "dangan_access_reason", actor=actor, action=action, record=record), str) if not names or n in names]

    def may(self, actor: Actor, action: str, record: Record, context: AccessContext | None = None) -> bool:
        return self.access(actor, action, record, context).allowed

    def lending_limit_days(self, record: Record, actor: Actor) -> int | None:
        """The shortest limit wins; None when no plugin limits lending."""
        answers = self._typed("dangan_lending_limit", self._each("dangan_lending_limit", record=record, actor=actor), int)
        for name, days in answers:
            if days < 1:
                raise PluginError(f"plugin {name} gave a lending limit of {days} days; it must be at least 1")
        return shortest_limit(answers)

    def listing_marker(self, record: Record) -> str:
        answers = self._typed("dangan_listing_marker", self._each("dangan_listing_marker", record=record), str)
        return "".join(sorted({m for _, m in answers}))

    # -- reports, commands, destructive actions -------------------------------
    def reports(self) -> dict[str, ReportSpec]:
        return {name: spec for name, (_, spec) in sorted(self._reports.reports.items())}

    def run_report(self, name: str, context: ReportContext, **params: Any) -> ReportResult:
        if name in self._reports.conflicts:
            raise PluginError(f"report {name!r} is defined by plugins {' and '.join(self._reports.conflicts[name])}")
        if name not in self._reports.reports:
            raise UsageError(f"unknown report {name!r} (known: {', '.join(sorted(self._reports.reports)) or 'none'})")
        plugin, spec = self._reports.reports[name]
        unknown = set(params) - set(spec.params)
        if unknown:
            raise UsageError(f"report {name} takes {', '.join(spec.params) or 'no parameters'}, not {', '.join(sorted(unknown))}")
        try:
            result = spec.run(context, **params)
        except DanganError:
            raise
        except Exception as e:  # noqa: BLE001
            raise PluginError(f"plugin {plugin} failed in report {name}: {_reason(e)}") from e
        return self._typed("report " + name, [(plugin, result)], ReportResult)[0][1]

    def add_commands(self, group: Any) -> list[LoadProblem]:
        """Let plugins add click commands; a failing plugin is recorded, never fatal."""
        found = []
        for impl in self._impls("dangan_cli_commands"):
            try:
                impl.function(*[group for _ in impl.argnames])
            except Exception as e:  # noqa: BLE001
                version, source = self.pm.sources.get(impl.plugin_name, ("", ""))
                found.append(LoadProblem(impl.plugin_name, source, f"failed in dangan_cli_commands: {_reason(e)}"))
        self.pm.load_problems.extend(found)
        return found

    def destroy(self, record: Record, actor: Actor, reason: str, perform: Callable[[], Any]) -> Any:
        """Run core's ``perform()`` inside the plugins' destroy wrappers; a veto raises Veto."""
        return self._wrapped("dangan_destroy", perform, record=record, actor=actor, reason=reason)

    def purge(self, record: Record, actor: Actor, reason: str, perform: Callable[[], Any]) -> Any:
        return self._wrapped("dangan_purge", perform, record=record, actor=actor, reason=reason)

    def implements(self, hook: str) -> bool:
        """True when any registered plugin implements ``hook`` (core skips work nobody asked for)."""
        return bool(self._impls(hook))

    def roles(self) -> dict[str, str]:
        """Role → "plugin: meaning" for the roles plugins give meaning to (shipped ones, enabled or not)."""
        from .listing import plugin_roles
        return plugin_roles(self)

    def departments(self) -> dict[str, str]:
        """Department code → the plugins (enabled or shipped) whose schemes file records under it."""
        if not hasattr(self, "_departments"):
            from .listing import plugin_departments
            self._departments = plugin_departments(self)
        return dict(self._departments)

    def describe(self) -> list[PluginInfo]:
        """Name, version, source and hooks of every registered plugin (``dangan plugins list``)."""
        out = []
        for name, plugin in sorted(self.pm.list_name_plugin(), key=lambda p: p[0]):
            version, source = self.pm.sources.get(name, ("", ""))
            hooks = tuple(sorted(c.name for c in self.pm.get_hookcallers(plugin) or []))
            out.append(PluginInfo(name, version, source, hooks))
        return out
