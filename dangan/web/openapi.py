"""The OpenAPI 3.1 document of ``/api/v1`` (served at ``/api/v1/openapi.json``)."""
from __future__ import annotations

from typing import Any


def _ok(desc: str, schema: dict | None = None) -> dict:
    body = {"application/json": {"schema": schema or {"type": "object"}}}
    return {"description": desc, "content": body}


ERRORS = {"401": {"description": "no valid API token"},
          "403": {"description": "a scope is missing, or the policy point refused (the core's message)"},
          "404": {"description": "no such record or file"}}


def _get(summary: str, params: list[dict] | None = None, schema: dict | None = None) -> dict:
    return {"get": {"summary": summary, "parameters": params or [], "responses": {"200": _ok(summary, schema),
                                                                                   **ERRORS}}}


RID = {"name": "rid", "in": "path", "required": True, "schema": {"type": "string"},
       "description": "record id, unique id prefix or archival code"}
HIT = {"type": "object", "properties": {k: {"type": "string"} for k in
                                        ("id", "archival_code", "title", "department", "category", "secrecy",
                                         "snippet")}}


WRITE_ERRORS = {**ERRORS, "400": {"description": "the body is not the JSON object described"},
                "403": {"description": "the token lacks the scope, or the policy point or a role rule refused"
                                       " (the core's message; never a secret record's title)"},
                "404": {"description": "no such loan, hold or record"},
                "409": {"description": "the loan is not in the state this step needs"},
                "422": {"description": "refused by a rule on the request's content (the core's message)"}}


def _json_body(required: list[str], props: dict[str, Any]) -> dict:
    return {"required": True, "content": {"application/json": {"schema": {
        "type": "object", "required": required, "properties": props}}}}


def _post(summary: str, scope: str, required: list[str], props: dict[str, Any], ok: str = "200",
          params: list[dict] | None = None) -> dict:
    return {"post": {"summary": f"{summary} (scope {scope})", "parameters": params or [],
                     "requestBody": _json_body(required, props),
                     "responses": {ok: _ok(summary), **WRITE_ERRORS}}}


REFS = {"type": "array", "items": {"type": "string"}, "description": "record ids, unique id prefixes or archival codes"}
STR = {"type": "string"}
LID = {"name": "lid", "in": "path", "required": True, "schema": STR, "description": "loan id (B…)"}
HID = {"name": "hid", "in": "path", "required": True, "schema": STR, "description": "hold id (h…)"}
LENDING_PATHS: dict[str, Any] = {
    "/api/v1/loans": {**_get("The lending register", [
        {"name": "overdue", "in": "query", "schema": {"enum": ["1"]}},
        {"name": "status", "in": "query", "schema": {"enum": ["requested", "approved", "issued", "returned", "refused"]}}]),
        **_post("Request a loan for the token's user, as `dangan lend request`", "lend", ["records", "purpose"],
                {"records": REFS, "purpose": STR, "days": {"type": "integer", "minimum": 1}}, ok="201")},
    "/api/v1/loans/{lid}": _get("One loan with its items", [LID]),
    "/api/v1/loans/{lid}/approve": _post("Approve a loan (the borrower's head; a manager for secret files)", "lend",
                                         [], {"note": STR}, params=[LID]),
    "/api/v1/loans/{lid}/refuse": _post("Refuse a loan request", "lend", ["reason"], {"reason": STR}, params=[LID]),
    "/api/v1/loans/{lid}/issue": _post("Issue an approved loan's items in place (archivist): the records named, or"
                                       " every item not yet issued", "lend", [], {"records": REFS}, params=[LID]),
    "/api/v1/loans/{lid}/return": _post("Take back items, checked one by one (archivist)", "lend", [],
                                        {"records": REFS, "all": {"type": "boolean"}, "condition": STR},
                                        params=[LID]),
    "/api/v1/holds": {**_get("Legal holds in force (`all=1`: released ones too)",
                             [{"name": "all", "in": "query", "schema": {"enum": ["1"]}}]),
                      **_post("Place a legal hold on records, a volume or a query's records, as `dangan hold add`",
                              "hold", ["reason", "authority"],
                              {"records": REFS, "volume": STR, "query": STR, "reason": STR, "authority": STR},
                              ok="201")},
    "/api/v1/holds/{hid}/release": _post("Release a hold (other holds on the same records stay)", "hold",
                                         ["reason"], {"reason": STR}, params=[HID]),
}


