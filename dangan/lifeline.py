"""Processes that die with the dangan process that needs them, so a ``kill -9`` leaves no orphans.

The extraction worker is a forkserver child: its parent is the forkserver, not dangan, and the
forkserver outlives dangan as long as the worker lives (every forkserver child holds the write end
of the forkserver's "alive" pipe).  So the worker watches dangan itself (:func:`die_with`: a pidfd,
polled by a daemon thread) and, when dangan is gone, SIGKILLs its own process group — itself and
every tool it started (tesseract, pdftoppm, pdftotext, ffprobe run in that group).  The tools are
also started with ``preexec_fn=tool_preexec()``, ``PR_SET_PDEATHSIG``: they die with the worker
however the worker dies (its CPU limit, the OOM killer).  The worker itself asks for the same
signal when the forkserver goes (:func:`die_with_parent`).  So the time limit the parent enforced
can never be outlived.  Shared by core and the extractor plugins, it imports nothing of dangan.
Off Linux (no ``prctl``) the pdeathsig requests are no-ops.
"""
from __future__ import annotations

import ctypes
import os
import select
import signal
import sys
import threading
import time

from .repository.fsutil import pid_alive

PR_SET_PDEATHSIG = 1
_prctl = None


def _load_prctl():
    global _prctl
    if _prctl is None and sys.platform.startswith("linux"):
        try:
            _prctl = ctypes.CDLL(None, use_errno=True).prctl
        except (OSError, AttributeError):
            _prctl = False
    return _prctl or None


def die_with_parent(parent_pid: int | None = None, sig: int = signal.SIGKILL) -> bool:
    """Have the kernel send ``sig`` to this process when its parent exits.

    ``parent_pid`` closes the race of a parent that died before the request: if it is given and is
    no longer this process's parent (or no longer alive), the signal is delivered now.
    """
    prctl = _load_prctl()
    if prctl is None or prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0) != 0:
        return False
    if parent_pid is not None and os.getppid() != parent_pid:
        os.kill(os.getpid(), sig)
    return True


def tool_preexec():
    """A ``preexec_fn`` for ``subprocess``: the tool dies with the process that started it.

    ``prctl`` is looked up here, before the fork, so the child only makes one foreign call.
    """
    if _load_prctl() is None:
        return None
    parent = os.getpid()
    return lambda: die_with_parent(parent)


def die_with(pid: int, sig: int = signal.SIGKILL) -> None:
    """When process ``pid`` exits, send ``sig`` to this process's whole group (call after setsid).

    A daemon thread waits on a pidfd (Linux ≥ 5.3), else checks once a second.
    """
    def kill_group() -> None:
        os.killpg(os.getpgid(0), sig)

    try:
        fd = os.pidfd_open(pid)
    except (AttributeError, OSError):
        fd = None
    if fd is None and not pid_alive(pid):
        kill_group()

    def watch() -> None:
        if fd is not None:
            poller = select.poll()
            poller.register(fd, select.POLLIN)
            while not poller.poll():
                pass
        else:
            while pid_alive(pid):
                time.sleep(1)
        kill_group()

    threading.Thread(target=watch, name=f"dangan-lifeline-{pid}", daemon=True).start()
