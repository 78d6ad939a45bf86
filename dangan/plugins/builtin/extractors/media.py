"""Audio and video: technical metadata and tags, no text.

tinytag (pure Python) reads duration, bitrate, sample rate, channels and tags
of MP3, M4A/MP4 audio, Ogg (Vorbis, Opus), FLAC, WAV, WMA/ASF and AIFF.
ID3 text that is GBK but flagged Latin-1 is re-read as GB18030 when the
Latin-1 reading looks like mojibake.  Video dimensions and codecs: ``ffprobe``
when it is installed (not required); otherwise the MP4/QuickTime box tree is
read directly (``tkhd`` width/height, ``stsd`` codec); for other containers
(Matroska/WebM, AVI, FLV) only what tinytag finds is reported.
The tags are also returned as text (``title: …``) so that they are searchable.
"""
from __future__ import annotations

import json
import shutil
import struct
import subprocess
from pathlib import Path

from dangan.lifeline import tool_preexec
from dangan.model import Extraction

from .options import ExtractOptions, finish
from .text import fix_mojibake

NAME = "media"
_TAGS = ("title", "artist", "album", "albumartist", "composer", "genre", "year", "track", "disc", "comment")
_MEDIA_APPS = {"application/ogg", "application/x-matroska", "application/mp4", "application/vnd.rn-realmedia"}
_MP4_CONTAINERS = {b"moov", b"trak", b"mdia", b"minf", b"stbl", b"edts"}


def _fix(value: object) -> str:
    """A tag value as text, with GBK-as-Latin-1 mojibake repaired."""
    text = str(value).replace("\x00", "").strip()
    if text and all(ord(c) < 256 for c in text) and any(ord(c) >= 0xA1 for c in text):
        return fix_mojibake(text)
    return text


def _tinytag(path: Path, meta: dict) -> str | None:
    from tinytag import TinyTag, TinyTagException

    try:
        tag = TinyTag.get(str(path), duration=True, image=False)
    except TinyTagException as exc:
        return f"tinytag: {exc}"
    except (OSError, ValueError, struct.error, IndexError, KeyError, ZeroDivisionError, UnicodeError) as exc:
        return f"tinytag: {type(exc).__name__}: {exc}"
    for key in ("duration", "bitrate", "samplerate", "channels", "bitdepth"):
        value = getattr(tag, key, None)
        if value:
            meta[key] = round(value, 3) if isinstance(value, float) else value
    for key in _TAGS:
        value = getattr(tag, key, None)
        if value not in (None, ""):
            meta[f"tag.{key}"] = _fix(value)
    for key, values in (getattr(tag, "other", None) or {}).items():
        if values and len(meta) < 60:
            meta[f"tag.{key}"] = _fix(values[0] if isinstance(values, list) else values)
    return None


def _ffprobe(path: Path, meta: dict) -> bool:
    exe = shutil.which("ffprobe")
    if not exe:
        return False
    try:
        proc = subprocess.run([exe, "-v", "error", "-print_format", "json", "-show_format", "-show_streams",
                               str(path)], capture_output=True, timeout=30, check=False,
                              preexec_fn=tool_preexec())
        info = json.loads(proc.stdout or b"{}")
    except (OSError, subprocess.TimeoutExpired, ValueError):
        return False
    for stream in info.get("streams", []):
        kind = stream.get("codec_type")
        if kind == "video" and "width" not in meta:
            meta.update(width=stream.get("width"), height=stream.get("height"), codec=stream.get("codec_name"))
        elif kind == "audio" and "audio_codec" not in meta:
            meta["audio_codec"] = stream.get("codec_name")
    fmt = info.get("format", {})
    if fmt.get("duration") and "duration" not in meta:
        meta["duration"] = round(float(fmt["duration"]), 3)
    return bool(info)


def _mp4_boxes(fh, start: int, end: int, depth: int = 0):
    pos = start
    while pos + 8 <= end and depth < 8:
        fh.seek(pos)
        head = fh.read(16)
        if len(head) < 8:
            return
        size, kind = struct.unpack(">I4s", head[:8])
        header = 8
        if size == 1 and len(head) == 16:
            size, header = struct.unpack(">Q", head[8:16])[0], 16
        elif size == 0:
            size = end - pos
        if size < header:
            return
        yield kind, pos + header, min(pos + size, end)
        pos += size


