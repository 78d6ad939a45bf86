"""Thumbnails: a small PNG of an image, of a PDF's or an OFD's first page, or a video's poster frame.

Made in the extraction worker (its time and memory limits hold), in memory: Pillow for images,
``pdftoppm -singlefile -scale-to N`` writing to its standard output for PDFs (no temporary file,
no password: an encrypted PDF gets none), and for OFD a drawing of the first page's text and
images (OFD has no well-kept renderer for Python; see :mod:`.ofd_render`).  The longer side is
``ExtractOptions.thumbnail_px`` (``[extraction] thumbnail_px``; 0: no thumbnails).  Anything that
cannot be drawn gives no thumbnail, never an error: a thumbnail is a convenience of the faces.

A video's poster frame is the frame at a tenth of its duration (libmediainfo's, from the media
extractor; the first frame when it is not known), decoded by ffmpeg (Debian ``ffmpeg``) straight to
a PNG on its standard output: one thread, ``-nostdin``, no audio or subtitles decoded, within
:data:`VIDEO_SECONDS`, and in the worker, so its memory limit holds for ffmpeg too.  Without ffmpeg,
or for a file with no video track (an audio-only MP4), there is none.  A sealed record keeps no
thumbnail at all (``Ingestor._extract`` drops it).
"""
from __future__ import annotations

import io
import subprocess
from pathlib import Path

from dangan.lifeline import tool_preexec

from .options import ExtractOptions

MIME_PDF = "application/pdf"
#: Seconds pdftoppm may spend on a thumbnail: a convenience never costs what the text costs (a page with a
#: huge image, such as the corpus's hugemono.pdf, takes pdftoppm 14 s even at 256 px: it gets none).
PDF_SECONDS = 5.0
MIME_OFD = "application/ofd"
#: Seconds ffmpeg may spend on a poster frame (seeking a long or damaged file included).
VIDEO_SECONDS = 15.0
VIDEO_MIMES = {"application/x-matroska", "application/mp4", "application/ogg"}
POSTER_AT = 0.1                         # the poster frame: a tenth into the video, past a black lead-in


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
                               str(path)], capture_output=True, timeout=min(options.tool_timeout, PDF_SECONDS), check=False,
                              preexec_fn=tool_preexec())
    except (OSError, subprocess.TimeoutExpired):
        return b""
    return proc.stdout if proc.returncode == 0 and proc.stdout.startswith(b"\x89PNG") else b""


def poster_seconds(duration: object) -> float:
    """Where the poster frame is taken: a tenth of ``duration`` (seconds), 0 when it is not known."""
    try:
        d = float(duration)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return 0.0
    return round(d * POSTER_AT, 3) if d > 0 else 0.0


def _video(path: Path, size: int, options: ExtractOptions, duration: object) -> bytes:
    import shutil
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        return b""
    fit = f"scale={size}:{size}:force_original_aspect_ratio=decrease"
    frame = b""
    for at in dict.fromkeys((poster_seconds(duration), 0.0)):      # the first frame if the seek finds none
        cmd = [ffmpeg, "-nostdin", "-hide_banner", "-loglevel", "error", "-threads", "1", "-ss", f"{at:.3f}",
               "-i", str(path), "-map", "0:v:0", "-an", "-sn", "-dn", "-frames:v", "1", "-vf", fit,
               "-f", "image2pipe", "-c:v", "png", "-"]
        try:
            proc = subprocess.run(cmd, capture_output=True, timeout=min(options.tool_timeout, VIDEO_SECONDS),
                                  check=False, preexec_fn=tool_preexec())
        except (OSError, subprocess.TimeoutExpired):
            return b""
        if proc.returncode == 0 and proc.stdout.startswith(b"\x89PNG"):
            frame = proc.stdout
            break
    if not frame:
        return b""
    from PIL import Image
    with Image.open(io.BytesIO(frame)) as im:
        im.load()
        return png_of(im, size)


def make_thumbnail(path: Path, mime: str, options: ExtractOptions, metadata: dict | None = None) -> bytes:
    """PNG bytes of the file's thumbnail, or b"" when there is none to make.  ``metadata`` is what the
    extractor found (a video's ``duration`` and ``kind``)."""
    size = options.thumbnail_px
    meta = metadata or {}
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
        if (mime.startswith("video/") or mime in VIDEO_MIMES) and meta.get("kind", "video") == "video":
            return _video(path, size, options, meta.get("duration"))
    except MemoryError:
        raise
    except Exception:  # noqa: BLE001 - Pillow and friends raise many kinds; a missing thumbnail is the answer
        return b""
    return b""
