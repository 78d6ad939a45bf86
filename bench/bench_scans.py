"""Benchmark scans (issue 18): dangan's ingest with PDF/A copies beside plain OCRmyPDF on the same scans,
and the cost per file of the virus check and per page of the separator-sheet check.

    .venv/bin/python bench/bench_scans.py [--rounds N] [--out DIR]

1. **PDF/A** — the image-only PDFs of the corpus (``tests/data/corpus/pdf-scanned``, those without a
   text layer, and not a batch with separator sheets) plus a generated feeder scan (``--feeder-pages``).  Peer: ``ocrmypdf`` with dangan's options
   (``--output-type pdfa-2 --deskew --rotate-pages -l chi_sim+chi_tra+eng --sidecar … --jobs 1
   --optimize 1``), one fresh process per file, as an operator would script it.  dangan:
   ``dangan ingest FILES…`` (one fresh process, ``[ingest] jobs = 1`` so neither side runs files in
   parallel) into a fresh archive: the whole ingest (hash, store, PDF/A, text, index).  Pages per
   minute from wall time; rounds alternate the two sides.  Target: dangan ≥ 0.8 × ocrmypdf.
2. **Virus check** — ``dangan ingest`` of 100 small text files with ``[antivirus] enabled = "off"``
   and with clamscan and a test signature database (``-d``): the difference per file.
3. **Separator check** — ``separators.find_parts`` on the feeder scan, per page (rendering + zxing).
"""
from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "bench"))

from installed import compile_ahead, installed_env  # noqa: E402

LANGS = "chi_sim+chi_tra+eng"


def scans(work: Path, n: int) -> list[Path]:
    from dangan.core.store.pdfa import wanted
    from scan_helpers import scanned_pdf
    from dangan.core.store.separators import Settings, find_parts
    files = [p for p in sorted((ROOT / "tests/data/corpus/pdf-scanned").glob("*.pdf")) if wanted(p, "application/pdf")
             and find_parts(p, "application/pdf", Settings()) is None]     # a batch (PATCH-T) would be split
    pages = [("text", [f"FEEDER PAGE {i}", "档案管理 scanned in a batch", "the quick brown fox"]) for i in range(n)]
    files.append(scanned_pdf(pages, work / f"feeder-{n}.pdf"))
    return files


def page_count(paths: list[Path]) -> int:
    from pypdf import PdfReader
    return sum(len(PdfReader(p).pages) for p in paths)


def run_ocrmypdf(files: list[Path], out: Path, env: dict) -> float:
    out.mkdir(parents=True, exist_ok=True)
    t = time.perf_counter()
    for f in files:
        subprocess.run([sys.executable, "-m", "ocrmypdf", "--output-type", "pdfa-2", "--deskew", "--rotate-pages",
                        "-l", LANGS, "--sidecar", str(out / (f.name + ".txt")), "--jobs", "1", "--optimize", "1",
                        "--quiet", str(f), str(out / f.name)], check=True, env=env)
    return time.perf_counter() - t


def fresh_archive(root: Path, env: dict, extra: str = "") -> None:
    subprocess.run([sys.executable, "-m", "dangan", "init", str(root), "--fonds", "B18"], check=True, env=env,
                   stdout=subprocess.DEVNULL)
    with open(root / "dangan.toml", "a", encoding="utf-8") as f:
        f.write("\n[ingest]\njobs = 1\n" + extra)


def run_dangan(files: list[Path], root: Path, env: dict, extra: str = "") -> float:
    fresh_archive(root, env, extra)
    t = time.perf_counter()
    subprocess.run([sys.executable, "-m", "dangan", "--archive", str(root), "ingest", *map(str, files)], check=True,
                   env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--out", type=Path)
    ap.add_argument("--skip-pdfa", action="store_true")
    ap.add_argument("--feeder-pages", type=int, default=10)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-scans-", dir=args.out))
    env = installed_env(work)
    compile_ahead(env)
    files = scans(work, args.feeder_pages)
    pages = page_count(files)
    print(f"machine: {platform.node()} {platform.machine()}, {os.cpu_count()} cores, python "
          f"{platform.python_version()}; load average at start {os.getloadavg()[0]:.1f}")
    print(f"files: {len(files)} scans, {pages} pages: {', '.join(f.name for f in files)}\n")
    if not args.skip_pdfa:
        peer, ours = [], []
        for r in range(args.rounds):
            peer.append(run_ocrmypdf(files, work / f"ocrmypdf-{r}", env))
            ours.append(run_dangan(files, work / f"archive-{r}", env))
            made = {"peer PDF/A": len(list((work / f"ocrmypdf-{r}").glob("*.pdf"))),
                    "dangan PDF/A": len(list((work / f"archive-{r}" / "store").rglob("*.pdfa.pdf")))}
            print(f"round {r + 1}: ocrmypdf {peer[-1]:.1f} s, dangan ingest {ours[-1]:.1f} s "
                  f"(load {os.getloadavg()[0]:.1f}; copies made: {made})", flush=True)
            if made["dangan PDF/A"] != len(files):      # the same work on both sides, or the figure means nothing
                sys.exit(f"dangan made {made['dangan PDF/A']} PDF/A copies of {len(files)} scans")
        best_peer, best_ours = min(peer), min(ours)
        print("\n| | wall (best of rounds) | pages/min |\n|---|---|---|")
        print(f"| `ocrmypdf` per file (PDF/A-2b + sidecar) | {best_peer:.1f} s | {pages / best_peer * 60:.1f} |")
        print(f"| `dangan ingest` (PDF/A copy + text + store + index) | {best_ours:.1f} s | "
              f"{pages / best_ours * 60:.1f} |")
        print(f"\nratio dangan / ocrmypdf (pages per minute): **{best_peer / best_ours:.2f}** (target ≥ 0.8)\n")
    # virus check cost per file
    small = work / "small"
    small.mkdir()
    for i in range(100):
        (small / f"f{i:03d}.txt").write_text(f"文件 {i} benchmark text for the virus check {i * 7919}")
    sigs = work / "sigs"
    sigs.mkdir()
    (sigs / "bench.hdb").write_text("0123456789abcdef0123456789abcdef:17:Bench.Test-1\n")
    if shutil.which("clamscan"):
        off = run_dangan([small], work / "av-off", env, '\n[antivirus]\nenabled = "off"\n[pdfa]\nenabled = "off"\n')
        on = run_dangan([small], work / "av-on", env,
                        f'\n[antivirus]\nenabled = "on"\ndatabase = "{sigs}"\n[pdfa]\nenabled = "off"\n')
        print(f"virus check (clamscan -d, 1 test signature), 100 small files: off {off:.1f} s, on {on:.1f} s: "
              f"**{(on - off) / 100 * 1000:.0f} ms per file** (a full signature set loads per clamscan run: use clamd)")
    # separator check per page
    from dangan.core.store.separators import Settings, find_parts
    feeder = files[-1]
    t = time.perf_counter()
    find_parts(feeder, "application/pdf", Settings())
    dt = time.perf_counter() - t
    print(f"separator check (render at 150 dpi + zxing-cpp), {page_count([feeder])} pages: "
          f"**{dt / page_count([feeder]) * 1000:.0f} ms per page**")
    print(f"\nload average at end {os.getloadavg()[0]:.1f}; command: .venv/bin/python bench/bench_scans.py "
          f"--rounds {args.rounds} --feeder-pages {args.feeder_pages}")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
