"""The plugins package's own declaration of what its shipped plugins implement stays true, and core
uses it instead of naming department plugins."""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import dangan
from dangan.plugins.loader import DEFAULT_NAMES, DEPARTMENT_NAMES
from dangan.plugins.manager import Plugins
from dangan.plugins.shipped import BUILTIN, SHIPPED_HOOKS, shipped_implementing


def _found() -> dict[str, set[str]]:
    plugins = Plugins.load(load_entrypoints=False, enabled=list(DEPARTMENT_NAMES))
    found: dict[str, set[str]] = {}
    for hook in vars(plugins.pm.hook):
        if hook.startswith("dangan_"):
            for impl in getattr(plugins.pm.hook, hook).get_hookimpls():
                found.setdefault(impl.plugin_name, set()).add(hook)
    return found


def test_the_declaration_is_what_pluggy_finds_in_every_shipped_plugin():
    assert set(SHIPPED_HOOKS) == set(DEFAULT_NAMES) | set(DEPARTMENT_NAMES)
    assert BUILTIN == DEFAULT_NAMES
    found = _found()
    assert {name: set(hooks) for name, hooks in SHIPPED_HOOKS.items()} == {n: found.get(n, set()) for n in SHIPPED_HOOKS}
    assert shipped_implementing("dangan_access") == {"construction", "customer_confidentiality"}


def test_asking_loads_neither_pluggy_nor_a_plugin():
    code = ("import sys\nfrom dangan.plugins.shipped import shipped_implementing\n"
            "shipped_implementing('dangan_access')\n"
            "print(sorted(m for m in sys.modules if m == 'pluggy' or m.startswith('dangan.plugins.')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "['dangan.plugins.shipped']"


def test_core_names_no_department_plugin():
    """No string in core's code is a department plugin's name (the config template's comment may show one)."""
    core = Path(dangan.__file__).parent / "core"
    named = [(path.relative_to(core).as_posix(), node.value)
             for path in sorted(core.rglob("*.py"))
             for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
             if isinstance(node, ast.Constant) and node.value in DEPARTMENT_NAMES]
    assert named == []
