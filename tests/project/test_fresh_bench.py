"""Benchmarks time child processes as an installed copy runs them: from a bytecode cache."""
from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path
from conftest import REPO  # noqa: E402

BENCH = REPO / "bench"


def _installed():
    spec = importlib.util.spec_from_file_location("bench_installed", BENCH / "installed.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_timed_children_run_from_a_compiled_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("PYTHONDONTWRITEBYTECODE", "1")          # as in this development environment
    installed = _installed()
    env = installed_env = installed.installed_env(tmp_path)
    assert "PYTHONDONTWRITEBYTECODE" not in installed_env
    installed.compile_ahead(env, site_packages=False)
    cache = Path(env["PYTHONPYCACHEPREFIX"])
    compiled = {p.name.split(".")[0] for p in cache.rglob("*.pyc") if "dangan" in p.parts}
    assert {"archive", "ingest", "watcher", "__init__"} <= compiled
    probe = ("import sys, importlib.util, dangan.core.store.ingest as m\n"
             "print(sys.dont_write_bytecode, importlib.util.cache_from_source(m.__file__))")
    out = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True).stdout
    flag, pyc = out.split()
    assert flag == "False" and Path(pyc).is_file() and str(cache) in pyc


def test_every_benchmark_that_times_child_processes_uses_the_cache():
    for script in sorted(BENCH.glob("bench_*.py")):
        text = script.read_text(encoding="utf-8")
        children = re.search(r"subprocess\.(run|Popen)\(\s*(cmd|\[sys\.executable|\[str\(exe\))", text) or \
            re.search(r"^def (sh|run)\(", text, re.M)
        if children:
            assert "compile_ahead(" in text, f"{script.name} times child processes without a bytecode cache"
