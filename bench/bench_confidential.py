"""Encrypted ingest beside plain ingest and beside raw AES-GCM, in one run (issue 5).

    .venv/bin/python bench/bench_confidential.py [--files 10] [--mb 100] [--out /tmp/dangan-bench-conf]

Both ingests go through the same API path (Ingestor.ingest: staging copy with sha512,
fsync, OCFL publish, catalogue transaction); the encrypted one files into a secret
volume, so each file is also encrypted (dangan-enc/1) and its plaintext hashed.
Extraction is off in both (random bytes hold no text), so the figures compare storage.
"""
from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import time
from pathlib import Path


def machine() -> str:
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    return f"{os.cpu_count()} CPU ({cpu}), Python {platform.python_version()}"


def raw_aes_gcm(total_mb: int) -> float:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    aead = AESGCM(AESGCM.generate_key(bit_length=256))
    chunk = os.urandom(64 * 1024)
    n = total_mb * 16
    t = time.perf_counter()
    for i in range(n):
        aead.encrypt(i.to_bytes(12, "big"), chunk, None)
    return total_mb / (time.perf_counter() - t)


def pipeline_without_disk(mb: int = 512) -> tuple[float, float]:
    """The staging pipeline alone (copy with sha512; encrypted: also cipher and plaintext digest),
    into a sink that discards: what ingest costs in CPU, without the disk's noise.  Best of 3."""
    import io
    from dangan.repository.copying import copy_hashed
    from dangan.repository.crypto import Binding, encrypt_stream, new_key

    class Sink:
        def write(self, b):
            return len(b)

    data = os.urandom(mb * 1024 * 1024)
    key, binding = new_key(), Binding("v", "r", 1, "content-1")
    plain, enc = [], []
    for _ in range(3):
        t = time.perf_counter()
        copy_hashed(io.BytesIO(data), Sink())
        plain.append(time.perf_counter() - t)
        t = time.perf_counter()
        reader = encrypt_stream(io.BytesIO(data), key, binding, digest="sha256")
        copy_hashed(reader, Sink())
        reader.plaintext_digest
        enc.append(time.perf_counter() - t)
    return mb / min(plain), mb / min(enc)


def ingest_all(root: Path, files: list[Path], volume: str | None) -> float:
    from dangan.core.archive import Archive
    from dangan.core.catalogue.fields import RecordFields
    from dangan.core.store.ingest import Ingestor
    from dangan.core.kernel.pipeline import pipeline_for
    a = Archive(root)
    ing = Ingestor(a, allow_duplicate=True, **pipeline_for(a, extract=False))
    subprocess.run(["sync"])
    t = time.perf_counter()
    for f in files:
        ing.ingest(f, RecordFields(volume=volume))
    subprocess.run(["sync"])
    dt = time.perf_counter() - t
    a.close()
    return dt


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--files", type=int, default=10)
    ap.add_argument("--mb", type=int, default=100)
    ap.add_argument("--out", type=Path, default=Path("/tmp/dangan-bench-conf"))
    args = ap.parse_args()
    shutil.rmtree(args.out, ignore_errors=True)
    args.out.mkdir(parents=True)
    os.environ["DANGAN_PASSPHRASE"] = "bench passphrase"
    os.environ["XDG_DATA_HOME"] = str(args.out / "keys")
    src = args.out / "src"
    src.mkdir()
    files = []
    for i in range(args.files):
        p = src / f"f{i}.bin"
        with open(p, "wb") as fh:
            for _ in range(args.mb):
                fh.write(os.urandom(1024 * 1024))
        files.append(p)
    from dangan.core.archive import Archive
    from dangan.core.catalogue.volumes import create_volume
    total = args.files * args.mb
    plain_root, enc_root = args.out / "plain", args.out / "enc"
    Archive.init(plain_root, fonds="B1").close()
    a = Archive.init(enc_root, fonds="B1")
    create_volume(a, "S", "secret", passphrase=b"bench passphrase")
    a.close()
    # alternate the two, five rounds: this machine is shared and its disk noisy
    runs_p, runs_e = [], []
    ingest_all(plain_root, files, None)          # warm-up round, not counted: the first writes
    ingest_all(enc_root, files, "S")             # to a fresh filesystem area are unrepresentative
    for i in range(5):                           # alternate which goes first
        if i % 2:
            runs_e.append(ingest_all(enc_root, files, "S"))
            runs_p.append(ingest_all(plain_root, files, None))
        else:
            runs_p.append(ingest_all(plain_root, files, None))
            runs_e.append(ingest_all(enc_root, files, "S"))
    plain, enc = min(runs_p), min(runs_e)
    import statistics
    med_p, med_e = statistics.median(runs_p), statistics.median(runs_e)
    print("runs (s): plain", [round(x, 2) for x in runs_p], "encrypted", [round(x, 2) for x in runs_e])
    aes = raw_aes_gcm(total)
    pipe_plain, pipe_enc = pipeline_without_disk()
    print(f"machine: {machine()}; {args.files} × {args.mb} MB random files; scratch {args.out}")
    print(f"command: .venv/bin/python bench/bench_confidential.py --files {args.files} --mb {args.mb}\n")
    print("| measure | MB/s |\n|---|---:|")
    print(f"| plain ingest (Ingestor, extraction off, incl. final sync), best of 5 | {total / plain:,.0f} |")
    print(f"| encrypted ingest into a secret volume (same path), best of 5 | {total / enc:,.0f} |")
    print(f"| encrypted ÷ plain (best of 5 each) | {plain / enc:.0%} |")
    print(f"| encrypted ÷ plain (medians: {total / med_p:,.0f} and {total / med_e:,.0f} MB/s) | {med_p / med_e:.0%} |")
    print(f"| staging pipeline without the disk, plain (512 MB, best of 3) | {pipe_plain:,.0f} |")
    print(f"| staging pipeline without the disk, encrypted | {pipe_enc:,.0f} |")
    print(f"| pipeline: encrypted ÷ plain | {pipe_enc / pipe_plain:.0%} |")
    print(f"| raw AES-256-GCM, cryptography, 64 KiB chunks | {aes:,.0f} |")


if __name__ == "__main__":
    main()
