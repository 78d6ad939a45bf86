"""The REST API, ``/api/v1``: JSON over the same core calls as the pages and the CLI.

``Authorization: Bearer TOKEN`` (``dangan token create USER --scope read,ingest``) on every route but the
OpenAPI document; GET routes need the ``read`` scope, ``POST /records`` needs ``ingest``, the writes on
loans ``lend`` and on holds ``hold`` (``web.api_writes``).  Refusals: 401
without a live token, 403 for a missing scope or a policy refusal (the core's message: a secret record's
id and marking, never its title, names or text), 404 for what does not exist, 422 for a validation
refusal with the plugin's message.  ``POST /records`` takes an ``Idempotency-Key``: a retry with the
same key and body answers the record filed the first time (200, ``Idempotent-Replay: true``).
"""
from __future__ import annotations

import hashlib

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from dangan.errors import AccessDenied, DanganError
from dangan.web import ops
from dangan.web.http import status_of


def _err(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def endpoint(web, handler, scope: str, *, multipart: bool = False, body: bool = False, refusals: bool = False):
    """A route: the bearer token first (401), its scope (403), then the body (bounded), then ``handler`` in a
    worker thread.  ``refusals``: a write whose body the rules refuse (core's ``UsageError``) answers 422."""
    async def run_endpoint(request: Request) -> Response:
        auth = request.headers.get("authorization", "")
        bearer = auth[7:].strip() if auth[:7].lower() == "bearer " else None
        token = await run_in_threadpool(lookup, bearer)      # who it is first: an anonymous body is never parsed
        if token is None:
            return JSONResponse({"error": "a valid API token is needed (Authorization: Bearer TOKEN)"},
                                status_code=401, headers={"WWW-Authenticate": "Bearer"})
        if scope not in token.scopes:
            return _err(403, f"this token lacks the scope {scope!r}")
        form = None
        if body:
            form = b""
            async for chunk in request.stream():
                form += chunk
                if len(form) > 64 * 1024:
                    return _err(413, "a JSON body of at most 64 KiB")
        if multipart:
            from dangan.web.http import multipart_in_memory
            try:
                form = await multipart_in_memory(request, web.settings.max_upload_bytes)
            except DanganError as exc:
                return _err(status_of(exc), exc.message)
            except Exception:
                return _err(400, "bad multipart body")
        return await run_in_threadpool(run, request, form, token)

    def lookup(bearer):
        from dangan.core.policy.credentials import token_of
        with web.archives.acting(None) as anon:
            return token_of(anon, bearer)

    def run(request, form, token) -> Response:
        with web.archives.acting(token.user) as archive:
            try:
                return handler(archive, request, form, token)
            except DanganError as exc:
                return _err(refusal_status(exc) if refusals else status_of(exc), exc.message)
    return run_endpoint


def refusal_status(exc: DanganError) -> int:
    """A write's status: a rule refusing the request's content (``UsageError``) is 422, not 400; a body that is
    no JSON object (``api_writes.BadBody``) stays 400."""
    from dangan.web.api_writes import BadBody
    code = status_of(exc)
    return 422 if code == 400 and not isinstance(exc, BadBody) else code


def _hit(h) -> dict:
    d = h.to_dict()
    d["id"] = d.pop("record_id")
    d.pop("snippet_spans", None)
    d.pop("snippet_text", None)
    return d


def _record(shown) -> dict:
    if shown.denied:
        raise AccessDenied(shown.denied)
    d = shown.record.to_dict()
    d["locked"] = shown.locked
    if shown.locked:
        d["files"] = []
    d["versions"] = shown.versions
    return d


def _filed(shown) -> dict:
    """What the filer of a record learns of it: all of it, or — filed above their own clearance — its id and
    marking only."""
    return {"id": shown.id, "secrecy": shown.secrecy, "visible": False} if shown.denied else _record(shown)


def _filed_now(archive, rid: str) -> dict:
    """:func:`_filed`, and whether its text is still a worker's job (``[ingest] extraction = "workers"``)."""
    d = _filed(ops.record(archive, rid))
    if d.get("visible", True) and ops.extraction_queued(archive, rid):
        d["extraction_queued"] = True
    return d


def routes(web) -> list[Route]:
    from dangan.web import api_writes
    def search(archive, request, form, token):
        p = request.query_params
        q = p.get("q", "").strip()
        if not q:
            return _err(400, "q is required")
        try:
            limit, page = int(p.get("limit", 20)), int(p.get("page", 1))
        except ValueError:
            return _err(400, "limit and page are numbers")
        sort = p.get("sort", "relevance")
        res = ops.search(archive, q, sort=sort if sort in ("relevance", "date", "code") else "relevance",
                         limit=limit, page=page)
        out = {"total": res.total, "page": res.page, "limit": res.limit, "hits": [_hit(h) for h in res.hits]}
        if p.get("facets") in ("1", "true"):             # counts over all hits, every page
            out["facets"] = ops.facets(archive, q)
        return JSONResponse(out)

    def record(archive, request, form, token):
        return JSONResponse(_record(ops.record(archive, request.path_params["rid"])))

    def versions(archive, request, form, token):
        return JSONResponse(_record(ops.record(archive, request.path_params["rid"]))["versions"])

    def files(archive, request, form, token):
        d = _record(ops.record(archive, request.path_params["rid"]))
        listed = [f for f in d["files"] if f["role"] != "derivative"]
        listed.sort(key=lambda f: f["role"] != "main")
        return JSONResponse([{"n": i, **f, "url": f"/api/v1/records/{d['id']}/files/{i}"}
                             for i, f in enumerate(listed, 1)])

    def file(archive, request, form, token):
        from dangan.web.pages import file_response
        return file_response(archive, request, request.path_params["rid"], request.path_params["n"],
                             download=True, via="api")

    def thumbnail(archive, request, form, token):
        from dangan.web.pages import thumbnail_response
        return thumbnail_response(archive, request.path_params["rid"])

    def ingest(archive, request, form, token):
        from dangan.core.policy.credentials import settle_idempotency
        from dangan.core.service.idempotency import claim
        from dangan.errors import DuplicateRecord
        from dangan.web.pages import ingest_form
        key = request.headers.get("idempotency-key")
        digest = None
        if key:
            h = hashlib.sha256()
            for k, v in sorted((k, v) for k, v in form.multi_items() if isinstance(v, str)):
                h.update(f"{k}={v}\n".encode())
            up = form.get("file")
            if up is not None and not isinstance(up, str):
                up.file.seek(0)
                h.update(hashlib.sha256(up.file.read()).digest())
                up.file.seek(0)
            digest = h.hexdigest()
            earlier, taken_over = claim(archive, token.user, key, digest)
            if earlier:
                d = _filed_now(archive, earlier)
                return JSONResponse(d, status_code=200, headers={"Idempotent-Replay": "true"})
        else:
            taken_over = False
        rid = None
        try:
            try:
                rec = ingest_form(archive, form, web.settings)
            except DuplicateRecord as exc:
                if not (taken_over and exc.existing_id):
                    raise
                rid = exc.existing_id           # a server killed mid-request had filed it: this is its answer
                d = _filed_now(archive, rid)
                return JSONResponse(d, status_code=200, headers={"Idempotent-Replay": "true"})
            rid = rec.id
        finally:
            if key:
                settle_idempotency(archive, token.user, key, rid)
        return JSONResponse(_filed_now(archive, rec.id), status_code=201, headers={"Location": f"/api/v1/records/{rec.id}"})

    def loans(archive, request, form, token):
        p = request.query_params
        return JSONResponse(ops.loans(archive, overdue=p.get("overdue") == "1", status=p.get("status") or None))

    def dispositions(archive, request, form, token):
        return JSONResponse({"due": ops.disposition_due(archive), "lists": ops.destruction_lists(archive)})

    def disposition_list(archive, request, form, token):
        return JSONResponse(ops.destruction_list(archive, request.path_params["lid"]))

    def holds(archive, request, form, token):
        return JSONResponse(ops.holds(archive, include_released=request.query_params.get("all") == "1"))

    def stats(archive, request, form, token):
        return JSONResponse(ops.stats(archive, request.query_params.get("by", "department,year")))

    def audit(archive, request, form, token):
        p = request.query_params
        evs = ops.audit_events(archive, actor=p.get("actor", ""), action=p.get("action", ""),
                               record=p.get("record", ""), since=p.get("since", ""), until=p.get("until", ""),
                               limit=int(p.get("limit", 200)) if p.get("limit", "200").isdigit() else 200)
        return JSONResponse([e.to_dict() for e in evs])

    async def openapi(request: Request) -> Response:
        from dangan.web.openapi import document
        return JSONResponse(document())

    return [
        Route("/openapi.json", openapi),
        Route("/search", endpoint(web, search, "read")),
        Route("/records", endpoint(web, ingest, "ingest", multipart=True), methods=["POST"]),
        Route("/records/{rid}", endpoint(web, record, "read")),
        Route("/records/{rid}/versions", endpoint(web, versions, "read")),
        Route("/records/{rid}/files", endpoint(web, files, "read")),
        Route("/records/{rid}/files/{n:int}", endpoint(web, file, "read")),
        Route("/records/{rid}/thumbnail", endpoint(web, thumbnail, "read")),
        Route("/loans", endpoint(web, loans, "read"), methods=["GET"]),
        *api_writes.routes(web),
        Route("/dispositions", endpoint(web, dispositions, "read")),
        Route("/dispositions/{lid}", endpoint(web, disposition_list, "read")),
        Route("/holds", endpoint(web, holds, "read")),
        Route("/stats", endpoint(web, stats, "read")),
        Route("/audit", endpoint(web, audit, "read")),
    ]
