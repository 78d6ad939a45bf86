"""Shortcuts that keep read-only commands fast must stay truthful."""
from __future__ import annotations

from dangan.core.kernel.plugin_host import ACCESS_DEPARTMENTS
from dangan.plugins.manager import Plugins


def test_the_shipped_departments_with_access_rules_are_the_ones_listed():
    from dangan.plugins.loader import DEPARTMENT_NAMES
    implementing = set()
    for name in DEPARTMENT_NAMES:
        plugins = Plugins.load(load_entrypoints=False, enabled=[name])
        if any(i.plugin_name == name for i in plugins.pm.hook.dangan_access.get_hookimpls()):
            implementing.add(name)
    assert implementing == set(ACCESS_DEPARTMENTS)


def test_show_does_not_load_plugins_when_none_can_have_access_rules(archive, samples):
    from dangan.core.policy.access import require, visibility
    rec = archive.ingest(samples / "contract.txt", index=False)
    fresh = type(archive)(archive.root, archive.actor)
    assert visibility(fresh) is None
    require(fresh, "view", fresh.record(rec.id))
    assert "plugins" not in fresh.__dict__, "plugins were loaded for a read-only command"
    fresh.close()
