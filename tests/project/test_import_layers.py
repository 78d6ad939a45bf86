"""The layer order written in ``dangan/core/__init__.py`` holds: no package imports one above it.

Every ``from dangan.core.X …`` in every module counts, lazy (function-level) imports included.
``KNOWN_UPWARD`` lists the upward edges that exist today, file by file, each a debt: removing one
is welcome, adding one fails this test.  An import under ``if TYPE_CHECKING:`` is an annotation, not a
dependency (it never runs): it may name a layer above, so a low module can say ``archive: Archive``.
A face is never imported, not even for types.
"""
from __future__ import annotations

import ast
import sys
from pathlib import Path

import dangan

ORDER = ["kernel", "catalogue", "policy", "confidential", "search", "store", "management", "backup",
         "watch", "status", "archive", "service"]
CORE = Path(dangan.__file__).parent / "core"

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
