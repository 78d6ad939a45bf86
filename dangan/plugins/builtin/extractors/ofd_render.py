"""A preview of an OFD's first page, drawn with Pillow: its template and page layers' text, lines and images.

Not a full renderer (no embedded fonts, clipping, CTM transforms or gradients): enough to recognise a
document or an invoice in a list of results.  Positions follow GB/T 33190: millimetres from the top
left, a ``TextCode``'s ``X``/``Y`` its baseline within the object's ``Boundary``, ``DeltaX`` the advance
of each glyph (``g N v`` repeats ``v`` N times); ``PathObject`` outlines in ``AbbreviatedData``
(``M``, ``L``, ``B``, ``Q``, ``A`` end points, ``C`` closes); ``ImageObject``s name a ``MultiMedia``
resource.  Text is drawn in an installed CJK font (Noto Sans CJK or WenQuanYi Micro Hei).
The package is read through :class:`.ofd._Package` (zip-bomb guards already passed, defusedxml).
"""
from __future__ import annotations

import io
import zipfile
from functools import lru_cache
from pathlib import Path

from .ofd import _child, _children, _floats, _local, _Package
from .options import ExtractOptions

FONTS = ("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
         "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc")
OVERSAMPLE = 2
MAX_OBJECTS = 20_000


@lru_cache(maxsize=64)
def _font(px: int):
    from PIL import ImageFont
    for path in FONTS:
        if Path(path).is_file():
            return ImageFont.truetype(path, max(px, 4))
    return ImageFont.load_default()


def _advances(value: str | None) -> list[float]:
    out: list[float] = []
    parts = (value or "").split()
    i = 0
    while i < len(parts):
        if parts[i] == "g" and i + 2 < len(parts):
            try:
                out += [float(parts[i + 2])] * min(int(parts[i + 1]), 10_000)
            except ValueError:
                pass
            i += 3
            continue
        try:
            out.append(float(parts[i]))
        except ValueError:
            pass
        i += 1
    return out


def _colour(obj, name: str, default: tuple[int, int, int]) -> tuple[int, int, int]:
    el = _child(obj, name)
    values = [int(v) for v in _floats(el.get("Value") if el is not None else None)[:3]]
    return tuple(values) if len(values) == 3 else default      # type: ignore[return-value]


def _path_points(data: str) -> list[list[tuple[float, float]]]:
    runs: list[list[tuple[float, float]]] = []
    tokens = (data or "").split()
    i = 0
    arity = {"M": 2, "L": 2, "B": 6, "Q": 4, "A": 7, "S": 2}
    while i < len(tokens):
        op = tokens[i]
        if op == "C":
            if runs and runs[-1]:
                runs[-1].append(runs[-1][0])
            i += 1
            continue
        n = arity.get(op)
        if n is None:
            i += 1
            continue
        nums = _floats(" ".join(tokens[i + 1:i + 1 + n]))
        i += 1 + n
        if len(nums) < 2:
            continue
        point = (nums[-2], nums[-1])
        if op in ("M", "S") or not runs:
            runs.append([point])
        else:
            runs[-1].append(point)
    return runs


