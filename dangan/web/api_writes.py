"""The API's writes on loans and holds: ``/api/v1/loans`` and ``/api/v1/holds``.

Each route reads a bounded JSON body and calls ``web.ops`` (``core.service.lending`` / ``.holds``), the same
calls as ``dangan lend …`` and ``dangan hold …``, with the token's user as the actor: the same policy point,
the same roles (the head approves, the archivist issues and takes back item by item, legal places holds), the
same audit events.  Scopes: ``lend`` for loans, ``hold`` for holds.  A body that is no JSON object is 400; a
body the rules refuse (no purpose, too many days, an item not on the loan, a hold already released) is 422
with core's message; a refusal by role or clearance is 403 (a secret record's title never in it); an unknown
loan, hold or record is 404; a loan in the wrong state (approving an issued loan) is 409.
"""
from __future__ import annotations

import json
from typing import Any

from starlette.responses import JSONResponse
from starlette.routing import Route

from dangan.errors import UsageError
from dangan.web import ops

LOAN_STATUSES = ("requested", "approved", "issued", "returned", "refused")


class BadBody(UsageError):
    """The body is not the JSON object the route reads (400, not 422: nothing was asked of the rules)."""


def _body(form: bytes | None) -> dict[str, Any]:
    try:
        body = json.loads(form or b"{}")
    except ValueError:
        raise BadBody("a JSON object is expected as the body") from None
    if not isinstance(body, dict):
        raise BadBody("a JSON object is expected as the body")
    return body


def _text(body: dict, key: str) -> str:
    v = body.get(key, "")
    if not isinstance(v, str):
        raise BadBody(f"{key}: a string")
    return v


def _refs(body: dict, key: str = "records") -> list[str]:
    v = body.get(key, [])
    if not isinstance(v, list) or not all(isinstance(r, str) for r in v):
        raise BadBody(f"{key}: a list of record ids or archival codes")
    return v


def _days(body: dict) -> int | None:
    days = body.get("days")
    if days is None:
        return None
    if isinstance(days, bool) or not isinstance(days, int):
        raise BadBody("days: a whole number of days")
    return days


def routes(web) -> list[Route]:
    from dangan.web.api import endpoint

    def loan_request(archive, request, form, token):
        body = _body(form)
        loan = ops.lend_request(archive, _refs(body), _text(body, "purpose"), _days(body))
        return JSONResponse(loan, status_code=201, headers={"Location": f"/api/v1/loans/{loan['id']}"})

    def loan(archive, request, form, token):
        return JSONResponse(ops.loan(archive, request.path_params["lid"]))

    def loan_action(action: str):
        def handler(archive, request, form, token):
            lid, body = request.path_params["lid"], _body(form)
            if action == "approve":
                out = ops.lend_approve(archive, lid, _text(body, "note"))
            elif action == "refuse":
                out = ops.lend_refuse(archive, lid, _text(body, "reason"))
            elif action == "issue":
                out = ops.lend_issue(archive, lid, _refs(body))
            else:
                everything = body.get("all") is True
                out = ops.lend_return(archive, lid, _refs(body), _text(body, "condition") or "intact",
                                      everything=everything)
            return JSONResponse(out)
        return handler

    def hold_place(archive, request, form, token):
        body = _body(form)
        h = ops.hold_place(archive, _refs(body), volume=_text(body, "volume") or None,
                           query=_text(body, "query") or None, reason=_text(body, "reason"),
                           authority=_text(body, "authority"))
        return JSONResponse(h, status_code=201, headers={"Location": f"/api/v1/holds/{h['id']}"})

    def hold_release(archive, request, form, token):
        return JSONResponse(ops.hold_release(archive, request.path_params["hid"], _text(_body(form), "reason")))

    return [
        Route("/loans", endpoint(web, loan_request, "lend", body=True, refusals=True), methods=["POST"]),
        Route("/loans/{lid}", endpoint(web, loan, "read"), methods=["GET"]),
        *[Route(f"/loans/{{lid}}/{a}", endpoint(web, loan_action(a), "lend", body=True, refusals=True),
                methods=["POST"]) for a in ("approve", "refuse", "issue", "return")],
        Route("/holds", endpoint(web, hold_place, "hold", body=True, refusals=True), methods=["POST"]),
        Route("/holds/{hid}/release", endpoint(web, hold_release, "hold", body=True, refusals=True),
              methods=["POST"]),
    ]


__all__ = ["routes", "BadBody"]
