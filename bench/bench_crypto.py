"""Benchmark: raw AEAD throughput of `cryptography` beside dangan-enc/1 streaming.

    .venv/bin/python bench/bench_crypto.py [--size-mib 1024] [--repeat 3]

Prints a markdown table (MB/s = 10**6 bytes per second, best of --repeat runs)
with the command and the machine.  Raw rows encrypt 64 KiB chunks in memory;
the stream rows run encrypt_stream / decrypt_stream over --size-mib of
plaintext held nowhere (a 1 MiB random block repeated), ciphertext kept in
memory between the two, so no disk is involved.  ``encrypt_stream`` also
computes the plaintext SHA-512, which is part of its job.
"""
from __future__ import annotations

import argparse
import hashlib
import os
import platform
import ssl
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import cryptography  # noqa: E402
from cryptography.hazmat.backends.openssl import backend  # noqa: E402
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305  # noqa: E402

from dangan.repository.crypto import CHUNK_SIZE, Binding, decrypt_stream, encrypt_stream, new_key  # noqa: E402

BLOCK = os.urandom(1 << 20)


class Repeated:
    """``size`` bytes of a repeated random block, read like a file."""

    def __init__(self, size: int) -> None:
        self.left = size
        self.pos = 0

    def read(self, n: int = -1) -> bytes:
        n = self.left if n < 0 else min(n, self.left)
        n = min(n, len(BLOCK) - self.pos)
        out = BLOCK[self.pos:self.pos + n]
        self.pos = (self.pos + n) % len(BLOCK)
        self.left -= n
        return out


def best(repeat: int, fn: Callable[[], int]) -> float:
    """Best MB/s of ``repeat`` runs of ``fn`` (which returns the bytes it processed)."""
    rates = []
    for _ in range(repeat):
        t = time.perf_counter()
        n = fn()
        rates.append(n / (time.perf_counter() - t) / 1e6)
    return max(rates)


def raw(aead, size: int) -> Callable[[], int]:
    chunk = BLOCK[:CHUNK_SIZE]

    def run() -> int:
        for i in range(size // CHUNK_SIZE):
            aead.encrypt(i.to_bytes(12, "big"), chunk, None)
        return size
    return run


def sha512(size: int) -> Callable[[], int]:
    def run() -> int:
        h = hashlib.sha512()
        for _ in range(size // len(BLOCK)):
            h.update(BLOCK)
        return size
    return run


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = " / ".join(f"{x:.1f}" for x in os.getloadavg())
    return (f"{cpu}, {os.cpu_count()} CPUs, {platform.system()} {platform.release()}; Python "
            f"{platform.python_version()}; cryptography {cryptography.__version__} with "
            f"{backend.openssl_version_text()} (Python ssl: {ssl.OPENSSL_VERSION}); load average {load}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size-mib", type=int, default=1024, help="plaintext per stream run (default 1024)")
    ap.add_argument("--raw-mib", type=int, default=512, help="bytes per raw-primitive run (default 512)")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    size, raw_size = args.size_mib << 20, args.raw_mib << 20
    key, binding = new_key(), Binding("vol", "rec", 1, "content-1")

    rows = [
        ("AES-256-GCM encrypt (raw, 64 KiB chunks)", best(args.repeat, raw(AESGCM(os.urandom(32)), raw_size))),
        ("ChaCha20-Poly1305 encrypt (raw, 64 KiB chunks)",
         best(args.repeat, raw(ChaCha20Poly1305(os.urandom(32)), raw_size))),
        ("SHA-512 (hashlib)", best(args.repeat, sha512(raw_size))),
    ]
    cipher: list[bytes] = []

    def enc() -> int:
        cipher.clear()
        reader = encrypt_stream(Repeated(size), key, binding)
        while block := reader.read(1 << 20):
            cipher.append(block)
        assert reader.plaintext_size == size
        return size

    def dec() -> int:
        n = 0
        for chunk in decrypt_stream(iter(cipher), key, binding):
            n += len(chunk)
        assert n == size
        return n

    rows.append((f"encrypt_stream, {args.size_mib} MiB (ChaCha20-Poly1305 + SHA-512 of plaintext)",
                 best(args.repeat, enc)))
    rows.append((f"decrypt_stream, {args.size_mib} MiB", best(args.repeat, dec)))

    print(f"Command: `{' '.join([Path(sys.executable).name] + sys.argv)}`  ")
    print(f"Machine: {machine()}  ")
    print(f"Best of {args.repeat} runs.\n")
    print("| operation | MB/s |")
    print("|---|---:|")
    for name, rate in rows:
        print(f"| {name} | {rate:,.0f} |")


if __name__ == "__main__":
    main()
