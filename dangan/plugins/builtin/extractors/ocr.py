"""Images through the Tesseract CLI, and the OCR helpers the PDF extractor shares.

Tesseract reads the image itself (leptonica: JPEG, PNG, TIFF with all its
pages, GIF, BMP, WebP, JPEG 2000, PNM); other formats Pillow can decode are
converted to PNG in memory and piped in.  Nothing is written to disk: the
image or the rendered page goes in by path or stdin, the text comes back on
stdout (confidential plaintext never touches disk).  Pillow reads only the
header first, so a pixel bomb is refused before anything decodes it.
"""
from __future__ import annotations

import functools
import io
import os
import re
import subprocess
from pathlib import Path

from dangan.lifeline import tool_preexec
from dangan.model import Extraction

from .options import ExtractOptions, failed, finish, unsupported

NAME = "ocr"

_CJK = (r"\u2e80-\u2fff\u3000-\u303f\u3040-\u30ff\u3100-\u312f\u31a0-\u31ff\u3400-\u4dbf"
        r"\u4e00-\u9fff\uf900-\ufaff\ufe30-\ufe4f\uff00-\uffef")
_CJK_GAP = re.compile(rf"(?<=[{_CJK}])[ \t\u3000]+(?=[{_CJK}])")

#: What leptonica (Tesseract's image reader) decodes by itself.
_LEPTONICA = {"image/jpeg", "image/png", "image/tiff", "image/gif", "image/bmp", "image/x-ms-bmp",
              "image/webp", "image/jp2", "image/x-portable-pixmap", "image/x-portable-graymap",
              "image/x-portable-bitmap", "image/x-portable-anymap"}
_NO_DECODER = {"image/heif", "image/heic", "image/avif", "image/heic-sequence", "image/heif-sequence"}


class OcrUnavailable(Exception):
    """Tesseract is missing, disabled, or has none of the requested languages."""


class OcrFailed(Exception):
    """Tesseract ran and failed on this input."""


def clean_cjk_spaces(text: str) -> str:
    """Drop the spaces Tesseract puts between CJK characters; keep those between Latin words."""
    return _CJK_GAP.sub("", text)


@functools.lru_cache(maxsize=8)
def _available_languages(cmd: str) -> frozenset[str]:
    try:
        out = subprocess.run([cmd, "--list-langs"], capture_output=True, timeout=30, check=False,
                              preexec_fn=tool_preexec())
    except FileNotFoundError:
        raise OcrUnavailable("not OCR'd: tesseract is not installed") from None
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise OcrUnavailable(f"not OCR'd: tesseract cannot run ({exc})") from None
    lines = out.stdout.decode("utf-8", "replace").splitlines()
    return frozenset(l.strip() for l in lines[1:] if l.strip())


def ocr_languages(options: ExtractOptions) -> str:
    """The ``-l`` value to use: the requested languages that are installed."""
    if not options.ocr:
        raise OcrUnavailable("not OCR'd: OCR is turned off")
    have = _available_languages(options.tesseract_cmd)
    wanted = [l for l in options.ocr_languages.split("+") if l]
    usable = [l for l in wanted if l in have]
    if not usable:
        raise OcrUnavailable(f"not OCR'd: tesseract has none of the languages {options.ocr_languages}")
    return "+".join(usable)


