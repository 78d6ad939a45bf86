"""docs/plugins.md cannot go stale: every hookspec is documented, with its parameters."""
from __future__ import annotations

import inspect

import pytest

from dangan.plugins import hookspecs
from conftest import REPO  # noqa: E402

DOC = (REPO / "docs" / "plugins.md").read_text(encoding="utf-8")
HOOKS = [name for name, fn in inspect.getmembers(hookspecs, inspect.isfunction) if name.startswith("dangan_")]


def test_there_are_hooks():
    assert len(HOOKS) >= 15


@pytest.mark.parametrize("name", HOOKS)
def test_every_hook_is_in_the_reference_with_its_signature(name):
    params = ", ".join(inspect.signature(getattr(hookspecs, name)).parameters)
    assert f"### `{name}({params})`" in DOC, f"docs/plugins.md lacks a reference entry for {name}({params})"


@pytest.mark.parametrize("name", HOOKS)
def test_every_hookspec_has_the_docstring_template(name):
    doc = inspect.getdoc(getattr(hookspecs, name)) or ""
    for param in inspect.signature(getattr(hookspecs, name)).parameters:
        assert f":param {param}:" in doc, f"{name} does not document {param}"
    assert ":returns:" in doc and "Example::" in doc
    assert ("firstresult" in doc.lower()) or ("not firstresult" in doc.lower())


def test_every_shipped_department_is_documented():
    from dangan.plugins.manager import DEPARTMENT_NAMES
    for name in DEPARTMENT_NAMES:
        assert f"`{name}`" in DOC
