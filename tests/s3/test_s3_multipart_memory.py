"""A large file goes into the bucket and comes back out with bounded memory (issue 17 part B: "large files
streamed in multipart uploads with bounded memory").

``dangan ingest`` of a file of 240 MB (random bytes, written to disk in pieces, never whole in this process's
memory) and ``dangan get`` of it, each a fresh child process; the peak resident memory of each
(``os.wait4``'s ``ru_maxrss``: the child and everything it waited for) is compared with the same command's on a
file of a few bytes into the same archive.  The upload goes in parts of 8 MiB, four at a time
(``repository/s3client.py``), the download in chunks: a copy of the file in memory would add 240 MB; the bound
asserted is 150 MB.  The bytes that come back are the bytes that went in (sha512), and ocfl-py validates the
bucket (the ``archive_root`` fixture's teardown).
"""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

from s3_fixtures import archive_root, bucket, s3_env, s3_server  # noqa: F401  (fixtures: S3, archive on S3)
from s3_helpers import keys

MB = 1024 * 1024
BIG = 240 * MB
BOUND = 150 * MB
CODE = ("--category", "WS", "--dept", "BGS", "--retention", "Y", "--date", "2021-03-01")


def dangan(root: Path, *args) -> list[str]:
    return [sys.executable, "-m", "dangan", "--archive", str(root), "--as", "tester", *map(str, args)]


def peak_rss(cmd: list[str], tmp: Path) -> tuple[int, str]:
    """Run ``cmd`` as a fresh child; its peak resident memory in bytes (Linux reports KiB) and its output."""
    with open(tmp / "stdout", "w+b") as out, open(tmp / "stderr", "w+b") as err:
        proc = subprocess.Popen(cmd, stdout=out, stderr=err)
        _pid, status, usage = os.wait4(proc.pid, 0)          # reaped here, for its rusage (not by Popen)
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        text, problems = out.read().decode(), err.read().decode()
    assert proc.returncode == 0, (cmd, text[-2000:], problems[-2000:])
    return usage.ru_maxrss * 1024, text


def write_random(path: Path, size: int) -> str:
    """``size`` random bytes to ``path``, 4 MiB at a time; their sha512."""
    digest = hashlib.sha512()
    with open(path, "wb") as fh:
        left = size
        while left:
            chunk = os.urandom(min(left, 4 * MB))
            digest.update(chunk)
            fh.write(chunk)
            left -= len(chunk)
    return digest.hexdigest()


def sha512_of(path: Path) -> str:
    digest = hashlib.sha512()
    with open(path, "rb") as fh:
        while chunk := fh.read(4 * MB):
            digest.update(chunk)
    return digest.hexdigest()


def test_a_large_file_is_uploaded_and_read_back_with_bounded_memory(archive_root, s3_env, bucket, tmp_path):  # noqa: F811
    tiny, big = tmp_path / "in" / "note.bin", tmp_path / "in" / "scan.bin"
    tiny.parent.mkdir()
    tiny.write_bytes(os.urandom(64))
    big_sha = write_random(big, BIG)

    base_in, out = peak_rss(dangan(archive_root, "ingest", tiny, *CODE, "--json"), tmp_path)
    tiny_id = json.loads(out.splitlines()[-1])["record_id"]
    big_in, out = peak_rss(dangan(archive_root, "ingest", big, *CODE, "--json"), tmp_path)
    outcome = json.loads(out.splitlines()[-1])
    assert outcome["status"] == "archived", outcome
    big_id = outcome["record_id"]
    assert not s3_env.client().list_multipart_uploads(Bucket=bucket).get("Uploads")    # every upload completed
    stored = [k for k in keys(s3_env, bucket, "fonds-z109/") if k.endswith("/scan.bin")]
    assert len(stored) == 1, stored
    head = s3_env.client().head_object(Bucket=bucket, Key=stored[0])
    assert head["ContentLength"] == BIG and "-" in head["ETag"]          # a multipart upload's ETag: md5-parts

    base_get, _ = peak_rss(dangan(archive_root, "get", tiny_id, "-o", tmp_path / "tiny-out"), tmp_path)
    big_get, _ = peak_rss(dangan(archive_root, "get", big_id, "-o", tmp_path / "big-out"), tmp_path)
    back = tmp_path / "big-out" / "scan.bin"
    assert back.stat().st_size == BIG and sha512_of(back) == big_sha
    print(f"peak RSS: ingest {base_in / MB:.0f} MB (64 bytes) → {big_in / MB:.0f} MB (240 MB); "
          f"get {base_get / MB:.0f} MB → {big_get / MB:.0f} MB")
    assert big_in - base_in < BOUND, (big_in / MB, base_in / MB)
    assert big_get - base_get < BOUND, (big_get / MB, base_get / MB)
