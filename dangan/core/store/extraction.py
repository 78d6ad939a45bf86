"""Run text extraction in a worker process with time and memory limits.

``extract_in_worker`` is the one-shot form; ``ExtractionWorker`` keeps one
child process alive across files (a batch pays the start-up once) and
replaces it after any failure.  The child:

* runs in its own process group, so Tesseract and pdftoppm die with it;
* dies with dangan (:mod:`dangan.lifeline`): a thread waiting on dangan's pidfd kills the worker's
  process group when dangan is gone, and its tools have ``PR_SET_PDEATHSIG`` besides, so a
  ``kill -9`` of dangan leaves no worker or Tesseract running past the time limit;
* has ``RLIMIT_AS`` (address space, inherited by its tools) set to
  ``memory_mb``; an allocation past it raises MemoryError in Python or kills
  the tool, and either becomes ``failed``;
* has ``RLIMIT_CPU`` raised per job to "CPU used so far + timeout", so a CPU
  loop ends with SIGXCPU even if the parent were slow to act.

The parent waits ``timeout`` seconds of wall time, then kills the group.
Any crash, timeout, MemoryError or exception becomes
``Extraction(status="failed", message="extraction failed: <reason>")``.

Plain-text-like files (text/plain, text/csv, text/markdown, text/html, …) up
to ``INPROCESS_MAX_BYTES`` are extracted in the calling process: that path
reads a bounded number of bytes, decodes them with codecs and runs only
pure-Python linear-time code (charset-normalizer on a 64 KB sample, the stdlib
HTML and e-mail parsers), so it cannot hang or blow memory up, and 1,000
small text files cost no process round trips.
"""
from __future__ import annotations

import os
import resource
import signal
import time
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable

from dangan.lifeline import die_with, die_with_parent
from dangan.model import ExtractOptions, Extraction

if TYPE_CHECKING:
    from multiprocessing.connection import Connection
    from multiprocessing.process import BaseProcess

INPROCESS_MIMES = frozenset({"text/plain", "text/csv", "text/markdown", "text/x-markdown", "text/html",
                             "text/tab-separated-values", "application/json", "text/xml", "application/xml"})
INPROCESS_MAX_BYTES = 2 * 1024 * 1024

Extractor = Callable[[Path, str, ExtractOptions], Extraction]


class PluginExtractor:
    """Extraction through the plugins' ``dangan_extract`` hook (first answer wins).

    Picklable: the worker process receives it and loads the plugin facade
    once, with the archive's plugin folders and enable/disable lists.
    """

    def __init__(self, plugin_dirs: Iterable[str] = (), enabled: Iterable[str] | None = None,
                 disabled: Iterable[str] = ()) -> None:
        self.key = (tuple(plugin_dirs), None if enabled is None else tuple(enabled), tuple(disabled))

    def __call__(self, path: Path, mime: str, options: ExtractOptions) -> Extraction:
        facade = _FACADES.get(self.key)
        if facade is None:
            from dangan.plugins.manager import Plugins
            dirs, enabled, disabled = self.key
            facade = _FACADES[self.key] = Plugins.load(plugin_dirs=list(dirs), enabled=enabled, disabled=disabled)
        return facade.extract(path, mime, options)


_FACADES: dict = {}


def _failed(reason: str) -> Extraction:
    return Extraction(status="failed", message=f"extraction failed: {reason}", extractor="worker")


def _child(conn, memory_mb: int, extractor: Extractor | None, owner_pid: int = 0) -> None:
    """Worker loop: receive (path, mime, options, cpu_seconds), send back an Extraction."""
    os.setsid()
    die_with_parent(os.getppid())                    # the forkserver (or dangan, with spawn)
    if owner_pid:
        die_with(owner_pid)                          # dangan: this group (the worker and its tools) dies with it
    limit = memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    run = extractor or PluginExtractor()
    while True:
        try:
            job = conn.recv()
        except (EOFError, OSError):
            return
        if job is None:
            return
        path, mime, options, cpu_seconds = job
        usage = resource.getrusage(resource.RUSAGE_SELF)
        soft = int(usage.ru_utime + usage.ru_stime + cpu_seconds) + 1
        _, hard = resource.getrlimit(resource.RLIMIT_CPU)
        resource.setrlimit(resource.RLIMIT_CPU, (soft if hard == resource.RLIM_INFINITY else min(soft, hard), hard))
        try:
            result = run(Path(path), mime, options)
        except MemoryError:
            result = _failed(f"out of memory (limit {memory_mb} MB)")
        except BaseException as exc:  # noqa: BLE001 - the child reports everything, the parent decides
            result = _failed(f"{type(exc).__name__}: {exc}"[:300])
        if isinstance(result, Extraction) and result.status == "failed" and "MemoryError" in result.message:
            result.message = f"extraction failed: out of memory (limit {memory_mb} MB)"
        try:
            try:
                conn.send(result)
            except MemoryError:
                conn.send(_failed(f"out of memory sending the result (limit {memory_mb} MB)"))
        except (BrokenPipeError, ConnectionError, OSError):
            return                                   # nobody is waiting for the answer any more


