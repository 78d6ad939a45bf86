"""A process killed mid-write leaves its transient plaintext folder (a scan's parts, a sealed record's OCR work,
an upload) in /dev/shm, which keeps it until the machine restarts; crash recovery removes it."""
from __future__ import annotations

import subprocess
import sys

from dangan.core.kernel import memory_tmp


def _dead_process() -> tuple[int, str]:
    """A pid and start time of a process that has ended (its folder name, as it would have written it)."""
    p = subprocess.Popen([sys.executable, "-c",
                          "import os; from dangan.repository.fsutil import process_start; "
                          "print(os.getpid(), process_start(os.getpid()))"], stdout=subprocess.PIPE, text=True)
    out, _ = p.communicate(timeout=60)
    pid, start = out.split()
    return int(pid), start


def test_recovery_removes_the_plaintext_folders_of_dead_processes_only(tmp_path, monkeypatch):
    monkeypatch.setenv("DANGAN_MEMORY_TMP", str(tmp_path))
    pid, start = _dead_process()
    dead = tmp_path / f"dangan-parts-{pid}-{start}-abc123"
    dead.mkdir()
    (dead / "secret-stack-01.pdf").write_bytes(b"%PDF-1.7 secret pages")
    import os
    reused = tmp_path / f"dangan-upload-{os.getpid()}-1-zz"       # a live pid, but another start time: a reused pid
    reused.mkdir()
    with memory_tmp.folder("upload", tmp_path) as mine:             # this live process's own folder stays
        other = tmp_path / "dangan-parts-notours"                   # not of the shape: left alone
        other.mkdir()
        assert memory_tmp.sweep_dead() == 2
        assert not dead.exists() and not reused.exists()
        assert (tmp_path / mine.rsplit("/", 1)[1]).is_dir() and other.is_dir()
    assert memory_tmp.sweep_dead() == 0


def test_a_folder_is_named_after_this_process():
    import os
    name = memory_tmp.prefix("parts")
    assert name.startswith(f"dangan-parts-{os.getpid()}-") and memory_tmp._NAME.match(name + "x")
