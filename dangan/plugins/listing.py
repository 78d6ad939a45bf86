"""What plugins there are, enabled or not, and what each brings: departments, categories, roles.

``dangan plugins list`` shows every plugin shipped with dangan — the five
department plugins too when they are not in ``[plugins] enabled`` — with the
department codes, category codes and roles it gives meaning to.  A department
plugin declares its roles in a module constant ``ROLES`` (role → what it may
do); any plugin object may do the same.  The valid plugin names, roles and
department codes come from here, so a typo is refused with the list.
"""
from __future__ import annotations

import functools
import importlib
from dataclasses import dataclass, field
from difflib import get_close_matches

from ..errors import UsageError
from .loader import DEFAULT_NAMES, DEPARTMENT_PLUGINS, module_plugin_name
from .types import Scheme


@dataclass(frozen=True)
class PluginEntry:
    name: str
    state: str                      # built-in, enabled, not enabled, disabled
    version: str = ""
    source: str = ""
    hooks: tuple[str, ...] = ()
    departments: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    roles: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"name": self.name, "state": self.state, "version": self.version, "source": self.source,
                "hooks": list(self.hooks), "departments": list(self.departments),
                "categories": list(self.categories), "roles": dict(self.roles)}


def _scheme_parts(schemes: list[Scheme]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    depts = {s.department for s in schemes if s.department}
    depts |= {c.department for s in schemes for c in s.categories if c.department}
    return tuple(sorted(depts)), tuple(sorted(c.code for s in schemes for c in s.categories))


@functools.lru_cache(maxsize=1)
def shipped_departments() -> tuple[PluginEntry, ...]:
    """The department plugins shipped with dangan, read from their modules (nothing is registered)."""
    out = []
    for path in DEPARTMENT_PLUGINS:
        module = importlib.import_module(path)
        schemes = [getattr(module, "SCHEME")] if isinstance(getattr(module, "SCHEME", None), Scheme) else []
        depts, cats = _scheme_parts(schemes)
        out.append(PluginEntry(module_plugin_name(path), "not enabled", source=f"dangan ({path})",
                               departments=depts, categories=cats, roles=dict(getattr(module, "ROLES", {}))))
    return tuple(out)


def plugin_entries(plugins) -> list[PluginEntry]:
    """Every plugin: the registered ones (with their hooks) and the shipped ones that are not."""
    by_plugin: dict[str, list[Scheme]] = {}
    for name, scheme in plugins.schemes().schemes:
        by_plugin.setdefault(name, []).append(scheme)
    objects = dict(plugins.pm.list_name_plugin())
    entries = {}
    for info in plugins.describe():
        depts, cats = _scheme_parts(by_plugin.get(info.name, []))
        state = "built-in" if info.name in DEFAULT_NAMES else "enabled"
        entries[info.name] = PluginEntry(info.name, state, info.version, info.source, info.hooks, depts, cats,
                                         dict(getattr(objects.get(info.name), "ROLES", None) or {}))
    for shipped in shipped_departments():
        if shipped.name not in entries:
            why = plugins.pm.skipped.get(shipped.name, "")
            entries[shipped.name] = PluginEntry(shipped.name, "disabled" if "disabled" in why else "not enabled",
                                                source=shipped.source, departments=shipped.departments,
                                                categories=shipped.categories, roles=shipped.roles)
    return sorted(entries.values(), key=lambda e: (e.state == "built-in", e.name))


def plugin_entry(plugins, name: str) -> PluginEntry:
    """One plugin by name; an unknown name is refused with the valid ones."""
    entries = {e.name: e for e in plugin_entries(plugins)}
    if name not in entries:
        raise UsageError(unknown("plugin", name, entries))
    return entries[name]


def plugin_roles(plugins) -> dict[str, str]:
    """Role → "plugin: meaning", for every role a plugin (enabled or shipped) gives meaning to."""
    out: dict[str, str] = {}
    for e in plugin_entries(plugins):
        for role, meaning in e.roles.items():
            out.setdefault(role, f"{e.name}: {meaning}")
    return out


def plugin_departments(plugins) -> dict[str, str]:
    """Department code → the plugins whose schemes use it (shipped ones too, enabled or not)."""
    out: dict[str, str] = {}
    for e in plugin_entries(plugins):
        for d in e.departments:
            out[d] = ", ".join(filter(None, (out.get(d), e.name)))
    return out


def unknown(what: str, name: str, valid) -> str:
    """``unknown role 'projectmanager' (did you mean 'project-manager'?); valid: ...``"""
    valid = sorted(valid)
    near = get_close_matches(name, valid, n=1, cutoff=0.6)
    return (f"unknown {what} {name!r}" + (f" (did you mean {near[0]!r}?)" if near else "")
            + f"; valid: {', '.join(valid) or 'none'}")
