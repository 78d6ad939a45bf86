"""The web face's security: every route walked as anonymous, staff without clearance and an auditor; CSRF; XSS;
CSP; sessions; throttling; download names; bounded uploads and ranges; a secret record reveals nothing."""
from __future__ import annotations

import json
import logging
import re
import sqlite3


from cli_helpers import audit
from serve_helpers import SECRET_NAME, SECRET_TEXT, SECRET_TITLE, client, csrf_of, sign_in, token
from web_fixtures import archive_root, office, office_template  # noqa: F401  (fixtures)

LEAKS = (SECRET_TITLE, SECRET_NAME, SECRET_TEXT, "绝密文件名")


def _routes(app):
    """(methods, path) of every route of the app, mounts included."""
    from starlette.routing import Mount, Route
    out = []

    def walk(routes, prefix=""):
        for r in routes:
            if isinstance(r, Mount):
                if r.path == "/static":
                    continue
                walk(r.routes, prefix + r.path)
            elif isinstance(r, Route):
                out.append((tuple(sorted(r.methods - {"HEAD"})), prefix + r.path))
    walk(app.app.routes)
    return out


def _fill(path: str, ids: dict, lid: str) -> str:
    return (path.replace("{rid}", ids["secret"]).replace("{n:int}", "1").replace("{lid}", lid).replace("{aid}", "A1")
            .replace("{name}", "V").replace("{hid}", "h0"))


def test_every_route_as_anonymous_staff_and_auditor(cli, office, archive_root, caplog):
    """No route answers anonymous users with content; no route shows a low-clearance user or an auditor anything
    of a secret record (title, file names, text); no route crashes."""
    lid = json.loads(cli("lend", "request", office["plain"], "--purpose", "核对", "--json", user="clerk").output)["loan"]
    caplog.set_level(logging.DEBUG)
    public = {"/login", "/lang", "/healthz", "/", "/api/v1/openapi.json"}
    with client(archive_root) as anon:
        routes = _routes(anon.app)
        assert {p for _, p in routes} >= {"/search", "/records/{rid}", "/records/{rid}/files/{n:int}", "/loans",
                                          "/upload", "/audit", "/dashboard", "/holds", "/api/v1/search",
                                          "/api/v1/records", "/api/v1/records/{rid}", "/logout"}
        for methods, path in routes:
            url = _fill(path, office, lid)
            for m in methods:
                r = anon.request(m, url, follow_redirects=False)
                assert r.status_code < 500, (m, url)
                if path in public:
                    continue
                if path.startswith("/api/"):
                    assert r.status_code == 401, (m, url)
                elif m == "GET":
                    assert r.status_code == 303 and r.headers["location"].startswith("/login"), (m, url)
                else:
                    assert r.status_code == 403, (m, url)
                assert not any(s in r.text for s in LEAKS)
    for who in ("clerk", "aud"):
        with client(archive_root) as c:
            assert sign_in(c, who).status_code == 303
            csrf = csrf_of(c)
            bearer = {"Authorization": "Bearer " + token(cli, who, "read,ingest,lend")}
            for methods, path in routes:
                url = _fill(path, office, lid)
                for m in methods:
                    if path == "/logout":
                        continue
                    if path.startswith("/api/"):
                        r = c.request(m, url, headers=bearer, follow_redirects=False)
                        assert r.status_code != 401, (who, m, url)
                    elif m == "POST":
                        r = c.post(url, data={"csrf": csrf, "records": office["secret"], "purpose": "看看",
                                              "record": office["secret"]}, follow_redirects=False)
                    else:
                        r = c.get(url, follow_redirects=False)
                        assert "/login" not in r.headers.get("location", "") or path == "/login", (who, m, url)
                    assert r.status_code < 500, (who, m, url, r.text[:300])
                    assert not any(s in r.text for s in LEAKS), (who, m, url)
                    assert not any(s in v for s in LEAKS for v in r.headers.values()), (who, m, url)
            r = c.get(f"/records/{office['secret']}")
            assert r.status_code == 403 and "★秘密" in r.text                     # it exists, and its marking
            assert c.get(f"/records/{office['secret']}/files/1").status_code == 403
            r = c.get(f"/api/v1/records/{office['secret']}", headers=bearer)
            assert r.status_code == 403 and office["secret"] in r.json()["error"]
            hits = c.get("/api/v1/search", params={"q": "机密标题XQZ"}, headers=bearer).json()
            assert hits["total"] == 0
    assert not any(s in rec.getMessage() for rec in caplog.records for s in LEAKS)
    denied = [e for e in audit(cli, "access.view") if e["outcome"] == "denied" and e["object"] == office["secret"]]
    assert {e["actor"] for e in denied} >= {"clerk", "aud"}                 # denials audited as on the CLI
    assert not any(e["action"] == "lend.approve" and e["outcome"] == "success" for e in audit(cli, "lend.approve"))


