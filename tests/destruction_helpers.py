"""Shared by the destruction crash tests: run dangan in a subprocess (optionally with a crash window), an office."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

PASS = "correct horse battery staple"


def dangan(root: Path, *args, user: str = "arch") -> list[str]:
    return [sys.executable, "-m", "dangan", "--archive", str(root), "--as", user, *map(str, args)]


def run(root: Path, *args, user: str = "arch", crash: int | str | None = None) -> subprocess.CompletedProcess:
    """``crash``: N kills the process after its N-th rename; "commit:N" after its N-th destruction commit."""
    env = {**os.environ}
    if crash is not None:
        env["DANGAN_TEST_CRASH_AFTER"] = f"rename:{crash}" if isinstance(crash, int) else crash
    return subprocess.run(dangan(root, *args, user=user), capture_output=True, text=True, env=env)


def set_up_office(cli, monkeypatch, tmp_path):
    """Users boss (admin), arch (archivist) and mgr (manager); a secret volume V."""
    monkeypatch.setenv("DANGAN_PASSPHRASE", PASS)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "run"))
    cli("user", "add", "boss", "--clearance", "top-secret", user="x")
    for name, role in (("arch", "archivist"), ("mgr", "manager")):
        cli("user", "add", name, "--role", role, "--dept", "BGS", "--clearance", "top-secret", user="boss")
    cli("volume", "create", "V", "--secrecy", "秘密", "--title", "机要卷", user="boss")
    return cli
