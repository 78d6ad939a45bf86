"""Thumbnails: a small PNG of an image, of a PDF's first page or of an OFD's first page.

Made in the extraction worker (its time and memory limits hold), in memory: Pillow for images,
``pdftoppm -singlefile -scale-to N`` writing to its standard output for PDFs (no temporary file,
no password: an encrypted PDF gets none), and for OFD a drawing of the first page's text and
images (OFD has no well-kept renderer for Python; see :mod:`.ofd_render`).  The longer side is
``ExtractOptions.thumbnail_px`` (``[extraction] thumbnail_px``; 0: no thumbnails).  Anything that
cannot be drawn gives no thumbnail, never an error: a thumbnail is a convenience of the faces.

Video poster frames need a decoder (ffmpeg), which dangan does not require: video gets none.
"""
from __future__ import annotations

import io
import subprocess
from pathlib import Path

from dangan.lifeline import tool_preexec

from .options import ExtractOptions

MIME_PDF = "application/pdf"
MIME_OFD = "application/ofd"


def png_of(image, size: int) -> bytes:
    """``image`` (a Pillow image) scaled to fit ``size``×``size``, as PNG bytes."""
    from PIL import Image, ImageOps

    image = ImageOps.exif_transpose(image)
    if image.mode not in ("RGB", "L", "RGBA", "LA"):
        image = image.convert("RGBA" if "A" in image.getbands() or image.mode == "P" else "RGB")
    image.thumbnail((size, size), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    image.save(out, "PNG", optimize=True)
    return out.getvalue()


def _image(path: Path, size: int, options: ExtractOptions) -> bytes:
    from PIL import Image

    Image.MAX_IMAGE_PIXELS = options.max_pixels        # a pixel bomb raises DecompressionBombError
    with Image.open(path) as im:
        if im.width * im.height > options.max_pixels:
            return b""
        im.draft("RGB", (size * 2, size * 2))          # JPEG: decode at a reduced scale
        im.seek(0)                                     # a multi-page TIFF: its first page
        im.load()
        return png_of(im, size)


def _pdf(path: Path, size: int, options: ExtractOptions) -> bytes:
    try:
        proc = subprocess.run(["pdftoppm", "-f", "1", "-l", "1", "-singlefile", "-scale-to", str(size), "-png",
                               str(path)], capture_output=True, timeout=options.tool_timeout, check=False,
                              preexec_fn=tool_preexec())
    except (OSError, subprocess.TimeoutExpired):
        return b""
    return proc.stdout if proc.returncode == 0 and proc.stdout.startswith(b"\x89PNG") else b""


def make_thumbnail(path: Path, mime: str, options: ExtractOptions) -> bytes:
    """PNG bytes of the file's thumbnail, or b"" when there is none to make."""
    size = options.thumbnail_px
    if size <= 0:
        return b""
    try:
        if mime.startswith("image/"):
            return _image(path, size, options)
        if mime == MIME_PDF:
            return _pdf(path, size, options)
        if mime == MIME_OFD:
            from .ofd_render import render_first_page
            return render_first_page(path, size, options)
    except MemoryError:
        raise
    except Exception:  # noqa: BLE001 - Pillow and friends raise many kinds; a missing thumbnail is the answer
        return b""
    return b""
