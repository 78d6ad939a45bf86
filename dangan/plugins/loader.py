"""Plugin discovery: :func:`get_plugin_manager` (re-exported by :mod:`dangan.plugins.manager`).

Discovery order: ``DEFAULT_PLUGINS`` and ``DEPARTMENT_PLUGINS`` (modules shipped
with dangan), entry points in group ``dangan.plugins``, then
``ARCHIVE/plugins/*.py`` (never from a group- or world-writable folder, nor a file writable by
others; core has already refused an archive whose plugins belong to someone else).  A plugin that fails to import, implements a hook
with a wrong signature or an unknown hook, or raises while registering its
schemes or reports, is skipped and recorded in ``load_problems`` naming it;
the rest keep working.  Order of discovery never decides an outcome: the
facade merges answers by the precedence rules in :mod:`dangan.plugins.types`.
"""
from __future__ import annotations

import hashlib
import importlib
import importlib.metadata
import importlib.util
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from types import ModuleType

import pluggy

from . import hookspecs
from .types import LoadProblem

ENTRYPOINT_GROUP = "dangan.plugins"
#: Built-in behaviour, registered exactly like any plugin (datasette-style).
DEFAULT_PLUGINS: tuple[str, ...] = (
    "dangan.plugins.builtin.scheme",
    "dangan.plugins.builtin.extract",
    "dangan.plugins.builtin.actions",
)
#: The department plugins of the five regulations: shipped, turned on by name in ``[plugins] enabled``.
DEPARTMENT_PLUGINS: tuple[str, ...] = (
    "dangan.plugins.departments.general_office",
    "dangan.plugins.departments.drug_quality",
    "dangan.plugins.departments.construction",
    "dangan.plugins.departments.insurance_customers",
    "dangan.plugins.departments.customer_confidentiality",
)
WRAPPER_HOOKS = frozenset({"dangan_destroy", "dangan_purge"})


def module_plugin_name(module_path: str) -> str:
    """Plugin name of a shipped module: ``builtin.scheme`` for built-ins,
    the module name (``drug_quality``) for department plugins."""
    if module_path in DEPARTMENT_PLUGINS:
        return module_path.rsplit(".", 1)[1]
    return module_path.removeprefix("dangan.plugins.")


DEPARTMENT_NAMES: tuple[str, ...] = tuple(m.rsplit(".", 1)[1] for m in DEPARTMENT_PLUGINS)
DEFAULT_NAMES = frozenset(module_plugin_name(m) for m in DEFAULT_PLUGINS)


class DanganPluginManager(pluggy.PluginManager):
    """A pluggy manager that remembers where each plugin came from and what failed."""

    def __init__(self) -> None:
        super().__init__(hookspecs.PROJECT)
        self.add_hookspecs(hookspecs)
        self.sources: dict[str, tuple[str, str]] = {}      # name -> (version, source)
        self.load_problems: list[LoadProblem] = []
        self.skipped: dict[str, str] = {}                  # name -> why (disabled / not enabled)

    def problem(self, name: str, source: str, message: str) -> None:
        self.load_problems.append(LoadProblem(name, source, message))

    def add(self, plugin: object, name: str, source: str, version: str) -> bool:
        """Register one plugin; on any defect record a problem naming it and skip it."""
        try:
            self.register(plugin, name=name)
        except pluggy.PluginValidationError as e:
            self.problem(name, source, f"bad hook implementation: {e}")
            return False
        except ValueError as e:   # name already registered
            self.problem(name, source, f"duplicate plugin name: {e}")
            return False
        defect = self._defect(plugin, name)
        if defect:
            self.unregister(plugin)
            self.problem(name, source, defect)
            return False
        self.sources[name] = (version, source)
        return True

    def _defect(self, plugin: object, name: str) -> str | None:
        for caller in self.get_hookcallers(plugin) or []:
            if not caller.has_spec():
                return f"unknown hook {caller.name} (not in dangan.plugins.hookspecs; a typo?)"
            for impl in caller.get_hookimpls():
                if impl.plugin is not plugin:
                    continue
                wraps = impl.wrapper or impl.hookwrapper
                if wraps and caller.name not in WRAPPER_HOOKS:
                    return f"{caller.name} cannot be a wrapper; only {', '.join(sorted(WRAPPER_HOOKS))} can"
                if not wraps and caller.name in WRAPPER_HOOKS and name not in DEFAULT_NAMES:
                    return f"{caller.name} must be implemented with @hookimpl(wrapper=True)"
        return None