def document() -> dict[str, Any]:
    q = [{"name": "q", "in": "query", "required": True, "schema": {"type": "string"},
          "description": "the query language of `dangan search`"},
         {"name": "limit", "in": "query", "schema": {"type": "integer", "default": 20, "maximum": 100}},
         {"name": "page", "in": "query", "schema": {"type": "integer", "default": 1}},
         {"name": "sort", "in": "query", "schema": {"enum": ["relevance", "date", "code"]}},
         {"name": "facets", "in": "query", "schema": {"type": "integer", "enum": [0, 1]},
          "description": "1: add `facets`, counts by department, year, category, secrecy, volume and mime over all hits"}]
    ingest = {"post": {
        "summary": "File a record (as `dangan ingest FILE`)",
        "parameters": [{"name": "Idempotency-Key", "in": "header", "schema": {"type": "string", "maxLength": 200},
                        "description": "a retry with the same key and body answers the first record"}],
        "requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
            "type": "object", "required": ["file"],
            "properties": {"file": {"type": "string", "format": "binary"},
                           **{k: {"type": "string"} for k in ("title", "department", "category", "date", "secrecy",
                                                              "retention", "volume")},
                           "year": {"type": "integer"},
                           "meta": {"type": "array", "items": {"type": "string"}, "description": "KEY=VALUE"}}}}}},
        "responses": {"201": _ok("the record filed"), "200": _ok("the record an earlier request with this key filed"),
                      "422": {"description": "refused by a validation rule (the plugin's message)"},
                      "409": {"description": "a duplicate, or the key used for another request"},
                      "413": {"description": "larger than [serve] max_upload_mb"}, **ERRORS}}}
    return {
        "openapi": "3.1.0",
        "info": {"title": "dangan records archive API", "version": "1"},
        "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
        "security": [{"bearer": []}],
        "paths": {
            "/api/v1/search": _get("Search catalogue and full text", q, {
                "type": "object", "properties": {"total": {"type": "integer"}, "hits": {"type": "array", "items": HIT}}}),
            "/api/v1/records": ingest,
            "/api/v1/records/{rid}": _get("A record: catalogue fields, files, versions", [RID]),
            "/api/v1/records/{rid}/versions": _get("A record's versions", [RID]),
            "/api/v1/records/{rid}/files": _get("A record's files, numbered (1 = main)", [RID]),
            "/api/v1/records/{rid}/files/{n}": {"get": {
                "summary": "Download the n-th file (1 = main); HTTP Range supported; audited",
                "parameters": [RID, {"name": "n", "in": "path", "required": True, "schema": {"type": "integer"}}],
                "responses": {"200": {"description": "the file"}, "206": {"description": "a byte range"},
                              "416": {"description": "range not satisfiable"}, **ERRORS}}},
            "/api/v1/records/{rid}/thumbnail": {"get": {
                "summary": "The PNG thumbnail of the main file (images, PDF, OFD; none for sealed records)",
                "parameters": [RID], "responses": {"200": {"description": "image/png"}, **ERRORS}}},
            **LENDING_PATHS,
            "/api/v1/dispositions": _get("Records due for disposition and the destruction lists"),
            "/api/v1/dispositions/{lid}": _get("One destruction list with its items and certificate",
                                               [{"name": "lid", "in": "path", "required": True,
                                                 "schema": {"type": "string"}}]),
            "/api/v1/stats": _get("Records counted by fields", [{"name": "by", "in": "query",
                                                                  "schema": {"type": "string"}}]),
            "/api/v1/audit": _get("The audit trail (as `dangan audit log`)", [
                {"name": n, "in": "query", "schema": {"type": "string"}}
                for n in ("actor", "action", "record", "since", "until", "limit")]),
        },
    }
