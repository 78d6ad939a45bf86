"""Issue 12.10: after ``kill -9`` of dangan during OCR, no extraction worker or Tesseract is left running.

A real ingest of a three-page TIFF full of text (Tesseract needs a minute or more for it) runs in a
subprocess; the test waits until Tesseract is running in that process tree, SIGKILLs dangan, and
polls /proc (bounded) until every process of the tree is gone.  Nothing may print a traceback.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(not Path("/usr/bin/tesseract").exists(), reason="needs tesseract")


def _stat(pid: int) -> tuple[str, str, int] | None:
    """(command name, state, parent pid) from /proc, or None if the process is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    name = raw[raw.index("(") + 1:raw.rindex(")")]
    state, ppid = raw[raw.rindex(")") + 2:].split()[:2]
    return name, state, int(ppid)


def descendants(root: int) -> dict[int, str]:
    parent, names = {}, {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            st = _stat(int(entry))
            if st:
                names[int(entry)], parent[int(entry)] = st[0], st[2]
    out = {}
    for pid in names:
        p = parent.get(pid)
        while p and p != root and p in parent:
            p = parent[p]
        if p == root and pid != root:
            out[pid] = names[pid]
    return out


def running(pid: int) -> bool:
    st = _stat(pid)
    return st is not None and st[1] not in ("Z", "X")       # a zombie has finished running


def text_pages(path: Path, n: int = 3) -> None:
    """A multi-page TIFF of dense text: Tesseract needs far longer for it than the test waits below."""
    from PIL import Image, ImageDraw, ImageFont
    font = ImageFont.load_default()
    pages = []
    for p in range(n):
        im = Image.new("L", (1700, 2200), 255)
        draw = ImageDraw.Draw(im)
        for y in range(0, 2150, 14):
            draw.text((20, y), f"page {p} line {y} the quick brown fox jumps over the lazy dog 0123456789 record",
                      fill=0, font=font)
        pages.append(im)
    pages[0].save(path, save_all=True, append_images=pages[1:], dpi=(200, 200), compression="tiff_lzw")


def test_kill_9_during_ocr_leaves_no_worker_or_tesseract(archive_root, tmp_path):
    page = tmp_path / "scan.tif"
    text_pages(page)
    out, err = tmp_path / "stdout", tmp_path / "stderr"
    env = {k: v for k, v in os.environ.items() if not k.startswith("DANGAN_")}
    with open(out, "wb") as o, open(err, "wb") as e:
        proc = subprocess.Popen([sys.executable, "-m", "dangan", "--archive", str(archive_root), "--as", "tester",
                                 "ingest", str(page)], stdout=o, stderr=e, env=env)
    tree: dict[int, str] = {}
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and proc.poll() is None:
            tree = descendants(proc.pid)
            if "tesseract" in tree.values():
                break
            time.sleep(0.05)
        assert "tesseract" in tree.values(), f"tesseract never ran under dangan (exit {proc.poll()}): {tree}"
        tree = descendants(proc.pid)                 # the worker, its forkserver and tesseract
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        deadline = time.monotonic() + 20             # far below Tesseract's own run time on these pages
        while time.monotonic() < deadline and any(running(p) for p in tree):
            time.sleep(0.05)
        left = {p: n for p, n in tree.items() if running(p)}
        assert not left, f"still running after dangan was killed: {left}"
    finally:
        if proc.poll() is None:
            proc.kill()
        for p in tree:
            if running(p):
                try:
                    os.kill(p, signal.SIGKILL)
                except ProcessLookupError:
                    pass
    stderr = err.read_text(errors="replace")
    assert "Traceback" not in stderr and "BrokenPipeError" not in stderr, stderr


def test_tools_die_with_the_process_that_started_them(tmp_path):
    """The preexec hook itself: a sleeping child of a SIGKILLed parent is killed by the kernel."""
    script = ("import subprocess, sys\n"
              "from dangan.lifeline import tool_preexec\n"
              "p = subprocess.Popen(['sleep', '600'], preexec_fn=tool_preexec())\n"
              "print(p.pid, flush=True)\n"
              "import time; time.sleep(600)\n")
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    child = int(parent.stdout.readline())
    try:
        assert running(child)
        parent.kill()
        parent.wait()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and running(child):
            time.sleep(0.05)
        assert not running(child), "the tool outlived the process that started it"
    finally:
        if running(child):
            os.kill(child, signal.SIGKILL)
