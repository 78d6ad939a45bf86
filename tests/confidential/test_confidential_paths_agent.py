"""The unlock agent: unlocking is tied to a cleared dangan user (issue 11.5), the agent holds no passphrase
in its environment and is not dumpable (11.13), and its runtime folder is private (11.16).

The process-level tests run dangan as an unprivileged uid (``setpriv``, the suite runs as root) so that
ownership of ``/proc/PID`` and of the pre-created folder mean what they say."""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from ocfl_helpers import assert_store_valid

PASS = "correct horse battery staple"
BACKUP_PASS = "BACKUPPASSMARK backup words"
ROOT_ONLY = pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("setpriv"),
                               reason="needs root and setpriv to act as other uids")


# -- 11.5: two registered dangan users through one OS account -------------------------------
@pytest.fixture
def office(cli, archive_root, monkeypatch, tmp_path):
    # these tests are about the unlock; get of a secret record on a loan is tests/policy/test_security_identity_loans.py
    with open(archive_root / "dangan.toml", "a", encoding="utf-8") as f:
        f.write('\n[policy]\nloan_required_from = "none"\n')
    monkeypatch.setenv("DANGAN_PASSPHRASE", PASS)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "run"))
    (tmp_path / "run").mkdir(mode=0o700)
    cli("user", "add", "boss", "--role", "manager", "--clearance", "top-secret", user="x")
    cli("user", "add", "alice", "--role", "archivist", "--clearance", "secret", user="boss")
    cli("user", "add", "carol", "--role", "archivist", "--clearance", "confidential", user="boss")
    cli("user", "add", "bob", "--role", "staff", "--clearance", "internal", user="boss")
    cli("volume", "create", "V", "--secrecy", "秘密", user="boss")
    yield cli
    for u in ("boss", "alice", "carol"):
        cli("volume", "lock", user=u)


def _sealed(cli, tmp_path) -> str:
    src = tmp_path / "秘密合同.txt"
    src.write_text("秘密正文 UNLOCKMARK", encoding="utf-8")
    return json.loads(cli("ingest", src, "--volume", "V", "--title", "秘密合同", "--json",
                          user="alice").output.splitlines()[0])["record_id"]


def test_an_uncleared_user_may_not_unlock(office, archive_root, tmp_path):
    r = office("volume", "unlock", "V", user="bob", ok=False)
    assert r.exit_code == 7 and "not cleared" in r.output and "bob" in r.output
    listed = {v["name"]: v for v in map(json.loads, office("volume", "list", "--json", user="bob").output.splitlines())}
    assert "V" not in listed            # a volume above the reader's clearance is not listed (issue 11.11)
    denied = [json.loads(x) for x in office("audit", "log", "--json", "--action", "access.denied",
                                            user="boss").output.splitlines()]
    assert [(e["object"], e["details"]["action"]) for e in denied] == [("V", "unlock")]
    assert not any(json.loads(x)["outcome"] == "success" for x in office(
        "audit", "log", "--json", "--action", "volume.unlock", user="boss").output.splitlines())


def test_an_unlock_serves_only_the_user_who_made_it(office, archive_root, tmp_path):
    rid = _sealed(office, tmp_path)
    office("volume", "unlock", "V", user="alice")
    shown = json.loads(office("show", rid, "--json", user="alice").output)
    assert shown["title"] == "秘密合同" and not shown["locked"]
    # carol is cleared too, acts through the same OS account, and has not unlocked: she gets nothing
    shown = json.loads(office("show", rid, "--json", user="carol").output)
    assert shown["locked"] and shown["title"] == ""
    r = office("get", rid, "-o", tmp_path / "carol", user="carol", ok=False)
    assert r.exit_code == 12 and "dangan volume unlock V" in r.output
    assert not (tmp_path / "carol").exists() or not any((tmp_path / "carol").iterdir())
    state = {v["name"]: v["unlocked_until"] for v in
             map(json.loads, office("volume", "list", "--json", user="carol").output.splitlines())}
    assert state["V"] is None
    # carol's lock does not lock alice out; alice's own lock does
    office("volume", "lock", "V", user="carol")
    office("get", rid, "-o", tmp_path / "alice", user="alice")
    assert (tmp_path / "alice" / "秘密合同.txt").read_text(encoding="utf-8") == "秘密正文 UNLOCKMARK"
    office("volume", "lock", "V", user="alice")
    r = office("get", rid, "-o", tmp_path / "alice2", user="alice", ok=False)
    assert r.exit_code == 12


