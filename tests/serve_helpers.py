"""Helpers for the web face's tests: an office archive with users, passwords and records; signed-in clients."""
from __future__ import annotations

import json
import re
from pathlib import Path

from cli_helpers import enable

PASS = "correct horse battery staple"
SECRET_TITLE = "机密标题XQZ"
SECRET_NAME = "绝密文件名QQQ.txt"
SECRET_TEXT = "秘密正文ZZTOP"
USERS = (("arch", "archivist", "BGS", "internal"), ("head", "department-head", "BGS", "internal"),
         ("mgr", "manager", "BGS", "secret"), ("clerk", "staff", "BGS", "internal"),
         ("aud", "auditor", "BGS", "internal"))


class Cli:
    """``dangan --archive ROOT --as USER ARGS`` in this process, each user its own identity (as the suite's
    ``cli`` fixture does), for building the shared office before any test's fixtures exist."""

    def __init__(self, root: Path) -> None:
        from dangan.cli import get_cli
        self.root, self.cli = root, get_cli()

    def __call__(self, *args, ok: bool = True, input: str | None = None, user: str = "tester"):
        import dataclasses

        from click.testing import CliRunner
        import dangan.core.kernel.actor as actor_mod
        real = actor_mod.current_actor
        actor_mod.current_actor = lambda as_user=None: dataclasses.replace(real(as_user), session=f"test:{user}")
        try:
            r = CliRunner().invoke(self.cli, ["--archive", str(self.root), "--as", user, *map(str, args)],
                                   input=input, catch_exceptions=False)
        finally:
            actor_mod.current_actor = real
        assert not ok or r.exit_code == 0, r.output
        return r


def password(name: str) -> str:
    return f"{name}-password-2026"


def build_office(cli, archive_root: Path, tmp_path: Path) -> dict:
    """Users (boss admin; arch, head, mgr, clerk, aud), web passwords, three records and one secret (sealed) in
    volume V.  ``$DANGAN_PASSPHRASE`` names the keystore's passphrase."""
    enable(archive_root, "customer_confidentiality")
    cli("user", "add", "boss", "--clearance", "top-secret", user="x")
    for name, role, dept, clearance in USERS:
        cli("user", "add", name, "--role", role, "--dept", dept, "--clearance", clearance, user="boss")
    for name in ("boss", *(u[0] for u in USERS)):
        cli("user", "passwd", name, input=password(name) + "\n", user="boss")
    ids = {}
    for key, name, text, args in (
            ("plain", "会议纪要.txt", "檔案管理制度 会议纪要正文", ("--title", "档案管理会议纪要")),
            ("other", "contract.txt", "合同 档案 contract", ("--title", "合同档案")),
            ("xss", "x.txt", "xss body", ("--title", "<script>alert(1)</script>"))):
        p = tmp_path / name
        p.write_text(text, encoding="utf-8")
        ids[key] = json.loads(cli("ingest", p, "--category", "WS", "--dept", "BGS", "--date", "2021-01-01",
                                  *args, "--json", user="arch").output)["record_id"]
    cli("volume", "create", "V", "--secrecy", "秘密", "--title", "机要卷", user="boss")
    p = tmp_path / SECRET_NAME
    p.write_text(SECRET_TEXT, encoding="utf-8")
    ids["secret"] = json.loads(cli("ingest", p, "--volume", "V", "--category", "WS", "--dept", "BGS", "--date",
                                   "2021-01-01", "--title", SECRET_TITLE, "--json",
                                   user="arch").output.splitlines()[0])["record_id"]
    return ids


def client(root: Path, **settings):
    from starlette.testclient import TestClient
    from dangan.web.app import create_app
    from dangan.web.context import Settings
    return TestClient(create_app(root, settings=Settings(root=root, **settings)), base_url="http://testserver")


def login_csrf(c) -> str:
    r = c.get("/login")
    return re.search(r'name="csrf" value="([^"]+)"', r.text).group(1)


def sign_in(c, name: str, pw: str | None = None):
    r = c.post("/login", data={"user": name, "password": pw or password(name), "csrf": login_csrf(c),
                               "next": "/search"}, follow_redirects=False)
    return r


def csrf_of(c, path: str = "/search") -> str:
    return re.search(r'name="csrf" value="([^"]+)"', c.get(path).text).group(1)


def token(cli, user: str, scope: str = "read,ingest", days: int = 30) -> str:
    return cli("token", "create", user, "--scope", scope, "--days", str(days), user="boss").output.splitlines()[0].strip()
