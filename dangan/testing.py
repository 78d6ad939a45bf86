"""A pytest kit for plugin authors: a throwaway archive with your plugin registered.

Use it from a plugin's own tests::

    # conftest.py
    pytest_plugins = ["dangan.testing"]

    # test_my_plugin.py
    import my_plugin

    def test_contracts_need_a_counterparty(make_archive, tmp_path):
        archive = make_archive(plugins=[my_plugin], enabled=[])
        f = tmp_path / "c.txt"; f.write_text("contract")
        with pytest.raises(ValidationFailed):
            archive.ingest(f, category="FW-HT")

``make_archive`` creates a new archive in a temporary folder (``Archive.init``),
registers the given plugin modules or objects for that archive object only,
and closes every archive at the end of the test.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Iterable

import pytest


def _config_with_plugins(root: Path, enabled: Iterable[str] | None) -> None:
    if enabled is None:
        return
    cfg = root / "dangan.toml"
    names = ", ".join(f'"{n}"' for n in enabled)
    cfg.write_text(cfg.read_text(encoding="utf-8").replace("[plugins]\n", f"[plugins]\nenabled = [{names}]\n", 1),
                   encoding="utf-8")


@pytest.fixture
def make_archive(tmp_path_factory) -> Callable[..., Any]:
    """Factory: ``make_archive(plugins=[module_or_object, ...], enabled=None, fonds="Z109", actor="tester")``."""
    from dangan.core.kernel.actor import Actor
    from dangan.core.archive import Archive

    made: list[Archive] = []

    def make(*, plugins: Iterable[Any] = (), enabled: Iterable[str] | None = None, fonds: str = "Z109",
             actor: str = "tester") -> Archive:
        root = tmp_path_factory.mktemp("archive") / "archive"
        who = Actor(actor, actor)
        Archive.init(root, fonds=fonds, name="test", actor=who).close()
        _config_with_plugins(root, enabled)
        extra = tuple((getattr(p, "__name__", type(p).__name__).rsplit(".", 1)[-1], p) for p in plugins)
        archive = Archive(root, who, extra_plugins=extra)
        made.append(archive)
        return archive

    yield make
    for a in made:
        a.close()


@pytest.fixture
def dangan_archive(make_archive):
    """A throwaway archive with only the built-in plugins."""
    return make_archive()
