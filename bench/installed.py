"""Run timed child processes the way a user's installed dangan runs: from a bytecode cache.

This development environment sets ``PYTHONDONTWRITEBYTECODE=1`` and dangan is an
editable install, so a plain child process compiles every dangan module from
source on every start (hundreds of milliseconds that no installed copy pays:
``pip install`` compiles to bytecode).  ``installed_env(base)`` is the
environment for timed children: ``PYTHONDONTWRITEBYTECODE`` removed and the
cache kept under ``base/pycache`` (``PYTHONPYCACHEPREFIX``) so the source tree is
not touched; ``compile_ahead(env)`` fills that cache (``compileall`` of dangan
and of the site-packages it imports) before anything is timed.
"""
from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import dangan

PACKAGE = Path(dangan.__file__).resolve().parent


def installed_env(base: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(Path(base).resolve() / "pycache")
    env.update(extra or {})
    return env


def compile_ahead(env: dict[str, str], *, site_packages: bool = True) -> None:
    """Byte-compile dangan (and site-packages) into the environment's cache (quietly; errors are not fatal:
    a module that does not compile is compiled, or fails, at import as before)."""
    targets = [str(PACKAGE)] + ([sysconfig.get_paths()["purelib"]] if site_packages else [])
    subprocess.run([sys.executable, "-m", "compileall", "-q", "-j", "0", *targets], env=env,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
