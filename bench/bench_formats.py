"""The cost of PRONOM identification, audio/video characterisation, OFD reading and thumbnails (issue 18).

    .venv/bin/python bench/bench_formats.py [--out /tmp/dangan-bench-formats] [--rounds 3]

1. ``dangan ingest`` of the corpus files that need no OCR (PDFs with text, office, text, e-mail, audio,
   video, OFD), each a fresh process into a fresh archive, with ``[formats] identify`` on and off: the
   difference per file is what identification costs a user; beside it the peer, the ``fido`` command
   (opf-fido's own CLI) on the same files in one fresh process.
2. In one process (after the one-off signature load, which is timed apart): ``store.pronom.identify``
   per file over the whole corpus; the media extractor (libmediainfo + tinytag) per audio/video file
   beside the ``mediainfo`` command (the peer, Debian's CLI of the same library) on the same files in
   one fresh process; OFD extraction per file; thumbnails per image/PDF/OFD file.
Best of ``--rounds`` for each figure.
"""
from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from installed import compile_ahead, installed_env  # noqa: E402

CORPUS = Path(__file__).resolve().parent.parent / "tests" / "data" / "corpus"
NO_OCR = ("pdf-text", "office", "text", "email", "audio", "video", "ofd")
DANGAN = [sys.executable, "-m", "dangan"]


def machine() -> str:
    cpu = next((ln.split(":", 1)[1].strip() for ln in open("/proc/cpuinfo") if ln.startswith("model name")), "?")
    return f"{os.cpu_count()} CPU ({cpu}), Python {platform.python_version()}, load {os.getloadavg()[0]:.1f}"


def files(folders=None) -> list[Path]:
    return sorted(p for p in CORPUS.rglob("*") if p.is_file() and "LICENSES" not in p.parts
                  and p.name not in ("MANIFEST.tsv", "README.md") and p.stat().st_size > 0
                  and (folders is None or p.parent.name in folders))


def timed(cmd, env, cwd=None) -> float:
    t = time.perf_counter()
    subprocess.run(cmd, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - t


def ingest_seconds(out: Path, env, batch: list[Path], identify: bool, rounds: int) -> float:
    best = float("inf")
    for i in range(rounds):
        root = out / f"archive-{identify}-{i}"
        shutil.rmtree(root, ignore_errors=True)
        subprocess.run(DANGAN + ["init", str(root), "--fonds", "Z1", "--name", "bench"], env=env, check=True,
                       stdout=subprocess.DEVNULL)
        with open(root / "dangan.toml", "a", encoding="utf-8") as fh:
            fh.write(f"\n[formats]\nidentify = {'true' if identify else 'false'}\n")
        best = min(best, timed(DANGAN + ["--archive", str(root), "ingest", "--allow-duplicate", *map(str, batch)],
                               env))
        shutil.rmtree(root, ignore_errors=True)
    return best


def per_file(fn, paths, rounds) -> float:
    best = float("inf")
    for _ in range(rounds):
        t = time.perf_counter()
        for p in paths:
            fn(p)
        best = min(best, (time.perf_counter() - t) / len(paths))
    return best


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", type=Path, default=Path("/tmp/dangan-bench-formats"))
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    env = installed_env(args.out, {"DANGAN_USER": "bench"})
    compile_ahead(env)
    rows = []
    batch = files(NO_OCR)
    on = ingest_seconds(args.out, env, batch, True, args.rounds)
    off = ingest_seconds(args.out, env, batch, False, args.rounds)
    fido_cli = shutil.which("fido", path=str(Path(sys.executable).parent)) or "fido"
    peer = min(timed([fido_cli, "-q", *map(str, batch)], env) for _ in range(args.rounds))
    rows.append(("dangan ingest, identify on", f"{len(batch)} files", f"{on:.2f} s", f"{on / len(batch) * 1000:.0f} ms"))
    rows.append(("dangan ingest, identify off", f"{len(batch)} files", f"{off:.2f} s",
                 f"{off / len(batch) * 1000:.0f} ms"))
    rows.append(("identification's share of ingest", "", f"{on - off:+.2f} s", f"{(on - off) / len(batch) * 1000:+.1f} ms"))
    rows.append(("peer: fido -q FILES (one process)", f"{len(batch)} files", f"{peer:.2f} s",
                 f"{peer / len(batch) * 1000:.0f} ms"))

    from dangan.core.store.pronom import identifier, identify
    t = time.perf_counter()
    identifier()
    load = time.perf_counter() - t
    everything = files()
    ident = per_file(identify, everything, args.rounds)
    rows.append(("fido signature load (once per process)", "", f"{load * 1000:.0f} ms", ""))
    rows.append(("identify(), in process", f"{len(everything)} files", "", f"{ident * 1000:.1f} ms"))

    from dangan.core.store import mime as mimes
    from dangan.model import ExtractOptions
    from dangan.plugins.builtin.extractors.media import extract_media
    from dangan.plugins.builtin.extractors.ofd import extract_ofd
    from dangan.plugins.builtin.extractors.thumbnail import make_thumbnail
    media = files(("audio", "video"))
    kinds = {p: mimes.by_content(p) for p in everything}
    opts = ExtractOptions()
    med = per_file(lambda p: extract_media(p, kinds[p], opts), media, args.rounds)
    peer_mi = min(timed(["mediainfo", "--Output=JSON", *map(str, media)], env) for _ in range(args.rounds)) \
        if shutil.which("mediainfo") else None
    rows.append(("media characterisation (libmediainfo + tags)", f"{len(media)} files", "", f"{med * 1000:.1f} ms"))
    if peer_mi is not None:
        rows.append(("peer: mediainfo --Output=JSON FILES (one process)", f"{len(media)} files", f"{peer_mi:.2f} s",
                     f"{peer_mi / len(media) * 1000:.1f} ms"))
    ofds = files(("ofd",))
    rows.append(("OFD extraction (text, DocInfo, pages, signatures)", f"{len(ofds)} files", "",
                 f"{per_file(lambda p: extract_ofd(p, 'application/ofd', opts), ofds, args.rounds) * 1000:.1f} ms"))
    thumbable = [p for p in everything if kinds[p].startswith("image/") or kinds[p] in ("application/pdf",
                                                                                          "application/ofd")]
    topts = ExtractOptions(thumbnail_px=256)
    times = []
    for p in thumbable:
        t = time.perf_counter()
        make_thumbnail(p, kinds[p], topts)
        times.append(time.perf_counter() - t)
    rows.append(("thumbnail 256 px (image, PDF p.1, OFD p.1)", f"{len(thumbable)} files",
                 f"median {statistics.median(times) * 1000:.0f} ms", f"mean {statistics.mean(times) * 1000:.0f} ms"))
    print(f"machine: {machine()}; {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; best of {args.rounds}")
    print("| what | files | total | per file |\n|---|---|---|---|")
    for r in rows:
        print("| " + " | ".join(r) + " |")


if __name__ == "__main__":
    main()
