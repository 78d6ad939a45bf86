"""E-mail: RFC 822 messages (``.eml``) with the stdlib ``email`` package, Outlook ``.msg`` via olefile.

libmagic calls most ``.eml`` files ``text/plain`` (or ``application/octet-stream``
when the whole file is UTF-16), so this extractor also claims text-like files
whose first lines are mail headers.  Bodies: ``text/plain`` preferred, HTML
stripped otherwise; charsets gb2312/gbk read as gb18030; raw 8-bit header
bytes decoded by the text module's detector; text attachments (up to 1 MB)
are included after the body, every attachment's name is listed.
"""
from __future__ import annotations

import re
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import parsedate_to_datetime
from pathlib import Path

from dangan.model import Extraction

from .options import ExtractOptions, failed, finish, unsupported
from .text import _bom, _wide_without_bom, decode_bytes, html_to_text, read_capped

NAME = "email"
_HEADER = re.compile(rb"^[A-Za-z][A-Za-z0-9-]{0,60}:[ \t]?", re.M)
_KNOWN = re.compile(rb"^(from|to|subject|date|received|message-id|mime-version|return-path|delivered-to"
                    rb"|content-type|reply-to|cc|x-[a-z0-9-]+):", re.I | re.M)
_ADDRESS_FIELDS = ("from", "to", "cc", "subject", "date")
_ATTACHMENT_TEXT_LIMIT = 1024 * 1024
_MSG_MIMES = {"application/vnd.ms-outlook", "application/x-ms-outlook"}


def _as_ascii_view(head: bytes) -> bytes:
    found = _bom(head)
    enc = found[0] if found else _wide_without_bom(head)
    if enc:
        return head[found[1] if found else 0:].decode(enc, errors="ignore").encode("utf-8", "ignore")
    return head


def looks_like_email(head: bytes) -> bool:
    """First lines are mail headers, at least two of them well-known ones."""
    head = _as_ascii_view(head).lstrip(b"\r\n")
    lines = head.splitlines()[:12]
    if not lines or not _HEADER.match(lines[0]):
        return False
    return len(_KNOWN.findall(b"\n".join(lines))) >= 2


def _charset(name: str | None) -> str | None:
    if not name:
        return None
    name = name.lower().strip()
    return "gb18030" if name in ("gb2312", "gbk", "x-gbk", "euc-cn", "cn-gb") else name


def _decode_part(part: EmailMessage) -> str:
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return ""
    charset = _charset(part.get_content_charset())
    if charset:
        try:
            return payload.decode(charset)
        except (LookupError, UnicodeDecodeError):
            pass
    return decode_bytes(payload)[0]


def _header(msg: EmailMessage, name: str) -> str:
    try:
        value = msg.get(name)
    except (ValueError, TypeError, IndexError, LookupError):   # a malformed header the policy cannot fold
        raw = [v for k, v in msg.raw_items() if k.lower() == name]
        value = raw[0] if raw else None
    if value is None:
        return ""
    text = str(value)
    if any("\udc80" <= c <= "\udcff" for c in text):          # raw 8-bit bytes in the header
        text = decode_bytes(text.encode("utf-8", "surrogateescape"))[0]
    return " ".join(text.split())


def _parse(data: bytes) -> EmailMessage:
    found = _bom(data)
    wide = found[0] if found else _wide_without_bom(data)
    if wide:        # a whole message saved as UTF-16/32: back to bytes the parser understands
        data = data[found[1] if found else 0:].decode(wide, errors="replace").encode("utf-8")
    return BytesParser(policy=policy.default).parsebytes(data)


