"""The unlock agent: holds unlocked volume keys in memory for a limited time.

``dangan volume unlock`` unwraps a volume's private key with the passphrase and
hands it to this small background process over a Unix socket; later commands
of the same dangan user ask it for the key.  Keys are held per (dangan user,
volume): an unlock serves only the user who made it, not every dangan user
acting through the same OS account.  Keys never touch disk, expire after the
configured lifetime, and go when locked; the agent exits when it holds no key.

The agent starts with a scrubbed environment (no ``DANGAN_PASSPHRASE`` or
``DANGAN_BACKUP_PASSPHRASE`` in ``/proc/PID/environ``), and like ssh-agent it
makes itself non-dumpable (``PR_SET_DUMPABLE`` 0: no ptrace, no core, its
``/proc/PID`` files owned by root) with ``RLIMIT_CORE`` 0.

The socket lives in a private folder (see ``runtime_dir``), the agent answers
only peers of its own uid (``SO_PEERCRED``), and the client talks only to an
agent of its own uid, so a socket planted by someone else gets no key.

Protocol: one JSON object per line each way, each request naming its
``user``: ``{"op": "put", "user", "volume", "key" (base64), "ttl"}``,
``{"op": "get", "user", "volume"}``, ``{"op": "drop", "user", "volume" (or
null for all of the user's), "everyone" (drop the volume for every user)}``,
``{"op": "status", "user"}``, ``{"op": "quit"}``.
"""
from __future__ import annotations

import base64
import json
import os
import select
import socket
import stat
import struct
import subprocess
import sys
import time
from pathlib import Path

IDLE_EXIT_SECONDS = 5.0
#: How long a client waits for an agent it started (a loaded machine imports slowly).
START_SECONDS = 30.0
PR_SET_DUMPABLE = 4
#: What the agent keeps of the environment it is started from: nothing secret.
AGENT_ENVIRONMENT = ("PATH", "LANG", "LC_ALL", "LC_CTYPE", "TZ")


def harden_process() -> None:
    """As ssh-agent does: no core dumps (RLIMIT_CORE 0) and not dumpable (PR_SET_DUMPABLE 0, which also
    stops ptrace by the same uid and makes ``/proc/PID/{environ,mem,…}`` root's).  Best effort off Linux."""
    import ctypes
    import resource
    try:
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    except (ValueError, OSError):
        pass
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)
    except (OSError, AttributeError):
        pass


def _private_dir(d: Path) -> str | None:
    """Make ``d`` (mode 0700) if missing; why it is unsafe to use, or None when it is ours and private."""
    uid = os.getuid()
    try:
        os.mkdir(d, 0o700)
    except FileExistsError:
        pass
    except OSError as exc:
        return f"cannot create {d}: {exc.strerror}"
    st = os.lstat(d)
    if stat.S_ISLNK(st.st_mode) or not stat.S_ISDIR(st.st_mode):
        return f"{d} is not a folder"
    if st.st_uid != uid:
        return f"{d} belongs to uid {st.st_uid}, not to you (uid {uid})"
    if st.st_mode & 0o077:
        return f"{d} is open to others (mode {stat.S_IMODE(st.st_mode):o}, not 700)"
    return None


def _candidates() -> list[Path]:
    uid = os.getuid()
    base = os.environ.get("XDG_RUNTIME_DIR")
    if base:
        return [Path(base) / "dangan"]
    out = []
    run_user = Path(f"/run/user/{uid}")
    try:
        st = os.lstat(run_user)
        if stat.S_ISDIR(st.st_mode) and st.st_uid == uid and not st.st_mode & 0o077:
            out.append(run_user / "dangan")
    except OSError:
        pass
    out.append(Path(f"/tmp/dangan-{uid}"))
    try:
        out.append(Path.home() / ".cache" / "dangan" / f"run-{socket.gethostname()[:32]}")
    except RuntimeError:
        pass                    # no $HOME and no passwd entry: no home to fall back on
    return out


