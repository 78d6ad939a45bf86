"""Processes that die with their parent (``PR_SET_PDEATHSIG``), so a ``kill -9`` leaves no orphans.

The extraction worker is a forkserver child: its parent is the forkserver, which exits as soon as
the dangan process that started it is gone (its "alive" pipe reaches EOF).  The worker asks the
kernel for SIGKILL when that happens (:func:`die_with_parent`), and every tool it runs (tesseract,
pdftoppm, pdftotext, ffprobe) is started with ``preexec_fn=tool_preexec()``, which asks for the same
when the worker goes.  So killing dangan kills the forkserver's worker, which kills its tools: the
time limit the parent enforced can never be outlived.  Shared by core and the extractor plugins, so
it imports nothing of dangan.  Off Linux (no ``prctl``) these are no-ops.
"""
from __future__ import annotations

import ctypes
import os
import signal
import sys

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
