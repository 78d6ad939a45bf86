"""Issue 11.7: dangan runs an archive's configuration and plugins only if the invoking user trusts
their owner, and never from anything writable by group or others (git's ``safe.directory``).

Ownership is real: files are chowned to other accounts (``daemon``, uid 1; ``nobody``, uid 65534)
and commands run as root and, with ``setpriv``, as those accounts.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

NOBODY, DAEMON = 65534, 1

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="chown and setpriv need root")


def dangan(*args: str, cwd: Path | None = None, uid: int | None = None, **env: str) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if not k.startswith("DANGAN_")}
    cmd = [sys.executable, "-m", "dangan", *args]
    if uid is not None:
        cmd = ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "--", *cmd]
        base["HOME"] = "/nonexistent"
    return subprocess.run(cmd, capture_output=True, text=True, cwd=cwd, env={**base, **env}, timeout=300)


def one_line(r: subprocess.CompletedProcess, code: int = 7) -> str:
    assert r.returncode == code, f"exit {r.returncode}: {r.stdout}{r.stderr}"
    lines = [l for l in r.stderr.splitlines() if l.strip()]
    assert len(lines) == 1 and lines[0].startswith("dangan: error: ") and "Traceback" not in r.stderr, r.stderr
    return lines[0]


def evil_plugin(root: Path, marker: Path, name: str = "evil") -> Path:
    p = root / "plugins" / f"{name}.py"
    p.write_text(f"open({str(marker)!r}, 'w').write('ran as ' + str(__import__('os').geteuid()))\n",
                 encoding="utf-8")
    return p


def chown_tree(root: Path, uid: int) -> None:
    for dirpath, dirnames, filenames in os.walk(root):
        os.chown(dirpath, uid, uid)
        for n in filenames:
            os.chown(os.path.join(dirpath, n), uid, uid)


def test_a_plugin_written_by_another_user_does_not_run_for_root(archive_root, tmp_path):
    marker = tmp_path / "marker"
    os.chown(evil_plugin(archive_root, marker), NOBODY, NOBODY)
    line = one_line(dangan("ls", cwd=archive_root / "store"))      # found by the upward search
    assert not marker.exists(), "the plugin ran"
    assert str(archive_root / "plugins" / "evil.py") in line and "nobody (uid 65534)" in line
    assert "DANGAN_SAFE_ARCHIVES" in line and "/etc/dangan/safe.toml" in line


def test_an_archive_owned_by_someone_else_is_refused_until_trusted(archive_root, tmp_path):
    marker = tmp_path / "marker"
    evil_plugin(archive_root, marker)
    chown_tree(archive_root, NOBODY)
    line = one_line(dangan("--archive", str(archive_root), "ls"))
    assert not marker.exists()
    assert f"the archive {archive_root} is owned by nobody (uid 65534), not by you (root (uid 0))" in line
    # trusted by path (as safe.directory) or by owner: the command runs, the plugin with it
    for env in ({"DANGAN_SAFE_ARCHIVES": f"/elsewhere:{archive_root}"}, {"DANGAN_SAFE_ARCHIVES": "*"},
                {"DANGAN_TRUSTED_OWNERS": "nobody"}, {"DANGAN_TRUSTED_OWNERS": "65534"}):
        marker.unlink(missing_ok=True)
        r = dangan("--archive", str(archive_root), "ls", **env)
        assert r.returncode == 0, (env, r.stderr)
        assert marker.read_text() == "ran as 0"
    chown_tree(archive_root, 0)


@pytest.mark.parametrize("target,mode,who", [
    ("plugins", 0o777, "everyone"), ("plugins", 0o770, "its group"), ("plugins/good.py", 0o666, "everyone"),
    ("dangan.toml", 0o620, "its group"), (".", 0o757, "everyone"),
])
def test_writable_by_others_is_refused_even_when_trusted(archive_root, tmp_path, target, mode, who):
    marker = tmp_path / "marker"
    evil_plugin(archive_root, marker, "good")
    path = archive_root / target
    os.chmod(path, mode)
    try:
        line = one_line(dangan("--archive", str(archive_root), "ls", DANGAN_SAFE_ARCHIVES="*"))
        assert not marker.exists()
        assert f"{path if target != '.' else archive_root} is writable by {who}" in line
        assert "chmod go-w" in line
    finally:
        os.chmod(path, 0o700 if path.is_dir() else 0o600)


def test_the_plugins_bytecode_folder_is_checked_too(archive_root, tmp_path):
    evil_plugin(archive_root, tmp_path / "marker", "good")
    cache = archive_root / "plugins" / "__pycache__"
    cache.mkdir()
    os.chown(cache, NOBODY, NOBODY)
    line = one_line(dangan("--archive", str(archive_root), "ls"))
    assert "__pycache__" in line and "nobody" in line


@pytest.fixture
def shared_tmp():
    """A folder other accounts can reach (pytest's tmp_path is root's 0700)."""
    d = Path(tempfile.mkdtemp(prefix="dangan-trust-", dir="/tmp"))
    os.chmod(d, 0o755)
    yield d
    shutil.rmtree(d)


def test_as_other_accounts_with_setpriv(shared_tmp):
    """An archive of daemon's: daemon uses it; nobody is refused; daemon refuses nobody's plugin."""
    from dangan.core.kernel.actor import Actor
    from dangan.core.archive import Archive
    root = shared_tmp / "archive"
    Archive.init(root, fonds="Z109", actor=Actor("tester", "tester")).close()
    for p in [root, *root.rglob("*")]:
        os.chmod(p, 0o755 if p.is_dir() else 0o644)      # readable, so only the trust rule can refuse
    chown_tree(root, DAEMON)
    r = dangan("--archive", str(root), "--as", "tester", "ls", uid=DAEMON)
    assert r.returncode == 0, r.stderr
    line = one_line(dangan("--archive", str(root), "--as", "tester", "ls", uid=NOBODY))
    assert "owned by daemon (uid 1), not by you (nobody (uid 65534))" in line

    marker = shared_tmp / "marker"
    os.chmod(shared_tmp, 0o777)                          # so a plugin run as daemon could leave its mark
    try:
        plugin = evil_plugin(root, marker)
        os.chown(plugin, NOBODY, NOBODY)
        line = one_line(dangan("--archive", str(root), "--as", "tester", "ls", uid=DAEMON))
        assert not marker.exists() and "evil.py is owned by nobody" in line
    finally:
        os.chmod(shared_tmp, 0o755)


def test_system_trust_file(archive_root, monkeypatch, tmp_path):
    from dangan.core.kernel import archive_trust
    from dangan.core.kernel.actor import Actor
    from dangan.core.archive import Archive
    from dangan.errors import AccessDenied
    chown_tree(archive_root, NOBODY)
    safe = tmp_path / "safe.toml"
    monkeypatch.setattr(archive_trust, "SAFE_CONFIG", safe)
    with pytest.raises(AccessDenied):
        Archive(archive_root, Actor("tester", "tester"))
    safe.write_text('owners = ["nobody"]\n', encoding="utf-8")
    Archive(archive_root, Actor("tester", "tester")).close()
    safe.write_text(f'archives = ["{archive_root}"]\n', encoding="utf-8")
    Archive(archive_root, Actor("tester", "tester")).close()
    safe.write_text('archives = ["/srv/other"]\n', encoding="utf-8")
    with pytest.raises(AccessDenied):
        Archive(archive_root, Actor("tester", "tester"))
    # a trust file that someone other than root could have written trusts nothing
    safe.write_text('owners = ["nobody"]\n', encoding="utf-8")
    os.chown(safe, NOBODY, NOBODY)
    with pytest.raises(AccessDenied, match="not trusted"):
        Archive(archive_root, Actor("tester", "tester"))
    os.chown(safe, 0, 0)
    safe.chmod(0o666)
    with pytest.raises(AccessDenied, match="not trusted"):
        Archive(archive_root, Actor("tester", "tester"))
    safe.chmod(0o644)
    Archive(archive_root, Actor("tester", "tester")).close()
    chown_tree(archive_root, 0)


def test_init_refuses_a_folder_owned_by_someone_else(tmp_path):
    target = tmp_path / "theirs"
    target.mkdir()
    os.chown(target, NOBODY, NOBODY)
    line = one_line(dangan("init", str(target), "--fonds", "Z109"))
    assert "owned by nobody" in line and not (target / "dangan.toml").exists()


def test_the_loader_never_imports_from_a_writable_folder(tmp_path):
    from dangan.plugins.loader import get_plugin_manager
    d = tmp_path / "plugins"
    d.mkdir()
    (d / "open_door.py").write_text("from dangan.plugins import hookimpl\n", encoding="utf-8")
    os.chmod(d, 0o777)
    pm = get_plugin_manager(load_entrypoints=False, plugin_dirs=[d])
    assert "open_door" not in pm.sources
    assert any("writable by group or others" in p.message for p in pm.load_problems)
    os.chmod(d, 0o755)
    os.chmod(d / "open_door.py", 0o646)
    pm = get_plugin_manager(load_entrypoints=False, plugin_dirs=[d])
    assert "open_door" not in pm.sources
    os.chmod(d / "open_door.py", 0o644)
    assert "open_door" in get_plugin_manager(load_entrypoints=False, plugin_dirs=[d]).sources
