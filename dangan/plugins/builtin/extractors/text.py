"""Plain text, CSV, Markdown and HTML, with encoding detection.

Detection order: a BOM (UTF-8/16/32); UTF-16/32 without a BOM (NUL-byte
pattern); strict UTF-8; then the legacy encodings Chinese archives meet —
GB18030 (a superset of GB2312/GBK), Big5 and Latin-1/cp1252 — scored by how
plausible the decoded characters are (short GBK and Big5 texts both decode
without error, so "decodes" is not enough); charset-normalizer decides only
when none of these is plausible.
"""
from __future__ import annotations

import codecs
import re
from html.parser import HTMLParser
from pathlib import Path

from dangan.model import Extraction

from .options import ExtractOptions, finish

NAME = "text"

_BOMS = (  # longest first: the UTF-32-LE BOM starts with the UTF-16-LE one
    (codecs.BOM_UTF32_LE, "utf-32-le"), (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_SAMPLE = 64 * 1024


def _bom(data: bytes) -> tuple[str, int] | None:
    for bom, enc in _BOMS:
        if data.startswith(bom):
            return enc, len(bom)
    return None


def _wide_without_bom(data: bytes) -> str | None:
    """Guess UTF-32/UTF-16 (LE/BE) from where NUL bytes sit (ASCII-heavy text)."""
    sample = data[:4096]
    if len(sample) < 4 or sample.count(0) < len(sample) // 5:
        return None
    n4 = len(sample) // 4
    if n4:
        le32 = sum(1 for i in range(n4) if sample[4 * i + 2] == 0 and sample[4 * i + 3] == 0)
        be32 = sum(1 for i in range(n4) if sample[4 * i] == 0 and sample[4 * i + 1] == 0)
        for hits, enc in ((le32, "utf-32-le"), (be32, "utf-32-be")):
            if hits >= 0.9 * n4 and _decodes(data, enc):
                return enc
    n2 = len(sample) // 2
    even = sum(1 for i in range(n2) if sample[2 * i] == 0)
    odd = sum(1 for i in range(n2) if sample[2 * i + 1] == 0)
    if even > 2 * odd and even >= 0.3 * n2:
        return "utf-16-be"
    if odd > 2 * even and odd >= 0.3 * n2:
        return "utf-16-le"
    return None


def _decodes(data: bytes, encoding: str) -> bool:
    try:
        data.decode(encoding)
    except (UnicodeDecodeError, LookupError):
        return False
    return True


def _score_gb(ch: str) -> float:
    try:
        b = ch.encode("gb2312")
    except UnicodeEncodeError:
        # GBK beyond GB2312: traditional and rarer hanzi are plausible, the rest is not
        return 0.6 if "\u4e00" <= ch <= "\u9fff" else 0.0
    if len(b) != 2:
        return 0.0
    if 0xB0 <= b[0] <= 0xD7:                       # level-1 hanzi: the 3,755 commonest
        return 1.0
    if b[0] <= 0xA3:                               # punctuation, full-width forms
        return 0.8
    return 0.1 if b[0] <= 0xA9 else 0.5            # kana, Greek, Cyrillic, box drawing / level 2


def _score_big5(ch: str) -> float:
    try:
        b = ch.encode("big5")
    except UnicodeEncodeError:
        return 0.0
    if len(b) != 2:
        return 0.0
    code = b[0] << 8 | b[1]
    if 0xA440 <= code <= 0xC67E:                   # 常用字: the 5,401 frequent characters
        return 1.0
    if code <= 0xA1FF:                              # punctuation
        return 0.8
    return 0.1 if code < 0xA440 else 0.3            # symbols, bopomofo, Greek / 次常用字


def _score_latin(text: str, i: int) -> float:
    ch = text[i]
    if not ch.isalpha():
        return 0.4 if ch in "°±²³´µ·¹º»¼½¾¿×÷©®«€–—‘’“”•…" else 0.0
    prev = text[i - 1] if i else " "
    nxt = text[i + 1] if i + 1 < len(text) else " "
    # Real Latin-1 text has accents inside ASCII words, one at a time.
    return 1.0 if prev < "\x80" and nxt < "\x80" else 0.35


def _plausibility(text: str, encoding: str) -> float:
    high = [i for i, c in enumerate(text) if c >= "\x80"]
    if not high:
        return 1.0
    if encoding == "gb18030":
        total = sum(_score_gb(text[i]) for i in high)
    elif encoding == "big5":
        total = sum(_score_big5(text[i]) for i in high)
    else:
        total = sum(_score_latin(text, i) for i in high)
    bad = text.count("\ufffd")
    return max(0.0, total - 2 * bad) / len(high)


def guess_encoding(data: bytes) -> tuple[str, int]:
    """Return ``(encoding, bytes to skip)`` for ``data``; never fails."""
    found = _bom(data)
    if found:
        return found
    wide = _wide_without_bom(data)
    if wide:
        return wide, 0
    if _decodes(data, "utf-8"):
        return "utf-8", 0
    sample = data[:_SAMPLE]
    scores: dict[str, float] = {}
    for enc in ("gb18030", "big5", "cp1252"):
        text = sample.decode(enc, errors="replace")
        if len(sample) == len(data) and "\ufffd" in text:
            continue        # the whole file is there and does not decode
        scores[enc] = _plausibility(text, enc)
    best = max(scores, key=lambda e: scores[e], default=None)
    if best == "big5" and scores.get("gb18030", 0) >= min(0.7, scores["big5"] - 0.1):
        best = "gb18030"    # ambiguous: Big5 only when the GB reading is implausible
    if best and scores[best] >= 0.5:
        return best, 0
    from charset_normalizer import from_bytes

    match = from_bytes(sample).best()
    if match is not None and match.encoding:
        return match.encoding, 0
    return ("cp1252" if "cp1252" in scores else "latin-1"), 0


# Two or more byte pairs, possibly spaced out pair by pair ("¹Ø ÓÚ" from a PDF).
_MOJIBAKE_RUN = re.compile("(?:[\xa1-\xfe]{2}(?: (?=[\xa1-\xfe]{2}))?){2,}")


def fix_mojibake(text: str) -> str:
    """Re-read runs of Latin-1 letters that are really GBK bytes (``¹ØÓÚ`` -> ``关于``).

    Libraries that decode GBK as Latin-1 (ID3 tags flagged Latin-1, PDF fonts
    without a ToUnicode map) produce such runs; a run is replaced only when
    its GB reading is plausible Chinese and its Latin-1 reading is not.
    """
    if not _MOJIBAKE_RUN.search(text):
        return text

    def repl(m: re.Match) -> str:
        run = m.group(0).replace(" ", "") if len(m.group(0)) > 4 else m.group(0)
        try:
            chinese = run.encode("latin-1").decode("gb18030")
        except UnicodeError:
            return run
        if _plausibility(chinese, "gb18030") >= 0.8 and _plausibility(run, "cp1252") < 0.5:
            return chinese
        return m.group(0)

    return _MOJIBAKE_RUN.sub(repl, text)


def decode_bytes(data: bytes) -> tuple[str, str]:
    """Decode ``data`` to ``(text, encoding)``; undecodable bytes become U+FFFD."""
    encoding, skip = guess_encoding(data)
    codec = "gb18030" if encoding.lower().replace("-", "") in ("gb2312", "gbk") else encoding
    return data[skip:].decode(codec, errors="replace"), encoding


class _HTMLText(HTMLParser):
    _SKIP = {"script", "style", "noscript", "template", "svg"}
    _BLOCK = {"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "table", "section",
              "article", "header", "footer", "title", "pre", "blockquote", "ul", "ol", "dt", "dd"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skipping = 0

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag in self._SKIP:
            self.skipping += 1
        elif tag in self._BLOCK:
            self.parts.append("\n")
        elif tag in ("td", "th"):
            self.parts.append("\t")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIP:
            self.skipping = max(0, self.skipping - 1)
        elif tag in self._BLOCK:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self.parts.append(data)


def html_to_text(html: str) -> str:
    """Visible text of an HTML document: no tags, scripts or styles."""
    parser = _HTMLText()
    parser.feed(html)
    parser.close()
    text = "".join(parser.parts)
    text = re.sub(r"[ \t\r\f\v]+", " ", text)
    return re.sub(r"\s*\n\s*", "\n", text).strip()


_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_\-]+)""", re.I)


def _decode_html(data: bytes) -> tuple[str, str]:
    if not _bom(data) and not _decodes(data, "utf-8"):
        m = _META_CHARSET.search(data[:4096])
        if m:
            declared = m.group(1).decode("ascii").lower()
            declared = "gb18030" if declared in ("gb2312", "gbk") else declared
            if _decodes(data, declared):
                return data.decode(declared), declared
    return decode_bytes(data)


TEXT_MIMES = {"application/json", "application/xml", "application/x-ndjson", "application/javascript",
              "application/x-yaml", "application/csv", "application/x-subrip"}


def looks_like_text(data: bytes) -> bool:
    """For MIME-less bytes: UTF-16/32 by NUL pattern, or UTF-8 without control bytes."""
    if _bom(data) or _wide_without_bom(data):
        return True
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(data) - 4:       # not just a character cut at the sample end
            return False
        text = data[: exc.start].decode("utf-8")
    controls = sum(1 for c in text if c < " " and c not in "\t\n\r\f")
    return controls == 0


def read_capped(path: Path, options: ExtractOptions) -> tuple[bytes, bool]:
    with open(path, "rb") as fh:
        data = fh.read(options.max_text_bytes + 1)
    return data[: options.max_text_bytes], len(data) > options.max_text_bytes


def extract_text(path: Path, mime: str, options: ExtractOptions) -> Extraction | None:
    """Text-like files; ``application/octet-stream`` only when the bytes look like text."""
    is_html = mime in ("text/html", "application/xhtml+xml")
    if mime == "application/octet-stream":
        with open(path, "rb") as fh:
            if not looks_like_text(fh.read(4096)):
                return None
    elif not (mime.startswith("text/") or mime in TEXT_MIMES or is_html) or mime == "text/rtf":
        return None
    data, cut = read_capped(path, options)
    text, encoding = _decode_html(data) if is_html else decode_bytes(data)
    if is_html:
        text = html_to_text(text)
    text = text.replace("\r\n", "\n")
    metadata: dict = {"encoding": encoding}
    message = ""
    if cut:
        metadata["truncated"] = True
        message = f"only the first {options.max_text_bytes} bytes were read"
    return finish(text, options, extractor=NAME, metadata=metadata, message=message)