def runtime_dir() -> Path:
    """The agent's private folder: ``$XDG_RUNTIME_DIR/dangan``; without that variable the first safe one of
    ``/run/user/UID/dangan``, ``/tmp/dangan-UID`` and ``~/.cache/dangan/run-HOST``.  A folder owned by
    someone else, open to others or not a folder is never used (nor changed): another user may pre-create
    ``/tmp/dangan-UID``.  Every client computes the same answer, so they all find one agent."""
    reasons = []
    for d in _candidates():
        if d.parent != Path("/tmp"):
            try:
                d.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            except OSError as exc:
                reasons.append(f"cannot create {d.parent}: {exc.strerror}")
                continue
        why = _private_dir(d)
        if why is None:
            return d
        reasons.append(why)
    from dangan.errors import AccessDenied
    raise AccessDenied("no private folder for the unlock agent (" + "; ".join(reasons) + "): set $XDG_RUNTIME_DIR "
                       "to a folder of yours with mode 700")


def socket_path(archive_id: str) -> Path:
    return runtime_dir() / f"agent-{archive_id.replace('-', '')[:16]}.sock"


class _NotOurs(Exception):
    """The socket is answered by a process of another uid, or not in our protocol."""


class AgentClient:
    """The agent as one dangan user of this archive sees it."""

    def __init__(self, archive_id: str, user: str) -> None:
        self.path = socket_path(archive_id)
        self.user = user

    def _call(self, msg: dict, *, start: bool = False) -> dict | None:
        """One request; None when no agent of ours answers.  With ``start`` an agent is started if none
        runs, and waited for (up to ``START_SECONDS``: a loaded machine starts Python slowly)."""
        msg = {**msg, "user": self.user}
        deadline = None
        while True:
            try:
                return self._exchange(msg)
            except _NotOurs:
                return None
            except OSError as exc:   # no socket, refused (stale), timed out, backlog full
                if not start:
                    return None
                if deadline is None:
                    if isinstance(exc, (FileNotFoundError, ConnectionRefusedError)):
                        self._start()    # none runs (a busy one is waited for, never replaced)
                    deadline = time.monotonic() + START_SECONDS
                elif time.monotonic() > deadline:
                    return None
                else:
                    time.sleep(0.05)

    def _exchange(self, msg: dict) -> dict:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(5)
            _connect(s, self.path)
            if _peer_uid(s) != os.getuid():
                raise _NotOurs()         # not our agent: tell it nothing (and never send it a key)
            s.sendall(json.dumps(msg).encode() + b"\n")
            buf = b""
            while not buf.endswith(b"\n"):
                chunk = s.recv(65536)
                if not chunk:
                    break
                buf += chunk
            try:
                return json.loads(buf or b"{}")
            except ValueError:
                raise _NotOurs() from None

    def _start(self) -> None:
        self.path.unlink(missing_ok=True)
        env = {k: os.environ[k] for k in AGENT_ENVIRONMENT if k in os.environ}
        # run from the folder holding this dangan package, so ``-m`` starts this same code without PYTHONPATH
        here = str(Path(__file__).resolve().parents[3])
        subprocess.Popen([sys.executable, "-m", "dangan.core.confidential.agent", str(self.path)], start_new_session=True,
                         env=env, cwd=here, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)

    def put(self, volume: str, key: bytes, ttl: float) -> None:
        r = self._call({"op": "put", "volume": volume, "key": base64.b64encode(key).decode(), "ttl": ttl}, start=True)
        if not r or not r.get("ok"):
            from dangan.errors import CryptoError
            raise CryptoError("could not reach the unlock agent")

    def get(self, volume: str) -> bytes | None:
        r = self._call({"op": "get", "volume": volume})
        return base64.b64decode(r["key"]) if r and r.get("key") else None

    def drop(self, volume: str | None, *, everyone: bool = False) -> None:
        self._call({"op": "drop", "volume": volume, "everyone": everyone})

    def status(self) -> dict[str, float]:
        r = self._call({"op": "status"})
        return r.get("volumes", {}) if r else {}