def extract_email(path: Path, mime: str, options: ExtractOptions) -> Extraction | None:
    if mime in _MSG_MIMES or (path.suffix.lower() == ".msg" and mime == "application/x-ole-storage"):
        return extract_msg(path, options)
    if mime not in ("message/rfc822", "text/plain", "application/octet-stream"):
        return None
    if mime != "message/rfc822":
        with open(path, "rb") as fh:
            head = fh.read(4096)
        if not (path.suffix.lower() in (".eml", ".mbox") and (looks_like_email(head) or mime == "text/plain")) \
                and not looks_like_email(head):
            return None
    data, cut = read_capped(path, options)
    msg = _parse(data)
    meta: dict = {}
    head_lines = []
    for name in _ADDRESS_FIELDS:
        value = _header(msg, name)
        if value:
            meta[name] = value
            head_lines.append(f"{name.capitalize()}: {value}")
    if "date" in meta:
        try:
            meta["date_iso"] = parsedate_to_datetime(meta["date"]).isoformat()
        except (TypeError, ValueError, IndexError):
            pass
    plain: list[str] = []
    html: list[str] = []
    attachments: list[str] = []
    attached_text: list[str] = []
    notes: list[str] = []
    for part in msg.walk():
        if part.is_multipart():
            if part.get_content_subtype() == "encrypted":
                notes.append("the message body is encrypted (PGP/MIME) and was not read")
            continue
        filename = part.get_filename()
        ctype = part.get_content_type()
        if filename or part.get_content_disposition() == "attachment":
            attachments.append(filename or f"unnamed {ctype}")
            if ctype.startswith("text/") and len(part.get_payload() or "") < _ATTACHMENT_TEXT_LIMIT:
                body = _decode_part(part)
                attached_text.append(html_to_text(body) if ctype == "text/html" else body)
            continue
        if ctype == "text/plain":
            plain.append(_decode_part(part))
        elif ctype == "text/html":
            html.append(html_to_text(_decode_part(part)))
    body = "\n\n".join(plain) if any(p.strip() for p in plain) else "\n\n".join(html)
    if attachments:
        meta["attachments"] = attachments
        head_lines.append("Attachments: " + ", ".join(attachments))
    if msg.defects:
        meta["defects"] = [type(d).__name__ for d in msg.defects][:10]
    if cut:
        notes.append(f"only the first {options.max_text_bytes} bytes were read")
    text = "\n".join(head_lines) + "\n\n" + body.replace("\r\n", "\n").strip()
    if attached_text:
        text += "\n\n" + "\n\n".join(t.strip() for t in attached_text)
    return finish(text.strip(), options, extractor=NAME, metadata=meta, message="; ".join(notes))


# Outlook .msg: an OLE2 compound file whose properties sit in "__substg1.0_<tag><type>" streams.
_MSG_PROPS = {"subject": "0037", "from": "0C1A", "to": "0E04", "cc": "0E03", "body": "1000",
              "html": "1013"}


def extract_msg(path: Path, options: ExtractOptions) -> Extraction:
    try:
        import olefile
    except ImportError:
        return unsupported(NAME, "Outlook .msg files need the olefile package, which is not installed")
    try:
        ole = olefile.OleFileIO(str(path))
    except (OSError, ValueError, IndexError) as exc:
        return failed(NAME, f"not a readable Outlook .msg file ({exc})")
    with ole:
        def prop(tag: str) -> str:
            for kind, enc in (("001F", "utf-16-le"), ("001E", None)):
                stream = f"__substg1.0_{tag}{kind}"
                if ole.exists(stream):
                    raw = ole.openstream(stream).read(options.max_text_bytes)
                    return raw.decode(enc, "replace") if enc else decode_bytes(raw)[0]
            if ole.exists(f"__substg1.0_{tag}0102"):           # binary (HTML body is often this)
                return decode_bytes(ole.openstream(f"__substg1.0_{tag}0102").read(options.max_text_bytes))[0]
            return ""

        meta = {k: " ".join(prop(t).split()) for k, t in _MSG_PROPS.items() if k not in ("body", "html")}
        meta = {k: v.rstrip("\x00") for k, v in meta.items() if v.strip("\x00")}
        body = prop(_MSG_PROPS["body"]).rstrip("\x00")
        if not body.strip():
            body = html_to_text(prop(_MSG_PROPS["html"]))
        attachments = []
        for entry in ole.listdir():
            if entry[0].startswith("__attach") and len(entry) == 2 and entry[1].startswith("__substg1.0_3707"):
                raw = ole.openstream(entry).read(4096)
                attachments.append(raw.decode("utf-16-le" if entry[1].endswith("001F") else "latin-1", "replace")
                                   .rstrip("\x00"))
    if attachments:
        meta["attachments"] = attachments
    head = [f"{k.capitalize()}: {meta[k]}" for k in ("from", "to", "cc", "subject") if k in meta]
    if attachments:
        head.append("Attachments: " + ", ".join(attachments))
    return finish(("\n".join(head) + "\n\n" + body.replace("\r\n", "\n")).strip(), options,
                  extractor=NAME, metadata=meta)
