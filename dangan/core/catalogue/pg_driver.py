"""``import psycopg`` for a short command: the driver without the scan of every installed distribution.

psycopg and psycopg-binary each learn their own version at import with ``importlib.metadata.version``, which
imports ``importlib.metadata`` (and ``email``) and walks ``sys.path`` for distributions: about a third of
the ~75 ms of CPU ``import psycopg`` costs, paid by every ``dangan show``/``ls`` on PostgreSQL.
:func:`psycopg` gives each its ``version`` module first, read from the name of its own ``.dist-info`` folder
beside the package (the installed version, the same string ``importlib.metadata`` would return); where that
folder is not plain to see (an unusual install) nothing is given and psycopg asks ``importlib.metadata`` as
usual.  Nothing else of psycopg is changed.
"""
from __future__ import annotations

import sys
import types
from typing import Any


def psycopg() -> Any:
    """The ``psycopg`` module, imported on first use (see the module's docstring)."""
    mod = sys.modules.get("psycopg")
    if mod is not None:
        return mod
    for package in ("psycopg", "psycopg_binary"):
        _give_version(package)
    import psycopg as mod
    return mod


def _give_version(package: str) -> None:
    name = f"{package}.version"
    if name in sys.modules:
        return
    try:
        from importlib.util import find_spec
        from pathlib import Path
        spec = find_spec(package)                 # a top-level package: found, not run
        if spec is None or not spec.origin:
            return
        found = list(Path(spec.origin).parent.parent.glob(f"{package}-*.dist-info"))
    except (ImportError, ValueError, OSError):
        return
    if len(found) != 1:
        return
    version = found[0].name[len(package) + 1:-len(".dist-info")]
    if not version or not version[0].isdigit():
        return
    module = types.ModuleType(name, f"{package} distribution version (from {found[0].name})")
    module.__version__ = version              # type: ignore[attr-defined]
    sys.modules[name] = module
