"""The HTML pages: search, a record with preview and download, lending, upload, holds, dashboard, audit.

Each handler runs in a worker thread with the request's archive (``app.page``) and calls ``web.ops`` only.
"""
from __future__ import annotations

from starlette.responses import RedirectResponse, Response, StreamingResponse
from starlette.routing import Route

from dangan.errors import AccessDenied, DanganError, NotFound, UsageError, ValidationFailed
from dangan.web import ops
from dangan.web.http import FILE_CSP, content_disposition, inline_type, status_of


def _int(v, default: int, lo: int = 1, hi: int = 10_000) -> int:
    try:
        return max(lo, min(hi, int(v)))
    except (TypeError, ValueError):
        return default


def routes(web) -> list[Route]:
    from dangan.web.app import page

    def search(archive, request, form, sess):
        q = request.query_params.get("q", "").strip()
        sort = request.query_params.get("sort", "relevance")
        sort = sort if sort in ("relevance", "date", "code") else "relevance"
        results, error, facets = None, None, {}
        if q:
            try:
                results = ops.search(archive, q, sort=sort, limit=20, page=_int(request.query_params.get("page"), 1))
                facets = ops.facets(archive, q)
            except UsageError as exc:
                error = exc.message
        return web.render(request, "search.html", q=q, sort=sort, results=results, facets=facets, error=error,
                          thumb=ops.has_thumbnail_kind)

    def record(archive, request, form, sess):
        rid = request.path_params["rid"]
        shown = ops.record(archive, rid)
        files, preview = [], None
        if shown.record is not None and not shown.locked:
            files = [f for f in shown.record.files if f.role != "derivative"]
            files.sort(key=lambda f: f.role != "main")
            if files:
                mime = files[0].mime
                kind = ("image" if mime.startswith("image/") else "audio" if mime.startswith("audio/")
                        else "video" if mime.startswith("video/") else "frame" if inline_type(mime) else None)
                if kind:
                    preview = {"kind": kind, "url": f"/records/{shown.id}/files/1"}
        status = 403 if shown.denied else 200
        thumb = bool(files) and ops.has_thumbnail_kind(files[0].mime) and f"/records/{shown.id}/thumbnail"
        return web.render(request, "record.html", status, shown=shown, files=files, preview=preview, thumb=thumb)

    def thumbnail(archive, request, form, sess):
        return thumbnail_response(archive, request.path_params["rid"])

    def file(archive, request, form, sess):
        return file_response(archive, request, request.path_params["rid"], _int(request.path_params["n"], 1),
                             download=bool(request.query_params.get("download")), via="web")

    # -- lending ----------------------------------------------------------------------------------
    def loans(archive, request, form, sess, message: str | None = None, status: int = 200):
        me = ops.me(archive)
        everything = ops.loans(archive)
        for loan in everything:
            if loan["due"] and loan["status"] == "issued" and loan["due"] < ops.today():
                loan["days_overdue"] = loan.get("days_overdue") or 1
        mine = [x for x in everything if me.name in (x["borrower"], x["requested_by"])]
        queue = desk = overdue = None
        if me.has_any(("department-head", "manager")):
            queue = [x for x in everything if x["status"] == "requested" and me.name not in (x["borrower"],
                                                                                                x["requested_by"])]
        if me.has_any(("archivist", "admin")):
            desk = [x for x in everything if x["status"] in ("approved", "issued")]
            overdue = ops.loans(archive, overdue=True)
        return web.render(request, "loans.html", status, mine=mine, queue=queue, desk=desk, overdue=overdue,
                          message=message)

    def loan_request(archive, request, form, sess):
        refs = [r for r in str(form.get("records") or "").split() if r]
        days = _int(form.get("days"), 0, 0, 366) or None
        try:
            loan = ops.lend_request(archive, refs, str(form.get("purpose") or ""), days)
        except (UsageError, AccessDenied) as exc:
            return loans(archive, request, form, sess, message=exc.message, status=status_of(exc))
        return RedirectResponse(f"/loans?done={loan['id']}", status_code=303)

    def loan_action(action):
        def handler(archive, request, form, sess):
            lid = request.path_params["lid"]
            ref = [str(form.get("record"))] if form.get("record") else []
            try:
                if action == "approve":
                    ops.lend_approve(archive, lid, str(form.get("note") or ""))
                elif action == "refuse":
                    ops.lend_refuse(archive, lid, str(form.get("reason") or ""))
                elif action == "issue":
                    ops.lend_issue(archive, lid, ref)
                else:
                    ops.lend_return(archive, lid, ref, str(form.get("condition") or "intact"))
            except DanganError as exc:
                return loans(archive, request, form, sess, message=exc.message, status=status_of(exc))
            return RedirectResponse("/loans", status_code=303)
        return handler

    # -- upload -----------------------------------------------------------------------------------
    def upload(archive, request, form, sess):
        code = (form.get("category") if form is not None else None) or request.query_params.get("category") or ""
        try:
            cat = ops.category(archive, str(code))
        except DanganError:
            cat = None
        ctx = {"categories": ops.categories(archive), "category": cat, "values": {}, "field_errors": {},
               "error": None, "archived": None}
        if form is None:
            return web.render(request, "upload.html", **ctx)
        ctx["values"] = {k: str(v) for k, v in form.items() if k not in ("file", "csrf")}
        try:
            rec = ingest_form(archive, form, web.settings)
        except DanganError as exc:
            ctx["error"] = exc.message
            ctx["field_errors"] = field_errors(exc.message, cat, ctx["values"])
            return web.render(request, "upload.html", 422 if isinstance(exc, ValidationFailed) else status_of(exc), **ctx)
        ctx["archived"], ctx["values"] = rec, {}
        ctx["extraction_queued"] = ops.extraction_queued(archive, rec.id)
        return web.render(request, "upload.html", 201, **ctx)

    # -- registers --------------------------------------------------------------------------------
    def holds(archive, request, form, sess, message=None, status=200, values=None):
        return web.render(request, "holds.html", status, holds=ops.holds(archive, include_released=True),
                          can_hold=ops.me(archive).has_any(ops.HOLD_ROLES), message=message, values=values or {})

    def hold_place(archive, request, form, sess):
        values = {k: str(form.get(k) or "").strip() for k in ("records", "volume", "query", "reason", "authority")}
        try:
            h = ops.hold_place(archive, values["records"].split(), volume=values["volume"] or None,
                               query=values["query"] or None, reason=values["reason"], authority=values["authority"])
        except DanganError as exc:
            return holds(archive, request, form, sess, message=exc.message, status=status_of(exc), values=values)
        return holds(archive, request, form, sess, message=f"{h['id']}: 已保全 {len(h['records'])} 件 (hold placed)",
                     status=201)

    def hold_release(archive, request, form, sess):
        try:
            ops.hold_release(archive, request.path_params["hid"], str(form.get("reason") or ""))
        except DanganError as exc:
            return holds(archive, request, form, sess, message=exc.message, status=status_of(exc))
        return RedirectResponse("/holds", status_code=303)

    def dashboard(archive, request, form, sess):
        out = ops.stats(archive, "department,year")
        columns = [c for c in out.get("by", ["department", "year"])]
        rows = out["rows"]
        top = max([r.get("count", 0) for r in rows] or [1])
        overdue = len(ops.loans(archive, overdue=True))
        return web.render(request, "dashboard.html", columns=columns, rows=rows, top=top, overdue=overdue,
                          backup=ops.backup_status(archive))

    def audit(archive, request, form, sess):
        p = request.query_params
        f = {k: p.get(k, "").strip() for k in ("actor", "action", "record", "since", "until")}
        events = ops.audit_events(archive, **f)
        return web.render(request, "audit.html", events=events, f=f)

    # -- disposition --------------------------------------------------------------------------------
    def disposition(archive, request, form, sess, message=None, status=200):
        return web.render(request, "disposition.html", status, due=ops.disposition_due(archive),
                          lists=ops.destruction_lists(archive), message=message)

    def disposition_propose(archive, request, form, sess):
        refs = [r for r in str(form.get("records") or "").split() if r]
        try:
            lst = ops.destruction_propose(archive, refs, str(form.get("reason") or ""))
        except DanganError as exc:
            return disposition(archive, request, form, sess, message=exc.message, status=status_of(exc))
        return RedirectResponse(f"/disposition/{lst['list']}", status_code=303)

    def destruction_list(archive, request, form, sess, message=None, status=200):
        lid = request.path_params["lid"]
        lst = ops.destruction_list(archive, lid)
        plan = None
        if lst["status"] in ("approved", "executing") and request.query_params.get("confirm"):
            plan = ops.destruction_plan(archive, lid)          # what will be destroyed, listed before it is
        return web.render(request, "destruction_list.html", status, lst=lst, plan=plan, message=message)

    def destruction_action(action):
        def handler(archive, request, form, sess):
            lid = request.path_params["lid"]
            try:
                if action in ("approve", "reject"):
                    ops.destruction_decide(archive, lid, action, str(form.get("note") or ""))
                elif str(form.get("confirmed") or "") == lid:  # the confirmation names the list
                    ops.destruction_execute(archive, lid)
                else:
                    raise UsageError("confirm the destruction: the list above shows what will be destroyed")
            except DanganError as exc:
                return destruction_list(archive, request, form, sess, message=exc.message, status=status_of(exc))
            return RedirectResponse(f"/disposition/{lid}", status_code=303)
        return handler

    # -- alerts -------------------------------------------------------------------------------------
    def alerts(archive, request, form, sess):
        return web.render(request, "alerts.html", alerts=ops.alerts(archive))

    def alert_ack(archive, request, form, sess):
        ops.acknowledge_alert(archive, request.path_params["aid"])
        return RedirectResponse("/alerts", status_code=303)

    # -- volumes, users -----------------------------------------------------------------------------
    def volumes(archive, request, form, sess):
        return web.render(request, "volumes.html", volumes=ops.volumes(archive))

    def volume(archive, request, form, sess):
        name = request.path_params["name"]
        if name not in {v["name"] for v in ops.volumes(archive)}:
            raise NotFound(f"no volume {name!r} (or not within your clearance)")
        vol = next(v for v in ops.volumes(archive) if v["name"] == name)
        return web.render(request, "volume.html", volume_name=name, vol=vol,
                          records=ops.volume_contents(archive, name),
                          contents=ops.volume_report(archive, "contents_list", name),
                          sheet=ops.volume_report(archive, "reference_sheet", name))

    def volume_key(action):
        def handler(archive, request, form, sess):
            name = request.path_params["name"]
            minutes = _int(form.get("minutes"), 0, 0, 24 * 60) or None
            if action == "unlock":
                ops.unlock_volume(archive, name, str(form.get("passphrase") or ""), minutes)
            elif action == "server-unlock":
                ops.unlock_for_server(archive, name, str(form.get("passphrase") or ""), minutes)
            elif action == "server-lock":
                ops.lock_for_server(archive, name)
            else:
                ops.lock_volume(archive, name)
            return RedirectResponse(f"/volumes/{name}", status_code=303)
        return handler

    def users(archive, request, form, sess, message=None, status=200):
        return web.render(request, "users.html", status, users=ops.users(archive), message=message)

    def user_password(archive, request, form, sess):
        name = request.path_params["name"]
        try:
            ops.set_password(archive, name, str(form.get("password") or ""))
        except DanganError as exc:
            return users(archive, request, form, sess, message=exc.message, status=status_of(exc))
        return users(archive, request, form, sess, message=f"{name}: 密码已设置 (password set)")

    return [
        Route("/volumes", page(web, volumes)),
        Route("/volumes/{name}", page(web, volume)),
        Route("/volumes/{name}/unlock", page(web, volume_key("unlock")), methods=["POST"]),
        Route("/volumes/{name}/lock", page(web, volume_key("lock")), methods=["POST"]),
        Route("/volumes/{name}/server-unlock", page(web, volume_key("server-unlock")), methods=["POST"]),
        Route("/volumes/{name}/server-lock", page(web, volume_key("server-lock")), methods=["POST"]),
        Route("/users", page(web, users), methods=["GET"]),
        Route("/users/{name}/password", page(web, user_password), methods=["POST"]),
        Route("/disposition", page(web, disposition), methods=["GET"]),
        Route("/disposition", page(web, disposition_propose), methods=["POST"]),
        Route("/disposition/{lid}", page(web, destruction_list), methods=["GET"]),
        *[Route(f"/disposition/{{lid}}/{a}", page(web, destruction_action(a)), methods=["POST"])
          for a in ("approve", "reject", "execute")],
        Route("/alerts", page(web, alerts)),
        Route("/alerts/{aid}/ack", page(web, alert_ack), methods=["POST"]),
        Route("/search", page(web, search)),
        Route("/records/{rid}", page(web, record)),
        Route("/records/{rid}/files/{n:int}", page(web, file)),
        Route("/records/{rid}/thumbnail", page(web, thumbnail)),
        Route("/loans", page(web, loans), methods=["GET"]),
        Route("/loans", page(web, loan_request), methods=["POST"]),
        *[Route(f"/loans/{{lid}}/{a}", page(web, loan_action(a)), methods=["POST"])
          for a in ("approve", "refuse", "issue", "return")],
        Route("/upload", page(web, upload, multipart=True), methods=["GET", "POST"]),
        Route("/holds", page(web, holds), methods=["GET"]),
        Route("/holds", page(web, hold_place), methods=["POST"]),
        Route("/holds/{hid}/release", page(web, hold_release), methods=["POST"]),
        Route("/dashboard", page(web, dashboard)),
        Route("/audit", page(web, audit)),
    ]


