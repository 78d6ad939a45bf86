"""The Starlette application of ``dangan serve``: routes, sign-in, CSRF, and how a request reaches core.

A page or API request is handled in a worker thread (``run_in_threadpool``) with that thread's
``Archive`` acting as the signed-in user (``context.Archives``).  Pages need a session cookie
(anonymous → ``/login``); every POST carries the session's CSRF token.  The API takes
``Authorization: Bearer TOKEN`` only (no cookie, so no CSRF), each route with the scope it needs.
Domain errors become a status (``http.status_of``) and the core's message; nothing else is said.
"""
from __future__ import annotations

import secrets
from pathlib import Path
from typing import Callable

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from dangan.errors import DanganError
from dangan.web.context import Archives, Settings
from dangan.web.http import SecurityHeaders, status_of

LOGIN_COOKIE = "dangan_login"


class Web:
    """What every handler needs: the settings, the per-thread archives, the templates."""

    def __init__(self, settings: Settings) -> None:
        from dangan.web.render import Templates
        self.settings = settings
        self.archives = Archives(settings.root)
        self.templates = Templates()

    # -- sessions ---------------------------------------------------------------------------------
    def session(self, archive, request: Request):
        from dangan.core.policy.credentials import session_of
        return session_of(archive, request.cookies.get(self.settings.session_cookie))

    def cookie_args(self, request: Request) -> dict:
        secure = self.settings.secure_cookies or request.url.scheme == "https"
        return {"httponly": True, "samesite": "lax", "secure": secure, "path": "/"}

    def render(self, request: Request, name: str, status: int = 200, **ctx) -> Response:
        return self.templates.response(request, name, status, **ctx)


def page(web: Web, handler: Callable, *, multipart: bool = False) -> Callable:
    """A page: session required; a POST's form read (bounded) and its CSRF token checked; then ``handler(
    archive, request, form, session)`` in a worker thread; domain errors rendered as a page."""
    async def endpoint(request: Request) -> Response:
        form = sess = None
        if request.method == "POST":                 # who it is first: an anonymous body is never parsed
            sess = await run_in_threadpool(lookup, request)
            if sess is None:
                return web.render(request, "error.html", 403, message="请先登录 (sign in first)")
            try:
                if multipart:
                    from dangan.web.http import multipart_in_memory
                    form = await multipart_in_memory(request, web.settings.max_upload_bytes)
                else:
                    form = await request.form(max_files=0, max_fields=60, max_part_size=64 * 1024)
            except DanganError as exc:
                return web.render(request, "error.html", status_of(exc), message=exc.message)
            except Exception:                      # malformed or oversized form: starlette's own refusal
                return web.render(request, "error.html", 400, message="bad form")
        return await run_in_threadpool(run, request, form, sess)

    def lookup(request: Request):
        with web.archives.acting(None) as anon:
            return web.session(anon, request)

    def run(request: Request, form, sess) -> Response:
        if sess is None:
            sess = lookup(request)
        if sess is None:
            nxt = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            return RedirectResponse("/login?next=" + _quote(nxt), status_code=303)
        if form is not None:
            from dangan.core.policy.credentials import csrf_ok
            if not csrf_ok(sess, form.get("csrf")):
                return web.render(request, "error.html", 403, message="CSRF token missing or wrong (表单已过期，请重试)")
        request.state.session = sess
        with web.archives.acting(sess.user) as archive:
            request.state.user = _user(archive)
            try:
                return handler(archive, request, form, sess)
            except DanganError as exc:
                return web.render(request, "error.html", status_of(exc), message=exc.message)
    return endpoint


def _user(archive):
    from dangan.web.ops import me
    try:
        return me(archive)
    except DanganError:
        return None


def _quote(s: str) -> str:
    from urllib.parse import quote
    return quote(s, safe="/")


def _safe_next(nxt: str | None) -> str:
    if not nxt or not nxt.startswith("/") or nxt.startswith("//") or "\\" in nxt:
        return "/search"
    return nxt