def run_tesseract(source: Path | bytes, options: ExtractOptions, *, dpi: int | None = None) -> str:
    """OCR an image file (all pages of a TIFF) or image bytes; return cleaned text."""
    langs = ocr_languages(options)
    cmd = [options.tesseract_cmd, "stdin" if isinstance(source, bytes) else str(source), "stdout", "-l", langs]
    if dpi:
        cmd += ["--dpi", str(dpi)]
    env = dict(os.environ, OMP_THREAD_LIMIT="1")    # one thread: workers run side by side
    try:
        proc = subprocess.run(cmd, input=source if isinstance(source, bytes) else None,
                              capture_output=True, timeout=options.tool_timeout, env=env, check=False,
                              preexec_fn=tool_preexec())
    except FileNotFoundError:
        raise OcrUnavailable("not OCR'd: tesseract is not installed") from None
    except subprocess.TimeoutExpired:
        raise OcrFailed(f"tesseract took longer than {options.tool_timeout:.0f} s") from None
    if proc.returncode != 0:
        errors = [l for l in proc.stderr.decode("utf-8", "replace").splitlines() if l.strip()]
        reason = errors[-1] if errors else f"exit status {proc.returncode}"
        if proc.returncode < 0:
            reason = f"tesseract killed by signal {-proc.returncode} (memory limit?)"
        raise OcrFailed(f"tesseract: {reason}")
    text = proc.stdout.decode("utf-8", "replace").replace("\f", "\n")
    return clean_cjk_spaces(text).strip()


def _image_info(path: Path, options: ExtractOptions) -> tuple[dict, object | None]:
    """Header-only metadata via Pillow; returns (metadata, the open image or None)."""
    from PIL import Image

    Image.MAX_IMAGE_PIXELS = None      # we check the limit ourselves, below, without decoding
    try:
        im = Image.open(path)
    except Exception as exc:           # Pillow raises many types for unreadable headers
        return {"image_error": f"{type(exc).__name__}: {exc}"[:200]}, None
    meta: dict = {"width": im.width, "height": im.height, "format": im.format,
                  "pages": getattr(im, "n_frames", 1), "mode": im.mode}
    dpi = im.info.get("dpi")
    if dpi and dpi[0]:
        meta["dpi"] = round(float(dpi[0]))
    return meta, im


def extract_image(path: Path, mime: str, options: ExtractOptions) -> Extraction | None:
    if not mime.startswith("image/") or mime in ("image/svg+xml", "image/vnd.djvu"):
        return None
    meta, im = _image_info(path, options)
    if mime in _NO_DECODER and im is None:
        return unsupported(NAME, f"{mime} images are not supported: no decoder installed (Pillow and "
                                 "Tesseract cannot read HEIF/HEIC/AVIF)", **meta)
    pixels = meta.get("width", 0) * meta.get("height", 0)
    if pixels > options.max_pixels:
        return failed(NAME, f"image too large to OCR: {meta['width']}x{meta['height']} pixels "
                            f"(limit {options.max_pixels})", **meta)
    try:
        ocr_languages(options)
    except OcrUnavailable as exc:
        return Extraction(status="not-ocred", message=str(exc), metadata=meta, extractor=NAME)
    message = ""
    try:
        if mime in _LEPTONICA:
            try:
                text = run_tesseract(path, options)
            except OcrFailed:
                if im is None:
                    raise
                # Damaged (e.g. truncated) files: Pillow decodes what is there.
                text = run_tesseract(_to_png(im, truncated_ok=True), options)
                message = "the image is damaged; OCR ran on the part that could be decoded"
        elif im is not None:
            text = run_tesseract(_to_png(im), options)
        else:
            return unsupported(NAME, f"{mime} images cannot be decoded for OCR", **meta)
    except OcrFailed as exc:
        return failed(NAME, str(exc), **meta)
    except (OSError, ValueError, SyntaxError) as exc:      # what Pillow raises for bad image data
        return failed(NAME, f"cannot decode image: {exc}"[:300], **meta)
    finally:
        if im is not None:
            im.close()
    return finish(text, options, extractor=NAME, metadata=meta, ocr=True, message=message)


def _to_png(im, *, truncated_ok: bool = False) -> bytes:
    from PIL import ImageFile

    ImageFile.LOAD_TRUNCATED_IMAGES = truncated_ok
    try:
        buf = io.BytesIO()
        im.convert("RGB" if im.mode not in ("1", "L") else im.mode).save(buf, "PNG")
        return buf.getvalue()
    finally:
        ImageFile.LOAD_TRUNCATED_IMAGES = False