def thumbnail_response(archive, rid: str) -> Response:
    """A record's thumbnail (PNG), policy-checked in core as a view; 404 when it has none."""
    png = ops.thumbnail(archive, rid)
    if not png:
        raise NotFound(f"record {rid} has no thumbnail")
    return Response(png, media_type="image/png", headers={"Cache-Control": "private, no-store",
                                                          "Content-Security-Policy": FILE_CSP,
                                                          "X-Frame-Options": "SAMEORIGIN"})


def file_response(archive, request, rid: str, n: int, *, download: bool, via: str) -> Response:
    """One file of a record, streamed (with HTTP Range); ``via`` names the face in the audit event."""
    from dangan.core.store.retrieval_stream import parse_range
    rng_header = request.headers.get("range")
    try:
        fs = ops.open_file(archive, rid, n, byte_range=rng_header, via=via)
    except UsageError as exc:
        if "range" in exc.message:
            return Response(exc.message, status_code=416)
        raise
    inline = not download and inline_type(fs.mime)
    mime = fs.mime if inline else "application/octet-stream"
    if mime == "text/plain":
        mime = "text/plain; charset=utf-8"
    headers = {"Content-Disposition": content_disposition(fs.name, inline), "Accept-Ranges": "bytes",
               "Content-Security-Policy": FILE_CSP, "X-Frame-Options": "SAMEORIGIN", "Cache-Control": "private, no-store"}
    rng = parse_range(rng_header, fs.size)
    if rng:
        a, b = rng
        headers["Content-Range"] = f"bytes {a}-{b}/{fs.size}"
        headers["Content-Length"] = str(b - a + 1)
        return StreamingResponse(fs.chunks(a, b), status_code=206, media_type=mime, headers=headers)
    headers["Content-Length"] = str(fs.size)
    return StreamingResponse(fs.chunks(), media_type=mime, headers=headers)