def _connect(s: socket.socket, path: Path) -> None:
    """Connect, through ``/proc/self/fd/N/NAME`` when the path is too long for AF_UNIX."""
    if len(os.fsencode(str(path))) < 100:
        s.connect(str(path))
        return
    fd = os.open(path.parent, os.O_PATH | os.O_DIRECTORY)
    try:
        s.connect(f"/proc/self/fd/{fd}/{path.name}")
    finally:
        os.close(fd)


def _peer_uid(conn: socket.socket) -> int:
    creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    return struct.unpack("3i", creds)[1]


def _answer(keys: dict[tuple[str, str], tuple[bytes, float]], msg: dict) -> dict:
    op, user = msg.get("op"), msg.get("user")
    reply: dict = {"ok": True}
    if not isinstance(user, str):                 # ("quit" is answered by the serving loop)
        return {"ok": False, "error": "no user"}
    if op == "put":
        keys[(user, msg["volume"])] = (base64.b64decode(msg["key"]), time.time() + float(msg["ttl"]))
    elif op == "get":
        entry = keys.get((user, msg.get("volume", "")))
        reply["key"] = base64.b64encode(entry[0]).decode() if entry else None
    elif op == "drop":
        vol = msg.get("volume")
        for k in [k for k in keys if (msg.get("everyone") and k[1] == vol)
                  or (k[0] == user and (vol is None or k[1] == vol))]:
            del keys[k]
    elif op == "status":
        reply["volumes"] = {v: exp for (u, v), (_, exp) in keys.items() if u == user}
    else:
        reply = {"ok": False, "error": f"unknown op {op!r}"}
    return reply


def serve(path: Path) -> None:
    harden_process()
    keys: dict[tuple[str, str], tuple[bytes, float]] = {}
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    # bound and listening under a temporary name, then renamed: once the path exists it accepts connections
    # (a client racing the start between bind and listen was refused and gave up).  Names relative to the
    # folder, so a long $XDG_RUNTIME_DIR does not hit AF_UNIX's 108-byte limit.
    os.chdir(path.parent)
    tmp = f".{os.getpid()}.tmp"
    Path(tmp).unlink(missing_ok=True)
    old = os.umask(0o177)
    try:
        srv.bind(tmp)
    finally:
        os.umask(old)
    srv.listen(16)
    os.rename(tmp, path.name)
    last_key = time.monotonic() + START_SECONDS        # the client that started us may be slow to call
    try:
        while True:
            now = time.time()
            for k in [k for k, (_, exp) in keys.items() if exp <= now]:
                del keys[k]
            if keys:
                last_key = time.monotonic()
            elif time.monotonic() - last_key > IDLE_EXIT_SECONDS:
                return
            ready, _, _ = select.select([srv], [], [], 0.5)
            if not ready:
                continue
            conn, _ = srv.accept()
            with conn:
                conn.settimeout(5)
                if _peer_uid(conn) != os.getuid():
                    continue
                try:
                    buf = b""
                    while not buf.endswith(b"\n"):
                        chunk = conn.recv(65536)
                        if not chunk:
                            break
                        buf += chunk
                    msg = json.loads(buf)
                    if not isinstance(msg, dict):
                        continue
                except (OSError, ValueError):
                    continue
                if msg.get("op") == "quit":
                    keys.clear()
                    conn.sendall(json.dumps({"ok": True}).encode() + b"\n")
                    return
                try:
                    reply = _answer(keys, msg)
                except (KeyError, TypeError, ValueError):
                    reply = {"ok": False, "error": "bad request"}
                try:
                    conn.sendall(json.dumps(reply).encode() + b"\n")
                except OSError:
                    pass
    finally:
        srv.close()
        path.unlink(missing_ok=True)


if __name__ == "__main__":
    serve(Path(sys.argv[1]))
