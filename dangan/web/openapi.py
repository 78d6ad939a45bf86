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
            "/api/v1/loans": {**_get("The lending register", [
                {"name": "overdue", "in": "query", "schema": {"enum": ["1"]}},
                {"name": "status", "in": "query", "schema": {"type": "string"}}]),
                "post": {"summary": "Request a loan for the token's user (scope lend)", "requestBody": {
                    "required": True, "content": {"application/json": {"schema": {
                        "type": "object", "required": ["records", "purpose"],
                        "properties": {"records": {"type": "array", "items": {"type": "string"}},
                                       "purpose": {"type": "string"}, "days": {"type": "integer"}}}}}},
                    "responses": {"201": _ok("the loan, awaiting approval"), **ERRORS}}},
            "/api/v1/holds": _get("Legal holds"),
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