FIELDS = ("title", "department", "category", "date", "secrecy", "retention", "volume")


def ingest_form(archive, form, settings):
    """File the uploaded ``file`` with the form's fields (as ``dangan ingest FILE --title …  --meta K=V``)."""
    from pathlib import Path
    upload = form.get("file")
    if upload is None or isinstance(upload, str) or not getattr(upload, "filename", None):
        raise UsageError("file: choose a file to upload (请选择文件)")
    fields = {k: str(form.get(k)).strip() for k in FIELDS if str(form.get(k) or "").strip()}
    if "year" in form and str(form.get("year") or "").strip():
        try:
            fields["year"] = int(str(form.get("year")))
        except ValueError:
            raise UsageError("year: a year such as 2024") from None
    meta = {}
    for k, v in form.items():
        if k.startswith("meta:") and str(v).strip():
            meta[k[5:]] = str(v).strip()
        elif k == "meta" and "=" in str(v):
            a, _, b = str(v).partition("=")
            meta[a.strip()] = b.strip()
    if meta:
        fields["metadata"] = meta
    from dangan.repository.paths import safe_name
    name = safe_name(Path(str(upload.filename)).name) or "upload"
    data = upload.file
    data.seek(0)
    spool = memory_folder()
    from dangan.core.kernel import memory_tmp
    with memory_tmp.folder("upload", spool) as tmp:
        path = Path(tmp) / name
        with open(path, "wb") as out:
            while chunk := data.read(1024 * 1024):
                out.write(chunk)
        return ops.ingest(archive, path, fields)


def memory_folder() -> str:
    """Where an upload is handed to ingest: a memory filesystem (``/dev/shm``), never a disk; refused without
    one (a confidential upload's plaintext must not touch a disk)."""
    import os
    for d in ("/dev/shm", "/run/shm"):
        if os.path.isdir(d) and os.access(d, os.W_OK):
            return d
    raise UsageError("no memory filesystem (/dev/shm) to hold an upload: uploads are refused on this machine")


def field_errors(message: str, cat, values: dict) -> dict[str, str]:
    """Put a refusal's message at the field it names (the plugin's message, unchanged)."""
    out: dict[str, str] = {}
    names = list(FIELDS) + [f"meta:{f}" for f in (cat.required_fields if cat else ())] + \
        [f"meta:{f}" for f, _ in (cat.conditional_fields if cat else ())]
    for n in names:
        key = n[5:] if n.startswith("meta:") else n
        if key in message:
            out[n] = message
    if not out:
        out["file"] = message
    return out


__all__ = ["routes", "file_response", "ingest_form", "NotFound"]
