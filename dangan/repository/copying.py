"""Copy a stream to a file while computing its sha512, on two cores.

The calling thread reads into a small ring of reusable buffers and writes
them; a helper thread hashes each buffer behind it (``hashlib`` releases the
GIL), so hashing overlaps I/O.  Small inputs (one buffer) are done inline.
"""
from __future__ import annotations

import hashlib
import queue
import threading
from typing import BinaryIO, Protocol

BUFFER = 1024 * 1024
RING = 4


def _fill(src: BinaryIO, buf: bytearray) -> int:
    readinto = getattr(src, "readinto", None)
    if readinto is not None:
        n = readinto(buf)
        return n or 0
    data = src.read(len(buf))
    buf[:len(data)] = data
    return len(data)


def copy_hashed(src: BinaryIO, out: BinaryIO) -> tuple[int, str]:
    """Copy ``src`` to ``out``; return (bytes copied, sha512 hex digest)."""
    pieces = getattr(src, "iter_chunks", None)
    if pieces is not None:              # an encrypting reader: take its chunks as they are made
        return _copy_pieces(pieces(), out)
    first = bytearray(BUFFER)
    n = _fill(src, first)
    h = hashlib.sha512()
    if n < BUFFER:                       # a small file: no thread
        view = memoryview(first)[:n]
        h.update(view)
        out.write(view)
        while rest := src.read(BUFFER):  # a short read is not always the end (pipes)
            h.update(rest)
            out.write(rest)
            n += len(rest)
        return n, h.hexdigest()
    free: queue.Queue = queue.Queue()
    work: queue.Queue = queue.Queue()
    for _ in range(RING - 1):
        free.put(bytearray(BUFFER))
    failure: list[BaseException] = []

    def hasher() -> None:
        try:
            while (item := work.get()) is not None:
                buf, size = item
                h.update(memoryview(buf)[:size])
                free.put(buf)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread below
            failure.append(exc)
            free.put(bytearray(BUFFER))

    t = threading.Thread(target=hasher, name="dangan-sha512", daemon=True)
    t.start()
    total = 0
    buf = first
    try:
        while n:
            out.write(memoryview(buf)[:n])
            work.put((buf, n))
            total += n
            buf = free.get()
            if failure:
                break
            n = _fill(src, buf)
    finally:
        work.put(None)
        t.join()
    if failure:
        raise failure[0]
    return total, h.hexdigest()


def _copy_pieces(pieces, out: BinaryIO) -> tuple[int, str]:
    """Write immutable pieces as they come, hashing them on a helper thread."""
    h = ThreadedHash(hashlib.sha512())
    total = 0
    try:
        for piece in pieces:
            out.write(piece)
            total += len(piece)
            h.update(piece)
    finally:
        digest = h.hexdigest()          # also ends the helper thread on an error
    return total, digest


class Hasher(Protocol):
    """What is asked of a running digest: a hashlib object, or a ``ThreadedHash`` around one."""

    def update(self, data: bytes, /) -> None: ...

    def hexdigest(self) -> str: ...


class ThreadedHash:
    """A hash fed from one thread and computed on a helper thread (hashlib releases the GIL), so
    hashing overlaps the caller's work.  Pieces must not change after ``update``."""

    def __init__(self, started: Hasher) -> None:
        self._h = started
        self._q: queue.Queue = queue.Queue(maxsize=8)
        self._pending: list[bytes] = []
        self._t = threading.Thread(target=self._run, name="dangan-sha512", daemon=True)
        self._t.start()
        self._digest: str | None = None

    BATCH = 16          # chunks handed over at a time (1 MiB), to keep queue overhead small

    def _run(self) -> None:
        while (batch := self._q.get()) is not None:
            for chunk in batch:
                self._h.update(chunk)

    def update(self, chunk: bytes) -> None:
        self._pending.append(chunk)
        if len(self._pending) >= self.BATCH:
            self._q.put(self._pending)
            self._pending = []

    def hexdigest(self) -> str:
        if self._digest is None:
            if self._pending:
                self._q.put(self._pending)
                self._pending = []
            self._q.put(None)
            self._t.join()
            self._digest = self._h.hexdigest()
        return self._digest
