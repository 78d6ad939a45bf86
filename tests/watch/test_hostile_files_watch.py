"""Hostile files in drop folders: the watcher (``dangan watch --once`` in a real subprocess) quarantines
what it must not take — symlinks planted by another user, FIFOs, files over the size limit — never hangs
or dies on one file, keeps undecodable and overlong names, and refuses to watch the archive itself."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from watch_helpers import dangan, digests, query, sha512, write

#: A generous ceiling for one ``watch --once`` run: a hang (the bug) is caught, a slow machine is not.
RUN_TIMEOUT = 240


def watch_once(root: Path, drop: Path, *extra: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(dangan(root, "watch", str(drop), "--once", *extra), capture_output=True,
                          timeout=RUN_TIMEOUT, env=env)


def note(path: Path) -> str:
    return Path(str(path) + ".error.txt").read_text(encoding="utf-8")


@pytest.fixture
def drop(tmp_path) -> Path:
    d = tmp_path / "drop"
    d.mkdir()
    return d


@pytest.fixture
def shared_drop():
    """A world-writable drop folder that another uid can reach (pytest's tmp_path is root-only)."""
    d = Path(tempfile.mkdtemp(prefix="dangan-drop-", dir="/tmp"))
    d.chmod(0o1777)
    yield d
    shutil.rmtree(d, ignore_errors=True)


def as_nobody(*cmd: str) -> None:
    subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", *cmd], check=True, timeout=60)


# -- 11.2 symlinks ------------------------------------------------------------------------------------
@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("setpriv"), reason="needs root and setpriv")
def test_a_symlink_planted_by_another_user_is_quarantined_not_followed(archive_root, shared_drop, tmp_path):
    secret = write(tmp_path / "secret.txt", "root-only secret SHADOWMARK")
    secret.chmod(0o600)
    as_nobody("ln", "-s", str(secret), str(shared_drop / "x.txt"))
    as_nobody("ln", "-s", "/etc/shadow", str(shared_drop / "shadow.txt"))
    write(shared_drop / "real.txt", "an honest scan")
    assert os.lstat(shared_drop / "x.txt").st_uid == 65534

    r = watch_once(archive_root, shared_drop)

    assert r.returncode == 0, r.stderr.decode()
    assert digests(archive_root) == [sha512(shared_drop / "done" / "real.txt")]      # only the real file
    for name in ("x.txt", "shadow.txt"):
        q = shared_drop / "quarantine" / name
        assert q.is_symlink(), f"{name} should be quarantined as the link itself"
        assert "symbolic link" in note(q)
    assert secret.read_text(encoding="utf-8") == "root-only secret SHADOWMARK"      # the target is untouched


# -- 11.10 FIFOs, invalid UTF-8 names -----------------------------------------------------------------
def test_a_fifo_is_quarantined_and_does_not_hang_the_watcher(archive_root, drop):
    os.mkfifo(drop / "pipe.pdf")
    write(drop / "after.txt", "a file behind the FIFO")

    r = watch_once(archive_root, drop)           # the old watcher blocked in open() for ever: TimeoutExpired

    assert r.returncode == 0, r.stderr.decode()
    assert (drop / "done" / "after.txt").exists() and len(digests(archive_root)) == 1
    q = drop / "quarantine" / "pipe.pdf"
    assert q.exists() and not q.is_file() and "named pipe" in note(q)


def test_a_file_name_with_invalid_utf8_is_archived_under_an_escaped_name(archive_root, drop):
    raw = os.path.join(os.fsencode(drop), b"caf\xe9 \xff.txt")
    with open(raw, "wb") as fh:
        fh.write("Latin-1 name, UTF-8 content 档案".encode("utf-8"))
    write(drop / "plain.txt", "a second file, taken after the odd one")

    r = watch_once(archive_root, drop)           # the old watcher died with UnicodeEncodeError

    assert r.returncode == 0, r.stderr.decode()
    assert os.path.exists(os.path.join(os.fsencode(drop), b"done", b"caf\xe9 \xff.txt"))
    assert len(digests(archive_root)) == 2
    titles = sorted(t for (t,) in query(archive_root, "SELECT title FROM records"))
    assert titles == ["caf\\xe9 \\xff", "plain"]
    paths = {p for (p,) in query(archive_root, "SELECT path FROM watch_handoffs")}
    assert str(drop.resolve() / "caf\\xe9 \\xff.txt") in paths
    check = subprocess.run(dangan(archive_root, "check"), capture_output=True, timeout=RUN_TIMEOUT)
    assert check.returncode == 0, check.stderr.decode()


# -- 11.9 the archive is never a drop folder ----------------------------------------------------------------
@pytest.mark.parametrize("where", ["archive", "inside", "parent"])
def test_watching_the_archive_inside_it_or_around_it_is_refused(archive_root, where):
    target = {"archive": archive_root, "inside": archive_root / "plugins", "parent": archive_root.parent}[where]
    target.mkdir(exist_ok=True)
    before = sorted(os.listdir(archive_root))

    r = watch_once(archive_root, target)

    assert r.returncode == 2, r.stderr.decode()
    err = r.stderr.decode()
    assert "refused" in err and "the archive" in err and "Traceback" not in err
    assert sorted(os.listdir(archive_root)) == before and (archive_root / "dangan.toml").is_file()
    assert not (target / "done").exists()


