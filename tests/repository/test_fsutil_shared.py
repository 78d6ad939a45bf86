"""The shared process and lock primitives (``repository/fsutil``): one pid-alive, one ``flock``.

Each is driven against a real second process: a lock another process holds, a process that died, a
pid compared with a start time that is not its own.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from dangan.repository.fsutil import flocked, lock_held, pid_alive, process_start

HOLDER = """
import fcntl, os, sys
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o600)
fcntl.flock(fd, fcntl.LOCK_SH if sys.argv[2] == "shared" else fcntl.LOCK_EX)
print("held", flush=True)
sys.stdin.read()
"""


@pytest.fixture
def holder(tmp_path):
    """Start a process that holds a flock on a file until it is killed."""
    procs = []

    def start(path: Path, kind: str = "exclusive") -> subprocess.Popen:
        p = subprocess.Popen([sys.executable, "-c", HOLDER, str(path), kind], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True)
        assert p.stdout.readline().strip() == "held"
        procs.append(p)
        return p

    yield start
    for p in procs:
        if p.poll() is None:
            p.kill()
        p.wait()


def test_a_lock_another_process_holds_is_refused_at_once_or_after_the_timeout(tmp_path, holder):
    lock = tmp_path / "x.lock"
    p = holder(lock)
    assert lock_held(lock)
    with flocked(lock, wait=False) as held:
        assert held is False
    with flocked(lock, timeout=0.05) as held:
        assert held is False
    with flocked(lock, shared=True, wait=False) as held:
        assert held is False                      # an exclusive holder keeps readers out too
    p.send_signal(signal.SIGKILL)                 # killed, as kill -9: the kernel drops its lock
    p.wait()
    assert not lock_held(lock)
    with flocked(lock, wait=False) as held:
        assert held is True
        assert lock_held(lock)                    # held by this process, seen through another descriptor
    assert not lock_held(lock)


def test_shared_locks_go_together_and_keep_a_writer_out(tmp_path, holder):
    lock = tmp_path / "s.lock"
    holder(lock, "shared")
    with flocked(lock, shared=True, wait=False) as held:
        assert held is True
    with flocked(lock, timeout=0.05) as held:
        assert held is False
    assert not lock_held(lock)                    # a shared holder is no writer


def test_a_lock_file_is_made_with_the_mode_asked_for(tmp_path):
    lock = tmp_path / "k.lock"
    old = os.umask(0o022)
    try:
        with flocked(lock, mode=0o600) as held:
            assert held
    finally:
        os.umask(old)
    assert lock.stat().st_mode & 0o777 == 0o600
    assert not lock_held(tmp_path / "never-made.lock") and not (tmp_path / "never-made.lock").exists()


def test_pid_alive_knows_the_living_the_dead_and_a_reused_pid():
    me = os.getpid()
    assert pid_alive(me) and pid_alive(me, process_start(me))
    assert not pid_alive(me, "0")                 # recorded for another process that had this pid
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    assert not pid_alive(dead.pid) and process_start(dead.pid) is None
    assert not pid_alive(0) and not pid_alive(-1)  # never a process group, nor every process
    assert pid_alive(1)                           # another's (or init): alive all the same