def _context():
    import multiprocessing    # here, not at the top: plain text is extracted in-process, without a worker
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")


class ExtractionWorker:
    """A reusable extraction child process; use as a context manager.

    ``extractor`` replaces the dispatcher (tests inject misbehaving ones); it
    must be a picklable top-level function.
    """

    def __init__(self, *, timeout: float = 120, memory_mb: int = 1024, inprocess_text: bool = True,
                 extractor: Extractor | None = None, plugins: PluginExtractor | None = None) -> None:
        self.timeout = timeout
        self.memory_mb = memory_mb
        self.inprocess_text = inprocess_text and extractor is None
        self.extractor = extractor or plugins or PluginExtractor()
        self._proc: BaseProcess | None = None
        self._conn: Connection | None = None

    def __enter__(self) -> "ExtractionWorker":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _start(self) -> Connection:
        ctx = _context()
        parent, child = ctx.Pipe()
        proc = ctx.Process(target=_child, args=(child, self.memory_mb, self.extractor, os.getpid()), daemon=True,
                           name="dangan-extract")
        proc.start()
        child.close()
        self._proc, self._conn = proc, parent
        return parent

    def _kill(self) -> None:
        proc, conn = self._proc, self._conn
        self._proc = self._conn = None
        if conn is not None:
            conn.close()
        if proc is None:
            return
        if proc.pid and proc.is_alive():
            try:
                os.killpg(proc.pid, signal.SIGKILL)      # the child and its tesseract/pdftoppm
            except (ProcessLookupError, PermissionError):
                proc.kill()
        proc.join(5)

    def close(self) -> None:
        """Stop the child (politely, then by force)."""
        if self._proc is not None and self._proc.is_alive() and self._conn is not None:
            try:
                self._conn.send(None)
                self._proc.join(2)
            except (OSError, ValueError):
                pass
        self._kill()

    def _death(self) -> str:
        proc = self._proc
        if proc is not None:
            proc.join(1)
        code = proc.exitcode if proc is not None else None
        if code is not None and code < 0:
            sig = signal.Signals(-code)
            if sig == signal.SIGXCPU:
                return f"CPU time limit of {self.timeout:.0f} s exceeded"
            if sig == signal.SIGKILL:
                return "the worker was killed (SIGKILL; out of memory?)"
            return f"the worker crashed ({sig.name})"
        return f"the worker exited unexpectedly (exit status {code})"

    def extract(self, path: Path, mime: str, options: ExtractOptions | None = None) -> Extraction:
        """Extract one file; never raises, never blocks longer than about ``timeout`` seconds."""
        options = options or ExtractOptions()
        path = Path(path)
        if self.inprocess_text and mime in INPROCESS_MIMES:
            try:
                small = path.is_file() and path.stat().st_size <= INPROCESS_MAX_BYTES
            except OSError:
                small = False
            if small:
                return self.extractor(path, mime, options)
        # Leave room inside the hard timeout for the extractor's own soft limits.
        options = replace(options, time_budget=min(options.time_budget, self.timeout * 0.7),
                          tool_timeout=min(options.tool_timeout, self.timeout * 0.8))
        for _attempt in (1, 2):
            conn = self._conn
            if conn is None or self._proc is None or not self._proc.is_alive():
                self._kill()
                conn = self._start()
            try:
                conn.send((str(path), mime, options, self.timeout))
                break
            except (BrokenPipeError, OSError):
                self._kill()                      # a dead worker from an earlier job: start afresh once
        else:
            return _failed("could not start the extraction worker")
        started = time.monotonic()
        try:
            ready = conn.poll(self.timeout)
        except (OSError, EOFError):
            ready = True
        if not ready:
            self._kill()
            return _failed(f"timed out after {self.timeout:g} s")
        try:
            result = conn.recv()
        except (EOFError, OSError):
            reason = self._death()
            self._kill()
            return _failed(reason)
        if not isinstance(result, Extraction):
            self._kill()
            return _failed("the worker sent an unexpected reply")
        if result.status == "failed" and "out of memory" in result.message:
            self._kill()                          # a process that hit its limit may be in a bad state
        result.metadata.setdefault("seconds", round(time.monotonic() - started, 3))
        return result


def extract_in_worker(path: Path, mime: str, options: ExtractOptions | None = None, *,
                      timeout: float = 120, memory_mb: int = 1024) -> Extraction:
    """Extract one file in a fresh child process with time and memory limits."""
    with ExtractionWorker(timeout=timeout, memory_mb=memory_mb) as worker:
        return worker.extract(path, mime, options)
