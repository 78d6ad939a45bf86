"""A throw-away PostgreSQL server for the tests: the PostgreSQL 15 of the image, on a Unix socket in a temp folder.

``initdb`` and ``postgres`` refuse to run as root, so under root the server runs as the ``postgres`` account
(``setpriv``, as the identity tests do); as anyone else it runs as that user.  It listens on no TCP port, only
on a socket in its own folder, trusts local connections (nobody else can reach the folder) and is stopped with
``pg_ctl stop -m fast`` afterwards.  Each test gets a database of its own (:meth:`PgServer.new_database`).

``scripts/pg-test-server`` starts one for ``make test`` and hands its URL on in ``DANGAN_TEST_PG_URL``; a pytest
run without it starts its own (the session fixture ``pg_server`` in conftest.py).
"""
from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

BIN_CANDIDATES = ("/usr/lib/postgresql/15/bin", "/usr/lib/postgresql/16/bin", "/usr/lib/postgresql/17/bin")
ENV_URL = "DANGAN_TEST_PG_URL"


def pg_bin() -> Path | None:
    for d in BIN_CANDIDATES:
        if (Path(d) / "initdb").exists():
            return Path(d)
    found = shutil.which("initdb")
    return Path(found).parent if found else None


def _as_server_user(argv: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return argv
    pw = pwd.getpwnam("postgres")
    return ["setpriv", f"--reuid={pw.pw_uid}", f"--regid={pw.pw_gid}", "--init-groups", "--", *argv]


@dataclass
class PgServer:
    base: Path              # holds data/ and the socket
    owned: bool = True      # started here (stop it) or handed in by URL

    @property
    def socket_dir(self) -> Path:
        return self.base / "sock"

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql://postgres@/{dbname}?host={self.socket_dir}"

    def new_database(self) -> str:
        """A fresh, empty database; its URL."""
        import psycopg
        name = "t_" + uuid.uuid4().hex[:16]
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def drop_database(self, url: str) -> None:
        import psycopg
        name = url.split("/", 3)[3].split("?", 1)[0]
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def stop(self) -> None:
        if not self.owned:
            return
        binary = pg_bin()
        assert binary is not None
        subprocess.run(_as_server_user([str(binary / "pg_ctl"), "stop", "-D", str(self.base / "data"), "-m", "fast",
                                        "-w"]), check=False, capture_output=True)
        shutil.rmtree(self.base, ignore_errors=True)

    def restart(self) -> None:
        """Stop (fast: open transactions are rolled back) and start again on the same data and socket."""
        binary = pg_bin()
        assert binary is not None
        subprocess.run(_as_server_user([str(binary / "pg_ctl"), "restart", "-D", str(self.base / "data"), "-m",
                                        "fast", "-w", "-l", str(self.base / "log")]), check=True, capture_output=True)


def start(base: Path | None = None) -> PgServer:
    """initdb + start; raises RuntimeError with the server's own words if it cannot."""
    binary = pg_bin()
    if binary is None:
        raise RuntimeError("PostgreSQL is not installed (scripts/install-system-deps names postgresql)")
    base = Path(base or tempfile.mkdtemp(prefix="dangan-pg-"))
    base.mkdir(parents=True, exist_ok=True)
    (base / "sock").mkdir(exist_ok=True)
    if os.geteuid() == 0:
        pw = pwd.getpwnam("postgres")
        for p in (base, base / "sock"):
            os.chown(p, pw.pw_uid, pw.pw_gid)
    os.chmod(base, 0o700)          # nobody else reaches the socket (root, the test process, passes anyway)
    os.chmod(base / "sock", 0o700)
    run = lambda argv: subprocess.run(_as_server_user(argv), capture_output=True, text=True)  # noqa: E731
    r = run([str(binary / "initdb"), "-D", str(base / "data"), "-U", "postgres", "--auth=trust", "-E", "UTF8",
             "--locale=C.UTF-8", "--no-sync"])
    if r.returncode:
        raise RuntimeError(f"initdb failed: {r.stderr or r.stdout}")
    opts = f"-c listen_addresses='' -k {base / 'sock'} -c max_connections=100 -c shared_buffers=32MB"
    r = run([str(binary / "pg_ctl"), "start", "-D", str(base / "data"), "-w", "-l", str(base / "log"), "-o", opts])
    if r.returncode:
        log = (base / "log").read_text() if (base / "log").exists() else ""
        raise RuntimeError(f"PostgreSQL did not start: {r.stderr or r.stdout}\n{log}")
    return PgServer(base)


def from_env() -> PgServer | None:
    """The server ``scripts/pg-test-server`` started, if this run has one."""
    url = os.environ.get(ENV_URL)
    if not url:
        return None
    host = url.split("host=", 1)[1].split("&", 1)[0]
    return PgServer(Path(host).parent, owned=False)


if __name__ == "__main__":       # scripts/pg-test-server: start | stop BASE
    import sys
    if sys.argv[1:2] == ["start"]:
        print(start(Path(sys.argv[2]) if len(sys.argv) > 2 else None).url())
    elif sys.argv[1:2] == ["stop"]:
        PgServer(Path(sys.argv[2])).stop()
    else:
        sys.exit("usage: pg_service.py start [BASE] | stop BASE")
