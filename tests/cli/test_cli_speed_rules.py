"""Shortcuts that keep read-only commands fast must stay truthful."""
from __future__ import annotations

from dangan.core.kernel.plugin_host import access_rules_possible


def test_an_enabled_department_with_access_rules_makes_them_possible(archive_root, monkeypatch):
    """The plugins package's declaration decides (tests/plugins/test_plugins_shipped.py keeps it true)."""
    from dangan.core.archive import Archive
    from dangan.core.kernel import plugin_host
    from dangan.core.kernel.actor import Actor
    monkeypatch.setattr(plugin_host, "_entry_points_present", lambda: False)   # whatever this venv has
    config = archive_root / "dangan.toml"
    base = config.read_text(encoding="utf-8")
    seen = {}
    for enabled in ("general_office", "construction", "customer_confidentiality"):
        config.write_text(base.replace("[plugins]\n", f'[plugins]\nenabled = ["{enabled}"]\n', 1), encoding="utf-8")
        a = Archive(archive_root, Actor("tester", "tester"))
        seen[enabled] = access_rules_possible(a)
        assert "plugins" not in a.__dict__, "asking loaded the plugins"
        a.close()
    assert seen == {"general_office": False, "construction": True, "customer_confidentiality": True}


def test_show_does_not_load_plugins_when_none_can_have_access_rules(archive, samples):
    from dangan.core.policy.access import require, visibility
    rec = archive.ingest(samples / "contract.txt", index=False)
    fresh = type(archive)(archive.root, archive.actor)
    assert visibility(fresh) is None
    require(fresh, "view", fresh.record(rec.id))
    assert "plugins" not in fresh.__dict__, "plugins were loaded for a read-only command"
    fresh.close()
