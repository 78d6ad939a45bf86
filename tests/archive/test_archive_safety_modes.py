"""Issue 11.14: the archive is private to its owner (0700/0600) or readable by one group
(2750/0640), whatever the caller's umask, for everything written later too; an archive open to
others is reported.  dangan runs in subprocesses started with umask 000, so the modes come from
dangan itself."""
from __future__ import annotations

import grp
import os
import shutil
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

GROUP = "users"


def dangan(*args: str, cwd: Path | None = None, uid: int | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DANGAN_")}
    cmd = [sys.executable, "-m", "dangan", *args]
    if uid is not None:
        cmd = ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "--", *cmd]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=cwd, timeout=300,
                          preexec_fn=lambda: os.umask(0))


def modes(root: Path) -> dict[str, int]:
    out = {".": stat.S_IMODE(root.stat().st_mode)}
    for p in root.rglob("*"):
        out[str(p.relative_to(root))] = stat.S_IMODE(p.lstat().st_mode)
    return out


def use(root: Path, samples: Path) -> None:
    """Ingest (store objects, staging, catalogue, index), revise, search, check."""
    for args in (["ingest", str(samples / "notes.md"), "--category", "WS", "--dept", "BGS"],
                 ["ingest", str(samples / "contract.txt")], ["search", "archive"], ["check"]):
        r = dangan("--archive", str(root), "--as", "tester", *args)
        assert r.returncode == 0, (args, r.stderr)


def test_a_new_archive_is_private_whatever_the_umask(tmp_path, samples):
    root = tmp_path / "archive"
    r = dangan("init", str(root), "--fonds", "Z109")
    assert r.returncode == 0, r.stderr
    use(root, samples)
    r = dangan("--archive", str(root), "--as", "tester", "ingest", str(samples / "会议纪要.txt"))
    assert r.returncode == 0, r.stderr
    found = modes(root)          # (SQLite gives -wal/-shm the catalogue's own mode)
    assert any(k.startswith("store/") and len(k) > 40 for k in found), "no store object was written"
    assert any(k.startswith("index/") for k in found), "no index file was written"
    wrong = {k: f"{m:04o}" for k, m in found.items() if m & 0o077}     # nothing for group or others
    assert not wrong, wrong


def test_another_local_user_cannot_read_it(samples):
    base = Path(tempfile.mkdtemp(prefix="dangan-modes-", dir="/tmp"))
    os.chmod(base, 0o755)                                    # the way to it is open; the archive is not
    root = base / "archive"
    try:
        _unreadable_by_nobody(root, samples)
    finally:
        shutil.rmtree(base)


def _unreadable_by_nobody(root: Path, samples: Path) -> None:
    assert dangan("init", str(root), "--fonds", "Z109").returncode == 0
    use(root, samples)
    r = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--", "cat",
                        str(root / "catalogue.sqlite")], capture_output=True)
    assert r.returncode != 0 and b"Permission denied" in r.stderr
    r = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--", "find", str(root)],
                       capture_output=True, text=True)
    assert r.stdout.strip().splitlines() == [str(root)]         # not even the names inside


def test_a_group_archive_is_readable_by_its_group_only(tmp_path, samples):
    root = tmp_path / "archive"
    r = dangan("init", str(root), "--fonds", "Z109", "--group", GROUP)
    assert r.returncode == 0, r.stderr
    use(root, samples)
    gid = grp.getgrnam(GROUP).gr_gid
    wrong = {}
    for k, m in modes(root).items():
        p = root / k
        right = (m & 0o2070 == 0o2050) if p.is_dir() else (m & 0o060 == 0o040)   # group reads, never writes
        if not right or m & 0o007 or p.stat().st_gid != gid:
            wrong[k] = (f"{m:04o}", p.stat().st_gid)
    assert not wrong, wrong
    r = dangan("--archive", str(root), "--as", "tester", "ls")
    assert r.returncode == 0 and "warning" not in r.stderr, r.stderr


def test_init_with_an_unknown_group_is_one_line(tmp_path):
    r = dangan("init", str(tmp_path / "a"), "--fonds", "Z109", "--group", "no-such-group-here")
    assert r.returncode == 2 and "no group named 'no-such-group-here'" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "a" / "dangan.toml").exists()


@pytest.mark.parametrize("target,mode", [("store", 0o755), ("catalogue.sqlite", 0o644), (".", 0o755),
                                         ("index", 0o770)])
def test_an_archive_open_to_others_is_reported(archive_root, target, mode):
    os.chmod(archive_root / target, mode)
    r = dangan("--archive", str(archive_root), "--as", "tester", "ls")
    assert r.returncode == 0, r.stderr
    warnings = [l for l in r.stderr.splitlines() if l.startswith("dangan: warning: ")]
    assert len(warnings) == 1 and f"{target} ({mode:04o})" in warnings[0] and "chmod -R go-rwx" in warnings[0], \
        r.stderr


def test_a_restored_archive_is_private_too(archive_root, tmp_path, samples):
    env = {k: v for k, v in os.environ.items() if not k.startswith("DANGAN_")}
    env["DANGAN_BACKUP_PASSPHRASE"] = "correct horse battery staple"
    repo, dest = tmp_path / "repo", tmp_path / "restored"

    def run(*args: str, archive: bool = True) -> None:
        where = ["--archive", str(archive_root)] if archive else []         # restore needs no archive open
        r = subprocess.run([sys.executable, "-m", "dangan", *where, "--as", "tester", *args], cwd=tmp_path,
                           capture_output=True, text=True, env=env, timeout=300, preexec_fn=lambda: os.umask(0))
        assert r.returncode == 0, (args, r.stderr)

    run("ingest", str(samples / "notes.md"))
    run("backup", "init", "--repo", str(repo))
    run("backup", "create", "--repo", str(repo))
    run("backup", "restore", "latest", "--to", str(dest), "--repo", str(repo), archive=False)
    wrong = {k: f"{m:04o}" for k, m in modes(dest).items() if m & 0o077}
    assert not wrong, wrong