def login_routes(web: Web) -> list[Route]:
    async def login(request: Request) -> Response:
        if request.method == "GET":
            token = secrets.token_urlsafe(24)
            resp = web.render(request, "login.html", next=_safe_next(request.query_params.get("next")),
                              login_csrf=token, error=None)
            resp.set_cookie(LOGIN_COOKIE, token, max_age=3600, **web.cookie_args(request))
            return resp
        form = await request.form(max_files=0, max_fields=10, max_part_size=4096)
        cookie = request.cookies.get(LOGIN_COOKIE) or ""
        given = str(form.get("csrf") or "")
        nxt = _safe_next(str(form.get("next") or ""))
        if not cookie or not secrets.compare_digest(cookie, given):
            return web.render(request, "error.html", 403, message="CSRF token missing or wrong (表单已过期，请重试)")
        client = request.client.host if request.client else ""

        def run():
            from dangan.core.policy.credentials import sign_in
            with web.archives.acting(None) as anon:
                return sign_in(anon, str(form.get("user") or ""), str(form.get("password") or ""), client=client)
        try:
            sess = await run_in_threadpool(run)
        except DanganError as exc:
            token = secrets.token_urlsafe(24)
            resp = web.render(request, "login.html", 401, next=nxt, login_csrf=token, error=exc.message)
            resp.set_cookie(LOGIN_COOKIE, token, max_age=3600, **web.cookie_args(request))
            return resp
        resp = RedirectResponse(nxt, status_code=303)
        resp.set_cookie(web.settings.session_cookie, sess.token, **web.cookie_args(request))
        resp.delete_cookie(LOGIN_COOKIE, path="/")
        return resp

    def logout(archive, request, form, sess):
        from dangan.core.policy.credentials import sign_out
        sign_out(archive, sess.token)
        resp = RedirectResponse("/login", status_code=303)
        resp.delete_cookie(web.settings.session_cookie, path="/")
        return resp

    async def lang(request: Request) -> Response:
        choice = request.query_params.get("lang", "zh")
        resp = RedirectResponse(_safe_next(request.query_params.get("next")), status_code=303)
        resp.set_cookie("lang", "en" if choice == "en" else "zh", max_age=365 * 86400, samesite="lax", path="/")
        return resp

    async def healthz(request: Request) -> Response:
        def run():
            with web.archives.acting(None) as anon:
                anon.conn.execute("SELECT 1 FROM records LIMIT 1").fetchall()
                return anon.store.is_storage_root()       # a folder, or a bucket's storage root (S3)
        try:
            ok = await run_in_threadpool(run)
        except Exception:
            ok = False
        return PlainTextResponse("ok" if ok else "archive not readable", status_code=200 if ok else 503)

    return [Route("/login", login, methods=["GET", "POST"]),
            Route("/logout", page(web, logout), methods=["POST"]),
            Route("/lang", lang), Route("/healthz", healthz)]


def create_app(root: Path, *, settings: Settings | None = None) -> Starlette:
    from dangan.web import api, forms, pages
    settings = settings or settings_from_config(root)
    web = Web(settings)
    from dangan.web import ops
    ops.serve_here(settings.workers)

    async def home(request: Request) -> Response:
        return RedirectResponse("/search", status_code=303)

    async def not_found(request: Request, exc) -> Response:
        if request.url.path.startswith("/api/"):
            return JSONResponse({"error": "not found"}, status_code=getattr(exc, "status_code", 404))
        return web.render(request, "error.html", getattr(exc, "status_code", 404), message="not found (未找到)")

    static = StaticFiles(directory=str(Path(__file__).parent / "static"))
    routes = [Route("/", home), *login_routes(web), *forms.routes(web), *pages.routes(web), Mount("/api/v1", routes=api.routes(web)),
              Mount("/static", static, name="static")]
    from contextlib import asynccontextmanager

    @asynccontextmanager
    async def lifespan(app):
        follower = ops.follow_changes(settings.root, settings.follow_seconds) if settings.follow_seconds > 0 else None
        yield
        if follower is not None:
            follower.stop()
        ops.forget_server_keys()
        web.archives.close()

    app = Starlette(routes=routes, exception_handlers={404: not_found, 405: not_found}, lifespan=lifespan)
    app.state.web = web
    return SecurityHeaders(app)


def settings_from_config(root: Path) -> Settings:
    from dangan.core.kernel.config import Config
    raw = Config.load(Path(root)).raw.get("serve", {})
    mib = raw.get("max_upload_mb", 100)
    import os
    workers = os.environ.get("DANGAN_SERVE_WORKERS", "1")
    return Settings(root=Path(root), max_upload_bytes=int(mib) * 1024 * 1024,
                    secure_cookies=bool(raw.get("secure_cookies", False)),
                    follow_seconds=float(raw.get("follow_changes_seconds", 1.0)),
                    workers=int(workers) if workers.isdigit() else 1)
