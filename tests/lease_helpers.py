"""A writer that begins an intent on a shared catalogue and then lives (renewing its lease) until told to go, or
is killed (kill -9): the other machine of the lease tests (tests/catalogue/test_pg_intent_leases.py).

    python tests/lease_helpers.py ROOT ingest|scan|handoff [DROP_FILE]

It prints the intent's key on one line, then waits for a line on stdin.  ``DANGAN_LEASE_SECONDS`` in its
environment sets how long its lease lasts unless renewed.
"""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve()


def begin_intent(root: Path, kind: str, drop_file: str | None = None) -> str:
    from dangan.core.archive import Archive
    from dangan.core.kernel.actor import Actor
    a = Archive(root, Actor("writer", "writer"))
    if kind == "ingest":
        from dangan.core.store.new_version import write_intent
        oid = "dleasewriter1"
        write_intent(a, oid, "scan.pdf")
        return oid
    if kind == "scan":
        from dangan.core.catalogue.fields import RecordFields
        from dangan.core.store.scan_resume import begin
        return begin(a, "batch.pdf", RecordFields(title="一批扫描件"))
    if kind == "handoff":
        from dangan.core.watch.config import DropFolder
        from dangan.core.watch.handoff import begin as begin_handoff
        import hashlib
        p = Path(drop_file or "")
        folder = DropFolder(path=p.parent)
        return str(begin_handoff(a, folder, p, p.stat(), hashlib.sha512(p.read_bytes()).hexdigest()))
    raise SystemExit(f"unknown kind {kind}")


class Writer:
    """The writer process (another machine, as far as the catalogue can tell)."""

    def __init__(self, root: Path, kind: str, *extra: str, lease: float = 2) -> None:
        env = {**os.environ, "DANGAN_LEASE_SECONDS": str(lease)}
        self.proc = subprocess.Popen([sys.executable, str(HERE), str(root), kind, *extra], env=env,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        self.key = self.proc.stdout.readline().strip()
        assert self.key, self.proc.stderr.read() if self.proc.stderr else ""

    def kill(self) -> float:
        """kill -9; returns when (monotonic) it died."""
        self.proc.kill()
        self.proc.wait()
        return time.monotonic()

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def wait_for(predicate, timeout: float = 60, step: float = 0.2):
    deadline = time.monotonic() + timeout
    while True:
        got = predicate()
        if got or time.monotonic() > deadline:
            return got
        time.sleep(step)


if __name__ == "__main__":
    key = begin_intent(Path(sys.argv[1]), sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else None)
    print(key, flush=True)
    sys.stdin.readline()