def test_csrf_is_refused_without_the_token(cli, office, archive_root):
    with client(archive_root) as c:
        sign_in(c, "clerk")
        r = c.post("/loans", data={"records": office["plain"], "purpose": "核对"})
        assert r.status_code == 403 and "CSRF" in r.text
        r = c.post("/loans", data={"records": office["plain"], "purpose": "核对", "csrf": "forged"})
        assert r.status_code == 403
    assert cli("lend", "list", "--json", user="boss").output == ""          # nothing was requested
    with client(archive_root) as c:                                          # the sign-in form has its own
        r = c.post("/login", data={"user": "clerk", "password": "clerk-password-2026", "csrf": "x"})
        assert r.status_code == 403 and "dangan_session" not in r.headers.get("set-cookie", "")


def test_script_in_a_title_renders_inert_and_pages_have_a_strict_csp(office, archive_root):
    with client(archive_root) as c:
        sign_in(c, "clerk")
        for url in (f"/records/{office['xss']}", "/search?q=xss", "/search?q=<script>", "/loans", "/audit"):
            r = c.get(url)
            assert "<script>alert" not in r.text and "</script>alert" not in r.text
            assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", r.text)          # no inline script at all
            csp = r.headers["content-security-policy"]
            assert "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp.split("script-src")[1].split(";")[0]
            assert r.headers["x-content-type-options"] == "nosniff"
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in c.get(f"/records/{office['xss']}").text