class _Painter:
    def __init__(self, pkg: _Package, width_mm: float, height_mm: float, size: int, media: dict[str, str]):
        from PIL import Image, ImageDraw
        self.pkg, self.media = pkg, media
        self.scale = size * OVERSAMPLE / max(width_mm, height_mm)
        self.image = Image.new("RGB", (max(1, int(width_mm * self.scale)), max(1, int(height_mm * self.scale))),
                               "white")
        self.draw = ImageDraw.Draw(self.image)
        self.count = 0

    def px(self, mm: float) -> float:
        return mm * self.scale

    def layer(self, root) -> None:
        for obj in root.iter():
            self.count += 1
            if self.count > MAX_OBJECTS:
                return
            kind = _local(obj.tag)
            if kind not in ("TextObject", "PathObject", "ImageObject"):
                continue
            box = (_floats(obj.get("Boundary")) + [0.0] * 4)[:4]
            if kind == "TextObject":
                self.text(obj, box)
            elif kind == "PathObject":
                self.path(obj, box)
            else:
                self.picture(obj, box)

    def text(self, obj, box) -> None:
        size = (_floats(obj.get("Size")) or [3.5])[0]
        font = _font(int(self.px(size)))
        colour = _colour(obj, "FillColor", (0, 0, 0))
        for code in obj:
            if _local(code.tag) != "TextCode" or not code.text:
                continue
            x = box[0] + (_floats(code.get("X")) or [0.0])[0]
            y = box[1] + (_floats(code.get("Y")) or [0.0])[0]
            advances = _advances(code.get("DeltaX"))
            for i, ch in enumerate(code.text):
                self.draw.text((self.px(x), self.px(y)), ch, fill=colour, font=font, anchor="ls")
                x += advances[i] if i < len(advances) else (advances[-1] if advances else size)

    def path(self, obj, box) -> None:
        width = max(1, int(self.px((_floats(obj.get("LineWidth")) or [0.353])[0])))
        stroke = obj.get("Stroke", "true") != "false"
        fill = obj.get("Fill", "false") == "true"
        data = _child(obj, "AbbreviatedData")
        for run in _path_points(data.text if data is not None else ""):
            points = [(self.px(box[0] + x), self.px(box[1] + y)) for x, y in run]
            if fill and len(points) > 2:
                self.draw.polygon(points, fill=_colour(obj, "FillColor", (0, 0, 0)))
            if stroke and len(points) > 1:
                self.draw.line(points, fill=_colour(obj, "StrokeColor", (0, 0, 0)), width=width)

    def picture(self, obj, box) -> None:
        from PIL import Image
        name = self.media.get(obj.get("ResourceID", ""))
        real = self.pkg.names.get((name or "").lower())
        if not real or box[2] <= 0 or box[3] <= 0:
            return
        info = self.pkg.zf.getinfo(real)
        if info.file_size > 32 * 1024 * 1024:
            return
        with Image.open(io.BytesIO(self.pkg.zf.read(info))) as im:
            im.load()
            fitted = im.convert("RGBA").resize((max(1, int(self.px(box[2]))), max(1, int(self.px(box[3])))))
        self.image.paste(fitted, (int(self.px(box[0])), int(self.px(box[1]))), fitted)


def _media(pkg: _Package, doc, doc_path: str) -> dict[str, str]:
    """MultiMedia resource ID → its file's path in the package (DocumentRes and PublicRes)."""
    out: dict[str, str] = {}
    common = _child(doc, "CommonData")
    for el in list(common) if common is not None else []:
        if _local(el.tag) not in ("DocumentRes", "PublicRes") or not (el.text or "").strip():
            continue
        res_path = pkg.resolve(el.text, doc_path)
        if not pkg.has(res_path):
            continue
        res = pkg.xml(res_path)
        base = pkg.resolve(res.get("BaseLoc", "") + "/x", res_path)[:-2]
        for mm in res.iter():
            if _local(mm.tag) == "MultiMedia" and mm.get("ID"):
                f = _child(mm, "MediaFile")
                if f is not None and (f.text or "").strip():
                    out[mm.get("ID")] = pkg.resolve(f.text, base + "/x")
    return out


def render_first_page(path: Path, size: int, options: ExtractOptions) -> bytes:
    from .office import check_zip
    from .thumbnail import png_of
    if check_zip(path, options):
        return b""
    with zipfile.ZipFile(path) as zf:
        pkg = _Package(zf)
        ofd = pkg.xml(next(n for n in pkg.names if n == "ofd.xml"))
        body = _child(ofd, "DocBody")
        root = _child(body, "DocRoot") if body is not None else None
        if root is None or not (root.text or "").strip():
            return b""
        doc_path = pkg.resolve(root.text, "OFD.xml")
        doc = pkg.xml(doc_path)
        pages = _child(doc, "Pages")
        first = next(iter(_children(pages, "Page")), None) if pages is not None else None
        if first is None:
            return b""
        page_path = pkg.resolve(first.get("BaseLoc", ""), doc_path)
        content = pkg.xml(page_path)
        common = _child(doc, "CommonData")
        area = _child(content, "Area")
        if area is None and common is not None:
            area = _child(common, "PageArea")
        physical = _child(area, "PhysicalBox") if area is not None else None
        box = _floats(physical.text) if physical is not None else []
        width, height = (box[2], box[3]) if len(box) == 4 and box[2] > 0 and box[3] > 0 else (210.0, 297.0)
        painter = _Painter(pkg, width, height, size, _media(pkg, doc, doc_path))
        templates = {t.get("ID"): pkg.resolve(t.get("BaseLoc", ""), doc_path)
                     for t in (_children(common, "TemplatePage") if common is not None else [])}
        for tpl in _children(content, "Template"):
            tpl_path = templates.get(tpl.get("TemplateID", ""))
            if tpl_path and pkg.has(tpl_path):
                painter.layer(pkg.xml(tpl_path))
        painter.layer(content)
        return png_of(painter.image, size)
