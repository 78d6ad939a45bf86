"""Copy a stream to a file while computing its sha512, on two cores.

The calling thread reads into a small ring of reusable buffers and writes
them; a helper thread hashes each buffer behind it (``hashlib`` releases the
GIL), so hashing overlaps I/O.  Small inputs (one buffer) are done inline.
"""
from __future__ import annotations

import hashlib
import queue
import threading
from typing import BinaryIO

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
    """Write immutable pieces as they come; hash them on a helper thread in batches of ~1 MiB."""
    h = hashlib.sha512()
    work: queue.Queue = queue.Queue(maxsize=8)

    def hasher() -> None:
        while (batch := work.get()) is not None:
            for piece in batch:
                h.update(piece)

    t = threading.Thread(target=hasher, name="dangan-sha512", daemon=True)
    t.start()
    total, batch, batched = 0, [], 0
    try:
        for piece in pieces:
            out.write(piece)
            total += len(piece)
            batch.append(piece)
            batched += len(piece)
            if batched >= BUFFER:
                work.put(batch)
                batch, batched = [], 0
        if batch:
            work.put(batch)
    finally:
        work.put(None)
        t.join()
    return total, h.hexdigest()