def test_sessions_end_at_sign_out_and_at_expiry(cli, office, archive_root):
    with client(archive_root) as c:
        r = sign_in(c, "clerk")
        cookie = re.search(r"dangan_session=([^;]+)", r.headers["set-cookie"]).group(1)
        assert "HttpOnly" in r.headers["set-cookie"] and "SameSite=lax" in r.headers["set-cookie"]
        assert c.get("/loans").status_code == 200
        assert c.post("/logout", data={"csrf": csrf_of(c)}, follow_redirects=False).status_code == 303
    with client(archive_root) as c:
        c.cookies.set("dangan_session", cookie)
        r = c.get("/loans", follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"].startswith("/login")
        r = sign_in(c, "head")
        cookie = re.search(r"dangan_session=([^;]+)", r.headers["set-cookie"]).group(1)
        assert c.get("/loans").status_code == 200
    conn = sqlite3.connect(archive_root / "catalogue.sqlite")
    assert conn.execute("SELECT count(*) FROM web_sessions WHERE id_hash = ?", (cookie,)).fetchone()[0] == 0
    conn.execute("UPDATE web_sessions SET expires = '2001-01-01T00:00:00Z' WHERE user = 'head'")   # time passes
    conn.commit()
    conn.close()
    with client(archive_root) as c:
        c.cookies.set("dangan_session", cookie)
        assert c.get("/loans", follow_redirects=False).status_code == 303
    events = [(e["object"], e["outcome"]) for e in audit(cli, "auth.signin")]
    assert ("user:clerk", "success") in events and ("user:head", "success") in events
    assert [e["object"] for e in audit(cli, "auth.signout")] == ["user:clerk"]


def test_failed_sign_ins_are_throttled_and_audited(cli, office, archive_root):
    with client(archive_root) as c:
        for _ in range(5):
            r = sign_in(c, "clerk", "wrong password!")
            assert r.status_code == 401 and "dangan_session" not in r.headers.get("set-cookie", "")
        r = sign_in(c, "clerk")                                        # the right password, too late
        assert r.status_code == 401 and "稍后" in r.text
        r = sign_in(c, "nobody", "whatever it is")
        assert r.status_code == 401 and "用户名或密码错误" in r.text            # the same answer as a wrong password
    outcomes = [e["outcome"] for e in audit(cli, "auth.signin") if e["object"] == "user:clerk"]
    assert outcomes == ["failure"] * 5 + ["denied"]
    assert not any("wrong password" in json.dumps(e) for e in audit(cli, "auth.signin"))


def test_passwords_and_tokens_are_stored_hashed(cli, office, archive_root):
    secret = token(cli, "clerk")
    conn = sqlite3.connect(archive_root / "catalogue.sqlite")
    hashes = [r[0] for r in conn.execute("SELECT hash FROM web_passwords")]
    assert hashes and all(h.startswith("$argon2id$") for h in hashes)
    conn.close()
    raw = b"".join(p.read_bytes() for p in archive_root.glob("catalogue.sqlite*"))
    assert secret.encode() not in raw and secret[len("dgn_") + 13:].encode() not in raw
    assert b"clerk-password-2026" not in raw
    r = cli("user", "passwd", "head", input="short\n", user="clerk", ok=False)      # not an admin, not themself
    assert r.exit_code == 7


def test_download_names_are_rfc6266_and_ranges_are_bounded(cli, office, archive_root):
    with client(archive_root) as c:
        sign_in(c, "clerk")
        r = c.get(f"/records/{office['plain']}/files/1?download=1")
        assert r.status_code == 200 and r.content == "檔案管理制度 会议纪要正文".encode()
        cd = r.headers["content-disposition"]
        assert cd.startswith("attachment; filename=\"file.txt\"; ")
        assert "filename*=UTF-8''%E4%BC%9A%E8%AE%AE%E7%BA%AA%E8%A6%81.txt" in cd
        assert r.headers["content-type"] == "application/octet-stream"
        r = c.get(f"/records/{office['plain']}/files/1", headers={"Range": "bytes=3-5"})
        assert r.status_code == 206 and r.content == "案".encode() and r.headers["content-range"].endswith("/37")
        for bad in ("bytes=0-1,4-5", "bytes=9999-", "items=0-1", "bytes=5-2"):
            assert c.get(f"/records/{office['plain']}/files/1", headers={"Range": bad}).status_code == 416, bad
        assert c.get(f"/records/{office['plain']}/files/9").status_code == 404
    retrievals = [e for e in audit(cli, "record.retrieve") if e["object"] == office["plain"]]
    assert [e["details"]["range"] for e in retrievals] == [None, "3-5"]          # each retrieval audited
    assert all(e["details"]["via"] == "web" and e["actor"] == "clerk" for e in retrievals)


def test_uploads_are_bounded_and_held_in_memory(cli, office, archive_root):
    before = cli("ls", "--json", user="boss").output.count("\n")
    with client(archive_root, max_upload_bytes=64 * 1024) as c:
        sign_in(c, "arch")
        r = c.post("/upload", data={"csrf": csrf_of(c, "/upload"), "title": "大文件", "category": "WS",
                                    "department": "BGS"}, files={"file": ("big.bin", b"x" * (200 * 1024))})
        assert r.status_code == 413
    assert cli("ls", "--json", user="boss").output.count("\n") == before          # nothing was filed


def test_the_multipart_spool_never_rolls_over_to_disk():
    """Starlette spools a part above 1 MiB to a temporary file; the web face's parser keeps it in memory."""
    import asyncio

    from starlette.requests import Request

    from dangan.web.http import multipart_in_memory
    body = (b"--B\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.bin\"\r\n"
            b"Content-Type: application/octet-stream\r\n\r\n" + b"s" * (3 * 1024 * 1024) + b"\r\n--B--\r\n")

    async def receive():
        return {"type": "http.request", "body": body, "more_body": False}
    req = Request({"type": "http", "method": "POST", "headers": [
        (b"content-type", b"multipart/form-data; boundary=B"), (b"content-length", str(len(body)).encode())]},
        receive)
    form = asyncio.run(multipart_in_memory(req, 8 * 1024 * 1024))
    up = form["file"]
    assert up.file._rolled is False and len(up.file.read()) == 3 * 1024 * 1024


def test_healthz_answers_when_the_archive_is_readable(office, archive_root):
    with client(archive_root) as c:
        r = c.get("/healthz")
        assert r.status_code == 200 and r.text == "ok"
