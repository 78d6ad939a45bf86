"""Benchmark the drop-folder watcher (issue 7, "Fast pickup").

    .venv/bin/python bench/bench_watch.py [--files N] [--settle S] [--out DIR]

A fresh archive, ``dangan watch DROP`` running as a child process exactly as
a user starts it (default settings: stability window 1 s), then single small
files dropped one at a time (the next only after the previous is
searchable), each with a unique word:

* text files written in place (a scanner writing into the folder),
* text files renamed into the folder (written elsewhere, then ``mv``),
* text PDFs (one page, the word in the content stream) written in place.

For each file: **drop → archived** (its record is committed in the
catalogue, read by polling ``catalogue.sqlite`` every 5 ms) and **drop →
searchable** (the word is found by a search of the full-text index, polled
every 20 ms through the index API, which reads without draining).  Prints a
markdown table (median, p95, max) with the machine and the command.
"""
from __future__ import annotations

import argparse
import hashlib
import os
import platform
import shlex
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def word(i: int, kind: str) -> str:
    letters = "bcdfghjklmnpqrstvwxz"
    s, n = "", i + 1
    while n:
        s, n = letters[n % 20] + s, n // 20
    return f"zq{kind}{s}watch"


def text_pdf(text: str) -> bytes:
    """A one-page PDF whose content stream shows ``text`` in Helvetica (a real text PDF)."""
    stream = f"BT /F1 18 Tf 72 720 Td ({text}) Tj ET".encode("latin-1")
    objs = [b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R"
            b" /Resources << /Font << /F1 5 0 R >> >> >>",
            b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
            b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    out, offsets = bytearray(b"%PDF-1.4\n"), []
    for i, body in enumerate(objs, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
    for off in offsets:
        out += b"%010d 00000 n \n" % off
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1, xref)
    return bytes(out)


def wait(predicate, timeout: float, interval: float) -> float | None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return time.monotonic()
        time.sleep(interval)
    return None


def p95(xs: list[float]) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, max(0, round(0.95 * len(xs) + 0.5) - 1))]


def machine() -> str:
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        ram = f"{int(Path('/proc/meminfo').read_text().split()[1]) // 1024 // 1024} GiB"
    except (OSError, ValueError, IndexError):
        ram = "?"
    return (f"{platform.node()}: {cpu}, {os.cpu_count()} CPUs, {ram} RAM, Linux {platform.release()}, "
            f"Python {platform.python_version()}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--files", type=int, default=40, help="files of each kind (default 40)")
    ap.add_argument("--settle", type=float, default=None, help="--settle for the watcher (default: its default, 1 s)")
    ap.add_argument("--out", type=Path, default=None, help="scratch folder (default: a temporary one)")
    args = ap.parse_args()
    base = Path(tempfile.mkdtemp(prefix="bench-watch-", dir=args.out))
    from dangan.core.kernel.actor import Actor
    from dangan.core.archive import Archive
    from dangan.index import open_index
    root, drop, outside = base / "archive", base / "drop", base / "outside"
    Archive.init(root, fonds="Z109", name="bench", actor=Actor("bench", "bench")).close()
    drop.mkdir()
    outside.mkdir()
    exe = Path(sys.executable).with_name("dangan")
    cmd = [str(exe), "--archive", str(root), "watch", str(drop), "--category", "WS", "--dept", "BGS",
           "--retention", "permanent"] + (["--settle", str(args.settle)] if args.settle is not None else [])
    log = open(base / "watch.log", "w")
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from installed import compile_ahead, installed_env
    env = installed_env(base)                       # as an installed copy runs: from bytecode
    compile_ahead(env)
    proc = subprocess.Popen(cmd, stderr=log, stdout=log, env=env)
    results: dict[str, tuple[list[float], list[float]]] = {}
    try:
        time.sleep(2.0)                              # let it start (imports, observer)
        conn = sqlite3.connect(f"file:{root / 'catalogue.sqlite'}?mode=ro", uri=True, timeout=30)
        for kind in ("text", "rename", "pdf"):
            archived, searchable = [], []
            for i in range(args.files):
                w = word(i, kind[0])
                data = text_pdf(f"Bench {w} page") if kind == "pdf" else f"基准 bench {w} 档案\n".encode()
                name = f"{kind}-{i:03d}." + ("pdf" if kind == "pdf" else "txt")
                digest = hashlib.sha512(data).hexdigest()
                if kind == "rename":
                    (outside / name).write_bytes(data)
                    t0 = time.monotonic()
                    os.rename(outside / name, drop / name)
                else:
                    t0 = time.monotonic()
                    (drop / name).write_bytes(data)
                ta = wait(lambda: conn.execute("SELECT 1 FROM records WHERE main_sha512 = ?", (digest,)).fetchone(),
                          60, 0.005)

                def found() -> bool:
                    try:
                        ix = open_index(root / "index", create=False)
                    except Exception:          # noqa: BLE001 - not created yet
                        return False
                    try:
                        return ix.count(w) > 0
                    finally:
                        ix.close()
                ts = wait(found, 60, 0.02)
                if ta is None or ts is None:
                    raise SystemExit(f"{name}: not archived/searchable within 60 s; see {base / 'watch.log'}")
                archived.append(ta - t0)
                searchable.append(ts - t0)
            results[kind] = (archived, searchable)
    finally:
        proc.terminate()
        proc.wait(60)
        log.close()
    shown = " ".join(shlex.quote(c) for c in [".venv/bin/python", "bench/bench_watch.py", *sys.argv[1:]])
    print(f"Machine: {machine()}  \nCommand: `{shown}` (watcher: `dangan watch DROP --category WS --dept BGS "
          f"--retention permanent`{' --settle ' + str(args.settle) if args.settle is not None else ''}), "
          f"{time.strftime('%Y-%m-%d')}\n")
    print("| single small file | files | drop → archived median | p95 | max | drop → searchable median | p95 | max |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    labels = {"text": "text file written in place", "rename": "text file renamed into the folder",
              "pdf": "text PDF written in place"}
    for kind, (a, s) in results.items():
        print(f"| {labels[kind]} | {len(a)} | {statistics.median(a):.2f} s | {p95(a):.2f} s | {max(a):.2f} s "
              f"| {statistics.median(s):.2f} s | {p95(s):.2f} s | {max(s):.2f} s |")


if __name__ == "__main__":
    main()
