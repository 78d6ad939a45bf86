"""Batch scans for the tests (no tests here): pages of text and separator sheets with barcodes,
composed as a PDF (reportlab), then rasterised with the noise, skew and grey of a feeder scanner
into an image-only PDF or a multi-page TIFF, the way a scanner delivers a batch."""
from __future__ import annotations

import io
import random
from pathlib import Path

W, H = 595, 842                      # A4 in points


def qr_png(text: str) -> bytes:
    import segno
    buf = io.BytesIO()
    segno.make(text, error="m").save(buf, kind="png", scale=8, border=4)
    return buf.getvalue()


def compose(pages: list[tuple], out: Path | None = None) -> bytes:
    """A vector PDF: each page is ("text", [lines]) or ("qr", text[, caption]) or ("code128", text)."""
    from reportlab.graphics.barcode import code128
    from reportlab.lib.utils import ImageReader
    from reportlab.pdfgen import canvas
    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=(W, H))
    for page in pages:
        kind = page[0]
        if kind == "text":
            c.setFont("Helvetica-Bold", 26)
            y = H - 120
            for line in page[1]:
                c.drawString(60, y, line)
                y -= 44
        elif kind == "qr":
            c.drawImage(ImageReader(io.BytesIO(qr_png(page[1]))), 180, 420, 240, 240)
            c.setFont("Helvetica", 18)
            c.drawString(180, 380, page[2] if len(page) > 2 else "separator sheet")
        elif kind == "code128":
            bc = code128.Code128(page[1], barHeight=90, barWidth=1.6)
            bc.drawOn(c, 120, 500)
        elif kind == "blank":
            pass
        c.showPage()
    c.save()
    data = buf.getvalue()
    if out is not None:
        Path(out).write_bytes(data)
    return data


def scanned_images(pdf: bytes, *, dpi: int = 150, seed: int = 7, damaged: set[int] = frozenset()) -> list:
    """Each page rendered to grey pixels with speckle noise and a slight skew, like a feeder scan."""
    import pypdfium2 as pdfium
    from PIL import Image, ImageFilter
    rnd = random.Random(seed)
    doc = pdfium.PdfDocument(pdf)
    images = []
    for i in range(len(doc)):
        im = doc[i].render(scale=dpi / 72, grayscale=True).to_pil().convert("L")
        im = im.rotate(rnd.uniform(-1.2, 1.2), resample=Image.BICUBIC, expand=False, fillcolor=255)
        px = im.load()
        w, h = im.size
        for _ in range(w * h // 300):                     # speckle: dust and toner
            x, y = rnd.randrange(w), rnd.randrange(h)
            px[x, y] = rnd.choice((0, 60, 200))
        im = im.filter(ImageFilter.GaussianBlur(0.5))
        if i in damaged:
            im = Image.effect_noise(im.size, 255).convert("L")   # a page lost to a feeder jam: noise only
        images.append(im)
    doc.close()
    return images


def scanned_pdf(pages: list[tuple], out: Path, **kw) -> Path:
    images = scanned_images(compose(pages), **kw)
    images[0].save(out, "PDF", save_all=True, append_images=images[1:], resolution=kw.get("dpi", 150))
    return out


def scanned_tiff(pages: list[tuple], out: Path, **kw) -> Path:
    images = scanned_images(compose(pages), **kw)
    images[0].save(out, "TIFF", save_all=True, append_images=images[1:], compression="tiff_deflate",
                   dpi=(kw.get("dpi", 150),) * 2)
    return out


def three_documents() -> list[tuple]:
    """Three documents, two QR separators (one also carrying a META: barcode page)."""
    return [
        ("text", ["NOTICE ALPHA", "first document page one"]),
        ("text", ["ALPHA continued", "page two of the notice"]),
        ("qr", "DANGAN-SEP"),
        ("text", ["INVOICE BRAVO", "second document"]),
        ("code128", "DANGAN-SEP"),
        ("qr", "META:batchno=B-17"),
        ("text", ["MINUTES CHARLIE", "third document"]),
    ]


def dead_transient_folders() -> list[str]:
    """dangan's transient plaintext folders (``kernel.memory_tmp``) whose process is gone, in /dev/shm and $TMPDIR."""
    import os
    import tempfile
    from pathlib import Path

    from dangan.core.kernel import memory_tmp
    from dangan.repository.fsutil import pid_alive
    found = []
    for place in {p for p in (memory_tmp.memory_dir(), Path(tempfile.gettempdir())) if p is not None}:
        for entry in place.iterdir():
            m = memory_tmp._NAME.match(entry.name)
            if m and entry.stat().st_uid == os.geteuid() and not pid_alive(int(m.group(1)), m.group(2)):
                found.append(str(entry))
    return found
