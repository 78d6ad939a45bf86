"""HTTP pieces shared by pages and API: security headers, download headers, bounded bodies, errors → status.

* Every response carries a Content-Security-Policy with no inline script and ``frame-ancestors 'none'``
  (a file served inline for preview may be framed by our own pages: ``'self'``), ``nosniff``,
  ``Referrer-Policy: no-referrer`` (a URL never travels to another site) and no caching of pages.
* Download names are RFC 6266 / RFC 5987: an ASCII fallback and ``filename*=UTF-8''…`` for Chinese.
* A request body is read up to ``max_upload_bytes`` and refused (413) beyond, before anything is parsed;
  a multipart body is parsed with its spool size above that bound, so an upload never rolls over to a
  temporary file on disk (a confidential file's plaintext stays in memory).
"""
from __future__ import annotations

import re
import unicodedata
from urllib.parse import quote

from dangan import errors

PAGE_CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; media-src 'self';"
            " frame-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
FILE_CSP = "default-src 'none'; img-src 'self'; media-src 'self'; style-src 'unsafe-inline'; frame-ancestors 'self'"
#: Shown inline for preview; anything else (HTML, SVG, scripts…) is always a download.
INLINE_TYPES = ("application/pdf", "image/png", "image/jpeg", "image/gif", "image/webp", "text/plain")


class SecurityHeaders:
    """ASGI middleware: the headers above on every response that does not set its own CSP."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def sending(message):
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                names = {k.lower() for k, _ in headers}
                if b"content-security-policy" not in names:
                    headers.append((b"content-security-policy", PAGE_CSP.encode()))
                    headers.append((b"x-frame-options", b"DENY"))
                headers.append((b"x-content-type-options", b"nosniff"))
                headers.append((b"referrer-policy", b"no-referrer"))
                if b"cache-control" not in names:
                    headers.append((b"cache-control", b"no-store"))
                message = {**message, "headers": headers}
            await send(message)
        return await self.app(scope, receive, sending)


def content_disposition(name: str, inline: bool) -> str:
    """``inline|attachment; filename="ascii"; filename*=UTF-8''percent-encoded`` (RFC 6266, RFC 5987)."""
    name = name.replace("\\", "_").replace("/", "_")
    name = "".join(c for c in name if unicodedata.category(c)[0] != "C") or "file"
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    ascii_name = re.sub(r'[^A-Za-z0-9._ -]', "", ascii_name).strip()
    stem, dot, ext = ascii_name.rpartition(".")
    if not dot:
        stem, ext = ascii_name, ""
    if not stem.strip(" ._-"):
        ascii_name = "file" + (f".{ext}" if ext else "")
    return (f'{"inline" if inline else "attachment"}; filename="{ascii_name}"; '
            f"filename*=UTF-8''{quote(name, safe='')}")


def inline_type(mime: str) -> bool:
    return mime in INLINE_TYPES or mime.startswith(("audio/", "video/"))


class BodyTooLarge(errors.UsageError):
    pass


async def bounded_stream(request, limit: int):
    """The request body, chunk by chunk, refused (BodyTooLarge) past ``limit`` bytes."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge(f"the upload is larger than the limit of {limit // (1024 * 1024)} MiB")
    seen = 0
    async for chunk in request.stream():
        seen += len(chunk)
        if seen > limit:
            raise BodyTooLarge(f"the upload is larger than the limit of {limit // (1024 * 1024)} MiB")
        yield chunk


async def multipart_in_memory(request, limit: int, *, max_fields: int = 60):
    """Parse a multipart form with every part held in memory (bounded by ``limit``)."""
    from starlette.formparsers import MultiPartParser
    parser = MultiPartParser(request.headers, bounded_stream(request, limit), max_files=1, max_fields=max_fields,
                             max_part_size=min(limit, 1024 * 1024))
    parser.spool_max_size = limit + 1          # a SpooledTemporaryFile never rolls over to disk
    return await parser.parse()


#: Domain errors → HTTP status (403 for refusals; 404 for what does not exist; 422 for validation).
STATUS = [
    (errors.LegalHold, 423), (errors.AccessDenied, 403), (errors.RecordGone, 410), (errors.NotFound, 404),
    (errors.DuplicateRecord, 409), (errors.ValidationFailed, 422), (errors.FileRefused, 422),
    (BodyTooLarge, 413), (errors.WrongState, 409), (errors.CryptoError, 409), (errors.LockTimeout, 503),
    (errors.StorageFull, 507), (errors.IntegrityError, 500), (errors.UsageError, 400), (errors.DanganError, 500),
]


def status_of(exc: errors.DanganError) -> int:
    for cls, code in STATUS:
        if isinstance(exc, cls):
            return code
    return 500
