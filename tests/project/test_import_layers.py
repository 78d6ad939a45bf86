"""The layer order written in ``dangan/core/__init__.py`` holds: no package imports one above it.

Every ``from dangan.core.X …`` in every module counts, lazy (function-level) imports included.
``KNOWN_UPWARD`` lists the upward edges that exist today, file by file, each a debt: removing one
is welcome, adding one fails this test.  An import under ``if TYPE_CHECKING:`` is an annotation, not a
dependency (it never runs): it may name a layer above, so a low module can say ``archive: Archive``.
A face is never imported, not even for types.

Below core, ``dangan.repository``, ``dangan.index`` and ``dangan.plugins`` never import ``dangan.core`` (absolute,
relative or through ``importlib.import_module``), lazy imports included; under ``if TYPE_CHECKING:`` they may.
"""
from __future__ import annotations

import ast
import sys
from pathlib import Path

import dangan

ORDER = ["kernel", "catalogue", "policy", "confidential", "search", "store", "management", "backup",
         "watch", "status", "archive", "service"]
CORE = Path(dangan.__file__).parent / "core"
DANGAN = Path(dangan.__file__).parent
BELOW_CORE = ("repository", "index", "plugins")

KNOWN_UPWARD = {
    ("kernel/plugin_host.py", "catalogue"), ("kernel/plugin_host.py", "management"),
    ("catalogue/volumes.py", "confidential"), ("catalogue/volumes.py", "policy"),
    ("catalogue/audit_verify.py", "policy"), ("catalogue/tombstones.py", "store"),
    ("confidential/sealing.py", "store"),
    ("search/indexing.py", "store"), ("search/volume_search.py", "store"),
    ("store/batch.py", "archive"), ("store/deferred.py", "archive"), ("store/batch.py", "management"),
    ("store/recovery.py", "management"), ("store/revision.py", "management"),
    ("management/destruction.py", "backup"), ("management/destruction_intent.py", "backup"),
    ("management/inspection.py", "backup"),
    ("backup/restore.py", "archive"),
}


def _package(rel: Path) -> str:
    return rel.parts[0] if len(rel.parts) > 1 else rel.stem


def _type_only(tree: ast.AST) -> set[int]:
    """The nodes under ``if TYPE_CHECKING:`` (by id): read by the type checker, never run."""
    out: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for stmt in node.body:
                out.update(id(n) for n in ast.walk(stmt))
    return out


def edges():
    for path in sorted(CORE.rglob("*.py")):
        rel = path.relative_to(CORE)
        if rel.name == "__init__.py" and len(rel.parts) == 1:
            continue
        src = _package(rel)
        tree = ast.parse(path.read_text(encoding="utf-8"))
        type_only = _type_only(tree)
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module] if node.level == 0 else []
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            for name in names:
                parts = name.split(".")
                if parts[:2] == ["dangan", "core"] and len(parts) > 2 and parts[2] != src and id(node) not in type_only:
                    yield rel.as_posix(), src, parts[2]
                if parts[0] in ("click", "starlette", "fastapi", "jinja2", "uvicorn") or parts[:2] == ["dangan", "cli"]:
                    yield rel.as_posix(), src, "<face:" + name + ">"


