"""The CJK font the forms embed: Noto Serif CJK SC (Debian ``fonts-noto-cjk``, SIL OFL), subset to the
characters a form uses and embedded, so a form prints the same on a machine with no Chinese fonts.

reportlab embeds TrueType (glyf) outlines only; Noto CJK ships CFF outlines in a collection, so the
subset's outlines are converted to quadratic curves with fontTools (its ``otf2ttf`` recipe) before
reportlab reads it.  A subset of a few hundred characters takes a fraction of a second and a few
dozen kilobytes.  Where Noto CJK is missing, a CJK TrueType font the loan copy also uses (WenQuanYi)
is embedded as it is.
"""
from __future__ import annotations

import hashlib
import io
import logging
from pathlib import Path
from typing import Iterable

from dangan.errors import DanganError

#: Noto CJK collections, first found wins; the SC (Simplified Chinese) face inside is used.
NOTO_CJK = ("/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc",
            "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")
#: CJK TrueType fonts used as they are when no Noto CJK is installed.
TRUETYPE_CJK = ("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc", "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc")

#: Characters every form may print without their being in its text (page numbers, ASCII).
ALWAYS = "".join(chr(c) for c in range(0x20, 0x7F)) + "第页共　（）：，。、—·…□■"

_registered: dict[str, str] = {}


class NoCjkFont(DanganError):
    """No CJK font is installed (``scripts/install-system-deps`` installs fonts-noto-cjk)."""


def _sc_index(path: str) -> int:
    from fontTools.ttLib import TTCollection
    coll = TTCollection(path, lazy=True)
    for i, f in enumerate(coll.fonts):
        if " SC" in (f["name"].getDebugName(4) or ""):
            return i
    return 0


def _subset_truetype(path: str, text: str, face_name: str) -> bytes:
    """The Noto face's glyphs for ``text`` as a TrueType font (CFF outlines converted to glyf) named
    ``face_name`` (reportlab keeps one font per face name: each subset needs its own)."""
    from fontTools import subset
    from fontTools.pens.cu2quPen import Cu2QuPen
    from fontTools.pens.ttGlyphPen import TTGlyphPen
    from fontTools.ttLib import TTFont, newTable

    logging.getLogger("fontTools.subset").setLevel(logging.WARNING)      # it logs every table at INFO
    font = TTFont(path, fontNumber=_sc_index(path))
    opts = subset.Options()
    opts.layout_features = []
    opts.hinting = False
    opts.desubroutinize = True
    opts.notdef_outline = True
    opts.name_IDs = ["*"]
    opts.drop_tables += ["GSUB", "GPOS", "GDEF", "BASE", "JSTF", "VORG", "vhea", "vmtx"]   # reportlab uses none
    sub = subset.Subsetter(opts)
    sub.populate(text=text)
    sub.subset(font)
    if "CFF " in font:
        order = font.getGlyphOrder()
        glyph_set = font.getGlyphSet()
        glyphs = {}
        for name in order:
            pen = TTGlyphPen(glyph_set)
            glyph_set[name].draw(Cu2QuPen(pen, 1.0, reverse_direction=True))
            glyphs[name] = pen.glyph()
        font["loca"] = newTable("loca")
        glyf = font["glyf"] = newTable("glyf")
        glyf.glyphOrder = order
        glyf.glyphs = glyphs
        for table in ("CFF ", "VORG"):
            if table in font:
                del font[table]
        glyf.compile(font)
        maxp = font["maxp"] = newTable("maxp")
        maxp.tableVersion = 0x00010000
        for attr in ("maxTwilightPoints", "maxStorage", "maxFunctionDefs", "maxInstructionDefs",
                     "maxStackElements", "maxSizeOfInstructions", "maxComponentElements"):
            setattr(maxp, attr, 0)
        maxp.maxZones = 1
        post = font["post"]
        post.formatType, post.extraNames, post.mapping, post.glyphOrder = 2.0, [], {}, order
        font["head"].glyphDataFormat = 0
        font.sfntVersion = "\000\001\000\000"
    for rec in font["name"].names:
        if rec.nameID in (4, 6):
            rec.string = face_name
    out = io.BytesIO()
    font.save(out)
    return out.getvalue()


def cjk_font(texts: Iterable[str]) -> str:
    """Register (once per character set) and return the name of a reportlab font that prints ``texts``."""
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    chars = "".join(sorted(set(ALWAYS).union(*(set(t) for t in texts))))
    key = hashlib.sha256(chars.encode("utf-8", "surrogatepass")).hexdigest()[:12]
    if key in _registered:
        return _registered[key]
    name = f"DanganCJK-{key}"
    for path in NOTO_CJK:
        if Path(path).exists():
            pdfmetrics.registerFont(TTFont(name, io.BytesIO(_subset_truetype(path, chars, name))))
            break
    else:
        for path in TRUETYPE_CJK:
            if Path(path).exists():
                name = "DanganCJK-TrueType"            # the whole font, once: reportlab subsets it on embedding
                if key not in _registered and name not in _registered.values():
                    pdfmetrics.registerFont(TTFont(name, path, subfontIndex=0))
                break
        else:
            raise NoCjkFont("no CJK font found to embed in the form (install fonts-noto-cjk)")
    _registered[key] = name
    return name