def test_the_agent_keeps_keys_per_dangan_user(tmp_path, monkeypatch):
    """At the protocol level: one socket, one uid, two users; a key put by one is not given to the other."""
    from dangan.core.confidential.agent import AgentClient
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "run"))
    (tmp_path / "run").mkdir(mode=0o700)
    alice, carol = AgentClient("a1b2c3d4-0000", "alice"), AgentClient("a1b2c3d4-0000", "carol")
    try:
        alice.put("vol1", b"k" * 32, 600)
        assert alice.get("vol1") == b"k" * 32 and carol.get("vol1") is None
        assert set(alice.status()) == {"vol1"} and carol.status() == {}
        carol.drop(None)
        assert alice.get("vol1") == b"k" * 32
        carol.drop("vol1", everyone=True)              # a key rotation drops the volume for everyone
        assert alice.get("vol1") is None
    finally:
        alice.drop(None)


def test_the_agent_is_reached_under_a_runtime_folder_longer_than_af_unix_allows(tmp_path, monkeypatch):
    from dangan.core.confidential.agent import AgentClient
    deep = tmp_path / ("运行目录-" + "x" * 60) / ("y" * 40)
    deep.mkdir(parents=True, mode=0o700)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(deep))
    client = AgentClient("a1b2c3d4-0001", "alice")
    assert len(os.fsencode(str(client.path))) > 108
    try:
        client.put("vol1", b"k" * 32, 600)
        assert client.get("vol1") == b"k" * 32
    finally:
        client.drop(None)


# -- helpers to act as an unprivileged uid ---------------------------------------------------
def _free_uid(offset: int) -> int:
    import pwd
    uid = 47000 + (os.getpid() % 400) * 5 + offset
    while True:
        try:
            pwd.getpwuid(uid)
            uid += 2000
        except KeyError:
            return uid


def _interpreter() -> tuple[str, dict[str, str]]:
    """A Python another uid can execute, and the environment it needs to import dangan and its dependencies.

    The test venv's interpreter may live under root's private home (pyenv): then the system Python 3.11
    runs with the venv's site-packages on PYTHONPATH (the agent it starts finds dangan from its cwd)."""
    import sysconfig
    import dangan
    real = Path(os.path.realpath(sys.executable))
    if all(os.stat(d).st_mode & 0o001 for d in real.parents) and os.stat(real).st_mode & 0o001:
        return sys.executable, {}
    system = shutil.which(f"python{sys.version_info.major}.{sys.version_info.minor}", path="/usr/bin:/bin")
    if system is None:
        pytest.skip("no Python another uid may execute")
    return system, {"PYTHONPATH": os.pathsep.join([str(Path(dangan.__file__).parents[1]),
                                                   sysconfig.get_paths()["purelib"]])}


class AsUid:
    """Runs ``python -m dangan …`` as ``uid`` with a private HOME, in a fresh environment."""

    def __init__(self, uid: int, base: Path, runtime: Path | None) -> None:
        self.uid, self.base, self.home, self.runtime = uid, base, base / "home", runtime
        self.archive = base / "archive"
        self.home.mkdir()
        os.chown(self.home, uid, uid)

    def env(self) -> dict[str, str]:
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(self.home), "LANG": "C.UTF-8",
               "DANGAN_PASSPHRASE": PASS, "DANGAN_BACKUP_PASSPHRASE": BACKUP_PASS}
        if self.runtime is not None:
            env["XDG_RUNTIME_DIR"] = str(self.runtime)
        return {**env, **_interpreter()[1]}

    def __call__(self, *args: str, ok: bool = True) -> subprocess.CompletedProcess:
        cmd = ["setpriv", f"--reuid={self.uid}", f"--regid={self.uid}", "--clear-groups",
               _interpreter()[0], "-m", "dangan", *args]
        p = subprocess.run(cmd, env=self.env(), cwd=self.home, capture_output=True, text=True, timeout=600)
        if ok:
            assert p.returncode == 0, f"{args} → {p.returncode}\n{p.stdout}\n{p.stderr}"
        return p

    def dangan(self, *args: str, ok: bool = True) -> subprocess.CompletedProcess:
        return self("--archive", str(self.archive), *args, ok=ok)

    def setup_volume(self) -> None:
        self("init", str(self.archive), "--fonds", "Z109", "--name", "测试")
        self.dangan("volume", "create", "V", "--secrecy", "secret")


@pytest.fixture
def as_uid():
    """A folder in /tmp owned by a free uid; afterwards its store is validated, its agent stopped, it is removed."""
    made: list[AsUid] = []
    agents: list[int] = []

    def make(runtime: bool = True, offset: int = 0) -> AsUid:
        uid = _free_uid(offset)
        base = Path(tempfile.mkdtemp(prefix="dangan-cpt-"))
        os.chown(base, uid, uid)
        run = None
        if runtime:
            run = base / "run"
            run.mkdir(mode=0o700)
            os.chown(run, uid, uid)
        u = AsUid(uid, base, run)
        made.append(u)
        return u

    make.agents = agents
    yield make
    for pid in agents:
        try:
            os.kill(pid, signal.SIGKILL)          # only the agent processes these tests started
        except ProcessLookupError:
            pass
    for u in made:
        if (u.archive / "store").exists():
            assert_store_valid(u.archive / "store")
        shutil.rmtree(u.base, ignore_errors=True)