def _mp4(path: Path, meta: dict) -> None:
    """Width, height and codec of the first video track of an MP4/QuickTime file."""
    with open(path, "rb") as fh:
        fh.seek(0, 2)
        size = fh.tell()
        tracks: list[dict] = []

        def walk(start: int, end: int, depth: int, track: dict | None) -> None:
            for kind, body, stop in _mp4_boxes(fh, start, end, depth):
                if kind in _MP4_CONTAINERS:
                    sub = {} if kind == b"trak" else track
                    if kind == b"trak":
                        tracks.append(sub)
                    walk(body, stop, depth + 1, sub)
                elif track is not None and kind == b"tkhd":
                    fh.seek(body)
                    data = fh.read(min(stop - body, 104))
                    off = 76 if data[:1] == b"\x00" else 88
                    if len(data) >= off + 8:
                        w, h = struct.unpack(">II", data[off:off + 8])
                        track["width"], track["height"] = w >> 16, h >> 16
                elif track is not None and kind == b"hdlr" and "handler" not in track:
                    fh.seek(body + 8)          # mdia's hdlr comes first; minf's (QuickTime) is a data handler
                    track["handler"] = fh.read(4)
                elif track is not None and kind == b"stsd":
                    fh.seek(body + 12)
                    track["codec"] = fh.read(4).decode("latin-1").strip()

        walk(0, size, 0, None)
    for track in tracks:
        if track.get("handler") == b"vide" and track.get("width"):
            meta.setdefault("width", track["width"])
            meta.setdefault("height", track["height"])
            if track.get("codec"):
                meta.setdefault("codec", track["codec"])
            break
    else:
        if tracks and all(t.get("handler") != b"vide" for t in tracks):
            meta["video_tracks"] = 0


def _avi(path: Path, meta: dict) -> None:
    """Width, height, duration and video codec from an AVI's ``avih``/``strh`` headers."""
    with open(path, "rb") as fh:
        head = fh.read(16384)
    i = head.find(b"avih")
    if head[:4] != b"RIFF" or i < 0 or len(head) < i + 48:
        return
    usec, _, _, _, frames, _, _, _, width, height = struct.unpack("<10I", head[i + 8:i + 48])
    meta.setdefault("width", width)
    meta.setdefault("height", height)
    if usec and frames:
        meta.setdefault("duration", round(usec * frames / 1e6, 3))
    j = head.find(b"strh")
    if j >= 0 and head[j + 8:j + 12] == b"vids" and len(head) >= j + 16:
        meta.setdefault("codec", head[j + 12:j + 16].decode("latin-1").strip("\x00 "))


def extract_media(path: Path, mime: str, options: ExtractOptions) -> Extraction | None:
    if not (mime.startswith("audio/") or mime.startswith("video/") or mime in _MEDIA_APPS):
        return None
    meta: dict = {"kind": "video" if mime.startswith("video/") else "audio"}
    problem = _tinytag(path, meta)
    if mime.startswith("video/") or mime in ("application/mp4", "application/x-matroska"):
        if not _ffprobe(path, meta) and mime in ("video/mp4", "video/quicktime", "application/mp4",
                                                  "video/3gpp", "video/x-m4v"):
            try:
                _mp4(path, meta)
            except (OSError, struct.error, ValueError) as exc:
                problem = problem or f"MP4 boxes: {exc}"
        elif mime in ("video/x-msvideo", "video/avi"):
            try:
                _avi(path, meta)
            except (OSError, struct.error) as exc:
                problem = problem or f"AVI header: {exc}"
    technical = {k for k in meta if k != "kind"}
    if not technical:
        reason = problem or "no metadata found"
        if "No tag reader" in reason:
            reason = f"no reader for {mime} metadata here (tinytag does not read it; ffprobe is not installed)"
        return Extraction(status="empty", extractor=NAME, metadata=meta, message=reason)
    lines = [f"{k[4:]}: {v}" for k, v in meta.items() if k.startswith("tag.")]
    # Metadata is this family's result: "ok" even without tag text (see Extraction's docstring).
    return finish("\n".join(lines), options, extractor=NAME, metadata=meta, status="ok")