def test_a_drop_folder_holding_the_keystore_or_a_backup_repository_is_refused(archive_root, drop):
    env = dict(os.environ, DANGAN_KEYSTORE=str(drop / "keys" / "keystore.json"))
    r = watch_once(archive_root, drop, env=env)
    assert r.returncode == 2 and "keystore" in r.stderr.decode()

    with open(archive_root / "dangan.toml", "a", encoding="utf-8") as fh:
        fh.write(f'\n[backup]\nrepo = "{drop / "backups"}"\n')
    r = watch_once(archive_root, drop)
    assert r.returncode == 2 and "backup repository" in r.stderr.decode()


def test_a_done_folder_inside_the_archive_is_refused(archive_root, drop):
    write(drop / "a.txt", "would be moved into the archive")
    r = watch_once(archive_root, drop, "--done-dir", str(archive_root / "store"))
    assert r.returncode == 2 and "done folder" in r.stderr.decode()
    assert (drop / "a.txt").exists() and not digests(archive_root)


# -- 12.8 long names ------------------------------------------------------------------------------------------
LONG = "档" * 83 + "a.txt"                      # 254 bytes: legal, but <name>.txt and <name>.error.txt are not


def test_a_long_file_name_is_archived_and_extracted_by_the_watcher(archive_root, drop):
    assert len(LONG.encode()) == 254
    write(drop / LONG, "long name content LONGWATCHMARK")
    r = watch_once(archive_root, drop)
    assert r.returncode == 0, r.stderr.decode()
    assert (drop / "done" / LONG).exists()
    [(status,)] = query(archive_root, "SELECT extraction_status FROM records")
    assert status == "ok"
    hits = subprocess.run(dangan(archive_root, "search", "LONGWATCHMARK", "--json"), capture_output=True,
                          timeout=RUN_TIMEOUT, text=True).stdout.splitlines()
    assert len([h for h in hits if "record_id" in json.loads(h)]) == 1


def test_a_long_named_file_that_is_refused_gets_its_quarantine_note(archive_root, drop):
    write(drop / LONG, b"")                      # empty: refused; NAME.error.txt would pass NAME_MAX
    r = watch_once(archive_root, drop)
    assert r.returncode == 0, r.stderr.decode()
    q = drop / "quarantine" / LONG
    assert q.exists()
    notes = [n for n in os.listdir(drop / "quarantine") if n.endswith(".error.txt")]
    assert len(notes) == 1 and "empty file" in (drop / "quarantine" / notes[0]).read_text(encoding="utf-8")


# -- 12.11 size limit -------------------------------------------------------------------------------------------
def test_a_file_over_the_size_limit_is_quarantined_before_it_is_read(archive_root, drop):
    with open(archive_root / "dangan.toml", "a", encoding="utf-8") as fh:
        fh.write("\n[ingest]\nmax_file_mb = 1\n")
    big = drop / "sparse.img"
    with open(big, "wb") as fh:
        fh.truncate(3 * 1024 * 1024)              # 3 MB long, nothing on disk
    write(drop / "small.txt", "under the limit")

    r = watch_once(archive_root, drop)

    assert r.returncode == 0, r.stderr.decode()
    assert (drop / "done" / "small.txt").exists() and len(digests(archive_root)) == 1
    reason = note(drop / "quarantine" / "sparse.img")
    assert "too large" in reason and "max_file_mb" in reason and "sparse" in reason


# -- 11.2 a sub-folder swapped for a symlink after the scan ---------------------------------------------------
@pytest.fixture
def swapped(drop, tmp_path):
    """drop/sub/shadow.txt was a real file when seen; then drop/sub became a link to a folder elsewhere."""
    write(drop / "sub" / "shadow.txt", "the file the watcher saw")
    secret = write(tmp_path / "etc" / "shadow.txt", "root:secret-hash:SWAPMARK")
    os.rename(drop / "sub", drop / "sub-gone")
    os.symlink(tmp_path / "etc", drop / "sub")
    return drop / "sub" / "shadow.txt", secret


def test_a_file_behind_a_swapped_sub_folder_is_neither_read_nor_moved(archive, drop, swapped):
    from watch_helpers import folder
    from dangan.core.watch.watcher import Watcher
    path, secret = swapped
    f = folder(drop)
    w = Watcher(archive, [f])
    w.tracker.add(path)
    w._handle(w.folders[0], path)                # what the loop does with a ready file
    assert secret.read_text(encoding="utf-8") == "root:secret-hash:SWAPMARK"
    assert not digests(archive.root) and not (drop / "quarantine").exists() and not (drop / "done").exists()
    assert len(w.tracker) == 0


def test_moving_a_file_never_walks_through_a_swapped_sub_folder(drop, swapped):
    from watch_helpers import folder
    from dangan.core.watch import files as watch_files
    from dangan.errors import SymlinkedFolder
    path, secret = swapped
    f = folder(drop)
    for move in (lambda: watch_files.to_quarantine(f, path, "refused"), lambda: watch_files.to_done(f, path)):
        with pytest.raises(SymlinkedFolder):
            move()
        assert secret.exists()
    assert not (drop / "done" / "sub" / "shadow.txt").exists()