def _agent_pid(runtime: Path) -> int:
    """The pid of the agent listening in ``runtime`` (its SO_PEERCRED, seen by the connecting side)."""
    (sock,) = list(runtime.glob("agent-*.sock"))
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.connect(str(sock))
        pid, _uid, _gid = struct.unpack("3i", s.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED,
                                                           struct.calcsize("3i")))
    return pid


# -- 11.13: the agent's environment and dumpability -----------------------------------------
@ROOT_ONLY
def test_the_agent_holds_no_passphrase_and_is_not_dumpable(as_uid):
    u = as_uid()
    u.setup_volume()
    u.dangan("volume", "unlock", "V")
    pid = _agent_pid(u.runtime / "dangan")
    as_uid.agents.append(pid)
    environ = Path(f"/proc/{pid}/environ").read_bytes()
    assert b"DANGAN_PASSPHRASE" not in environ and b"DANGAN_BACKUP_PASSPHRASE" not in environ
    assert PASS.encode() not in environ and b"BACKUPPASSMARK" not in environ
    status = Path(f"/proc/{pid}/status").read_text()
    assert f"Uid:\t{u.uid}\t" in status and "dangan" in Path(f"/proc/{pid}/cmdline").read_text()
    # a non-dumpable process's /proc files belong to root although the process runs as u.uid
    assert os.stat(f"/proc/{pid}/status").st_uid == 0 and os.stat(f"/proc/{pid}/environ").st_uid == 0
    limits = Path(f"/proc/{pid}/limits").read_text()
    core = next(line for line in limits.splitlines() if line.startswith("Max core file size"))
    assert core.split()[4:6] == ["0", "0"], core
    u.dangan("volume", "lock")


# -- 11.16: a runtime folder pre-created by someone else --------------------------------------
@ROOT_ONLY
def test_unlock_works_when_another_user_pre_created_the_runtime_folder(as_uid):
    u = as_uid(runtime=False)
    other = _free_uid(1)
    trap = Path(f"/tmp/dangan-{u.uid}")
    shutil.rmtree(trap, ignore_errors=True)
    trap.mkdir(mode=0o777)
    os.chmod(trap, 0o777)
    os.chown(trap, other, other)
    try:
        u.setup_volume()
        src = u.base / "s.txt"
        src.write_text("秘密", encoding="utf-8")
        os.chown(src, u.uid, u.uid)
        ingest = u.dangan("ingest", str(src), "--volume", "V", "--json")
        rid = json.loads(ingest.stdout.splitlines()[0])["record_id"]
        p = u.dangan("volume", "unlock", "V")
        assert "unlocked" in p.stdout
        assert not json.loads(u.dangan("show", rid, "--json").stdout)["locked"]
        st = os.lstat(trap)
        assert (st.st_uid, st.st_mode & 0o777) == (other, 0o777) and list(trap.iterdir()) == []  # left alone
        private = u.home / ".cache" / "dangan"
        (run,) = list(private.glob("run-*"))
        pid = _agent_pid(run)
        as_uid.agents.append(pid)
        assert os.stat(run).st_uid == u.uid and os.stat(run).st_mode & 0o777 == 0o700
        u.dangan("volume", "lock")
    finally:
        shutil.rmtree(trap, ignore_errors=True)


@ROOT_ONLY
def test_an_own_runtime_folder_open_to_others_is_not_used(as_uid):
    u = as_uid(runtime=False)
    loose = Path(f"/tmp/dangan-{u.uid}")
    shutil.rmtree(loose, ignore_errors=True)
    loose.mkdir()
    os.chmod(loose, 0o777)
    os.chown(loose, u.uid, u.uid)
    try:
        code = "from dangan.core.confidential.agent import runtime_dir; print(runtime_dir())"
        q = subprocess.run(["setpriv", f"--reuid={u.uid}", f"--regid={u.uid}", "--clear-groups",
                            _interpreter()[0], "-c", code], env={**u.env(), "XDG_RUNTIME_DIR": ""},
                           cwd=u.home, capture_output=True, text=True, timeout=120)
        assert q.returncode == 0, q.stderr
        chosen = Path(q.stdout.strip())
        assert chosen != loose and chosen.is_relative_to(u.home)
        assert os.lstat(loose).st_mode & 0o777 == 0o777        # not silently "fixed": it may hold a planted socket
    finally:
        shutil.rmtree(loose, ignore_errors=True)
