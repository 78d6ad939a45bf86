"""Regenerate the demo's sample records (the outputs are committed; run only to change them).

Needs Pillow and a CJK TrueType font for the scanned page (Debian: fonts-wqy-zenhei).
The PDF uses the standard CJK font STSong-Light by name, so it needs no font file.
"""
from __future__ import annotations

import random
import sys
from pathlib import Path

HERE = Path(__file__).parent


def write_pdf(path: Path, lines_cn: list[str], lines_en: list[str]) -> None:
    ops = ["BT", "/F1 16 Tf", "72 760 Td", "22 TL"]
    ops += ["<" + line.encode("utf-16-be").hex().upper() + "> Tj T*" for line in lines_cn]
    ops.append("/F2 12 Tf")
    for line in lines_en:
        ops.append("(" + line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)") + ") Tj T*")
    ops.append("ET")
    stream = "\n".join(ops).encode("latin-1")
    objs = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 4 0 R /F2 6 0 R >> >>"
        b" /Contents 7 0 R >>",
        b"<< /Type /Font /Subtype /Type0 /BaseFont /STSong-Light /Encoding /UniGB-UCS2-H /DescendantFonts [5 0 R] >>",
        b"<< /Type /Font /Subtype /CIDFontType0 /BaseFont /STSong-Light /CIDSystemInfo << /Registry (Adobe)"
        b" /Ordering (GB1) /Supplement 4 >> /FontDescriptor 8 0 R >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /FontDescriptor /FontName /STSong-Light /Flags 6 /FontBBox [-25 -254 1000 880] /ItalicAngle 0"
        b" /Ascent 880 /Descent -120 /CapHeight 880 /StemV 93 >>",
    ]
    out = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n"
    offsets = []
    for i, o in enumerate(objs, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + o + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1, xref)
    path.write_bytes(out)


def write_scan(path: Path, lines: list[str], font_path: str) -> None:
    from PIL import Image, ImageDraw, ImageFilter, ImageFont
    rng = random.Random(7)
    img = Image.new("L", (1240, 760), 245)
    draw = ImageDraw.Draw(img)
    font = ImageFont.truetype(font_path, 52)
    y = 80
    for line in lines:
        draw.text((90, y), line, fill=20, font=font)
        y += 96
    for _ in range(3000):          # paper grain, as a flatbed scanner gives
        x, yy = rng.randrange(img.width), rng.randrange(img.height)
        img.putpixel((x, yy), rng.randrange(200, 240))
    img = img.rotate(0.6, fillcolor=245, resample=Image.BICUBIC).filter(ImageFilter.GaussianBlur(0.3))
    img.save(path, dpi=(150, 150))


if __name__ == "__main__":
    write_pdf(HERE / "档案管理制度.pdf",
              ["档案管理制度（试行）", "第一条 为加强公司档案管理，制定本制度。",
               "第二条 文书档案按年度立卷，由各部门兼职档案员收集。", "第三条 绝密文件单独组卷，专人管理。"],
              ["Records management rules (trial)", "Article 1: Records are filed by year into volumes.",
               "Article 3: Top-secret documents form volumes of their own."])
    font = sys.argv[1] if len(sys.argv) > 1 else "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"
    write_scan(HERE / "借阅登记表-扫描件.png",
               ["档案借阅登记表", "借阅人：王芳  部门：办公室", "借阅日期：2024年3月5日", "归还期限：三日内归还"], font)