def test_every_core_package_is_in_the_map():
    packages = {p.name for p in CORE.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    modules = {p.stem for p in CORE.glob("*.py") if p.stem != "__init__"}
    assert packages | modules == set(ORDER)
    doc = (CORE / "__init__.py").read_text(encoding="utf-8")
    for name in ORDER:
        assert f"    {name}" in doc, f"{name} missing from the map in dangan/core/__init__.py"


def test_core_imports_no_face():
    faces = [(f, d) for f, _, d in edges() if d.startswith("<face:")]
    assert faces == []


def test_no_package_imports_one_above_it():
    upward = {(f, d) for f, s, d in edges() if not d.startswith("<") and ORDER.index(d) > ORDER.index(s)}
    new = sorted(upward - KNOWN_UPWARD)
    assert new == [], f"imports against the layer order in dangan/core/__init__.py: {new}"


def test_the_known_debts_are_still_real():
    """A paid-off debt is struck from the list, so the list never hides a new edge."""
    upward = {(f, d) for f, s, d in edges() if not d.startswith("<") and ORDER.index(d) > ORDER.index(s)}
    assert sorted(KNOWN_UPWARD - upward) == []


def test_the_layer_test_can_fail(tmp_path, monkeypatch):
    (tmp_path / "kernel").mkdir()
    (tmp_path / "kernel" / "x.py").write_text("def f():\n    from dangan.core.watch import watcher\n")
    monkeypatch.setattr(sys.modules[__name__], "CORE", tmp_path)
    assert ("kernel/x.py", "kernel", "watch") in set(edges())


def test_only_imports_under_type_checking_are_type_only():
    tree = ast.parse("import typing\nfrom dangan.core.kernel import clock\nif typing.TYPE_CHECKING:\n"
                     "    from dangan.core.archive import Archive\nelse:\n    from dangan.core.store import ingest\n")
    imports = {node.module: id(node) in _type_only(tree) for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert imports == {"dangan.core.kernel": False, "dangan.core.archive": True, "dangan.core.store": False}


def _imported_names(tree: ast.AST, package: list[str]):
    """(node, dotted module name) for every import in ``tree``, relative ones resolved against ``package``."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                yield node, a.name
        elif isinstance(node, ast.ImportFrom):
            base = package[:len(package) - node.level + 1] if node.level else []
            module = ".".join(base + (node.module.split(".") if node.module else []))
            yield node, module
            for a in node.names:                       # from .. import core
                yield node, f"{module}.{a.name}"
        elif isinstance(node, ast.Call) and ast.unparse(node.func).endswith("import_module") and node.args \
                and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str):
            yield node, node.args[0].value


def below_core_edges(root: Path = DANGAN):
    """(file, module) for each import of ``dangan.core`` in the packages below core."""
    for pkg in BELOW_CORE:
        for path in sorted((root / pkg).rglob("*.py")):
            rel = path.relative_to(root)
            parts = ["dangan", *rel.with_suffix("").parts]
            package = parts[:-1]            # a module's package; for __init__.py, the package itself
            tree = ast.parse(path.read_text(encoding="utf-8"))
            type_only = _type_only(tree)
            for node, name in _imported_names(tree, package):
                if (name == "dangan.core" or name.startswith("dangan.core.")) and id(node) not in type_only:
                    yield rel.as_posix(), name


def test_nothing_below_core_imports_core():
    assert sorted(set(below_core_edges())) == []


def test_the_below_core_test_can_fail(tmp_path):
    for pkg in BELOW_CORE:
        (tmp_path / pkg / "deep").mkdir(parents=True)
    (tmp_path / "repository" / "x.py").write_text("def f():\n    from dangan.core.store import layout\n")
    (tmp_path / "index" / "deep" / "y.py").write_text("from ...core import archive\n")
    (tmp_path / "plugins" / "z.py").write_text("import importlib\nm = importlib.import_module('dangan.core.kernel')\n"
                                               "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
                                               "    from dangan.core.archive import Archive\n")
    found = set(below_core_edges(tmp_path))
    assert ("repository/x.py", "dangan.core.store") in found
    assert ("index/deep/y.py", "dangan.core") in found
    assert ("plugins/z.py", "dangan.core.kernel") in found
    assert ("plugins/z.py", "dangan.core.archive") not in found      # an annotation is no dependency


def _doc_map() -> dict[str, str]:
    """The map in ``dangan/core/__init__.py``: package → its text (continuation lines joined)."""
    doc = (CORE / "__init__.py").read_text(encoding="utf-8")
    block = doc.split("::\n\n", 1)[1].split("\n\n", 1)[0]
    rows: dict[str, str] = {}
    for line in block.splitlines():
        if line[4] != " ":
            name, _, text = line.strip().partition(" ")
            rows[name] = text.strip()
            last = name
        else:
            rows[last] += " " + line.strip()
    return rows


def _docs_map() -> dict[str, str]:
    """The core map in docs/architecture.md: package → its text, backquotes dropped."""
    text = (DANGAN.parent / "docs" / "architecture.md").read_text(encoding="utf-8")
    section = text.split("### Core's packages and their order", 1)[1].split("\n\n", 2)[2].split("\n\n", 1)[0]
    rows: dict[str, str] = {}
    for line in section.splitlines()[2:]:
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        name = cells[0].strip("`")
        assert name not in rows, f"{name} appears twice in docs/architecture.md's core map"
        rows[name] = cells[1].replace("`", "")
    return rows


def test_the_core_map_names_every_module_and_the_docs_say_the_same():
    import re
    doc, docs = _doc_map(), _docs_map()
    assert docs == doc                                     # the same map in both places, word for word
    assert list(doc) == [f"{p}/" if (CORE / p).is_dir() else p for p in ORDER]
    for pkg in (p for p in CORE.iterdir() if p.is_dir() and (p / "__init__.py").exists()):
        named = set(re.findall(r"[a-z_]+/?", doc[pkg.name + "/"]))
        mine = {p.stem for p in pkg.glob("*.py") if p.stem != "__init__"}
        mine |= {f"{p.name}/" for p in pkg.iterdir() if (p / "__init__.py").exists()}
        assert sorted(mine - named) == [], f"modules of core/{pkg.name} missing from the map"