def _load_file(path: Path) -> ModuleType:
    digest = hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:12]
    modname = f"_dangan_archive_plugin_{digest}_{path.stem}"
    spec = importlib.util.spec_from_file_location(modname, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[modname] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(modname, None)
        raise
    return module


def _writable_by_others(path: Path) -> bool:
    """Group- or world-writable (the archive's owner check is core's; this is the last line of defence)."""
    import stat
    try:
        return bool(path.stat().st_mode & (stat.S_IWGRP | stat.S_IWOTH))
    except OSError:
        return False


def _reason(exc: BaseException) -> str:
    if isinstance(exc, SyntaxError):
        return f"syntax error at line {exc.lineno}: {exc.msg}"
    return f"{type(exc).__name__}: {exc}"


def get_plugin_manager(
    *,
    load_entrypoints: bool = True,
    plugin_dirs: Iterable[str | Path] = (),
    enabled: Sequence[str] | None = None,
    disabled: Sequence[str] = (),
    extra_plugins: Iterable[tuple[str, object]] = (),
) -> DanganPluginManager:
    """Build a plugin manager (no global state; tests build their own).

    :param load_entrypoints: discover installed packages in group ``dangan.plugins``.
    :param plugin_dirs: directories of single-file plugins (``ARCHIVE/plugins``).
    :param enabled: ``dangan.toml [plugins] enabled``: the shipped department plugins
        to turn on (e.g. ``["general_office"]``).  Built-ins, installed (entry point)
        and ``ARCHIVE/plugins`` plugins are on unless disabled.
    :param disabled: ``[plugins] disabled``: names never registered, built-ins included.
    :param extra_plugins: ``(name, object)`` pairs registered last (tests, embedding).
    """
    pm = DanganPluginManager()
    disabled_set = set(disabled)
    enabled_set = None if enabled is None else set(enabled)
    seen: set[str] = set()

    def wanted(name: str, opt_in: bool = False) -> bool:
        seen.add(name)
        if name in disabled_set:
            pm.skipped[name] = "disabled in dangan.toml"
            return False
        if opt_in and name not in (enabled_set or ()):
            pm.skipped[name] = "not in [plugins] enabled"
            return False
        return True

    from .. import __version__ as version  # type: ignore[attr-defined]
    for path in DEFAULT_PLUGINS + DEPARTMENT_PLUGINS:
        name = module_plugin_name(path)
        if wanted(name, opt_in=path in DEPARTMENT_PLUGINS):
            try:
                pm.add(importlib.import_module(path), name, f"dangan ({path})", version)
            except Exception as e:  # noqa: BLE001 - a broken plugin must not break the archive
                pm.problem(name, path, _reason(e))
    if load_entrypoints:
        for ep in sorted(importlib.metadata.entry_points(group=ENTRYPOINT_GROUP), key=lambda e: e.name):
            dist = getattr(ep, "dist", None)
            source = f"entry point {ep.value} ({dist.name if dist else 'unknown distribution'})"
            if not wanted(ep.name):
                continue
            try:
                obj = ep.load()
            except Exception as e:  # noqa: BLE001
                pm.problem(ep.name, source, _reason(e))
                continue
            pm.add(obj, ep.name, source, dist.version if dist else "")
    for d in plugin_dirs:
        if _writable_by_others(Path(d)):
            pm.problem(Path(d).name, str(d), "not loaded: the folder is writable by group or others "
                                             f"(`chmod go-w {d}`); dangan never imports from such a folder")
            continue
        for path in sorted(Path(d).glob("*.py")):
            if path.name.startswith("_") or not wanted(path.stem):
                continue
            if _writable_by_others(path):
                pm.problem(path.stem, str(path), f"not loaded: the file is writable by group or others "
                                                 f"(`chmod go-w {path}`)")
                continue
            try:
                module = _load_file(path)
            except BaseException as e:  # noqa: BLE001 - includes SystemExit from a careless plugin
                if isinstance(e, KeyboardInterrupt):
                    raise
                pm.problem(path.stem, str(path), _reason(e))
                continue
            pm.add(module, path.stem, str(path), str(getattr(module, "__version__", "")))
    for name, obj in extra_plugins:
        if wanted(name):
            pm.add(obj, name, "registered by caller", str(getattr(obj, "__version__", "")))
    missing = sorted((enabled_set or set()) - seen)
    if missing:                 # a typo would silently leave a department without its rules
        from ..errors import UsageError
        valid = sorted(seen - DEFAULT_NAMES)
        raise UsageError(f"dangan.toml [plugins] enabled names unknown plugin(s) {', '.join(map(repr, missing))};"
                         f" valid: {', '.join(valid)} (see `dangan plugins list`)")
    for name in sorted(disabled_set - seen):
        pm.problem(name, "dangan.toml", "named in [plugins] but not found")
    pm.check_pending()
    return pm

