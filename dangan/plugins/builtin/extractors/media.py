"""Audio and video: technical metadata (characterisation) and tags, no text.

libmediainfo, through pymediainfo (its wheel bundles the library), characterises every container it
knows (MP4/MOV, Matroska/WebM, AVI, FLV, MPEG-TS/PS, WAV, MP3, AAC, FLAC, Ogg Vorbis/Opus, WMA…):
``container`` (and ``container_profile``), ``duration`` (s), ``bitrate`` (overall, kbit/s), and of the
first video track ``codec``/``codec_id``, ``width``, ``height``, ``frame_rate``, ``video_bitrate``, of the
first audio track ``audio_codec``, ``samplerate``, ``channels``, ``audio_bitrate``; ``video_tracks`` and
``audio_tracks`` count them.  It runs in the extraction worker like every extractor (time and memory limits).

tinytag (pure Python) reads the tags (title, artist, album…) and is the fallback for duration and rates
where libmediainfo finds nothing (a fragment of an MP3).  ID3 text that is GBK but flagged Latin-1 is
re-read as GB18030 when the Latin-1 reading looks like mojibake.  The tags are also returned as text
(``title: …``) so that they are searchable.
"""
from __future__ import annotations

import struct
from pathlib import Path

from dangan.model import Extraction

from .options import ExtractOptions, finish
from .text import fix_mojibake

NAME = "media"
_TAGS = ("title", "artist", "album", "albumartist", "composer", "genre", "year", "track", "disc", "comment")
_MEDIA_APPS = {"application/ogg", "application/x-matroska", "application/mp4", "application/vnd.rn-realmedia"}


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


def _number(value) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _mediainfo(path: Path, meta: dict) -> str | None:
    """Container, duration, bit rate and each first video/audio track's codec and properties (libmediainfo)."""
    from pymediainfo import MediaInfo

    try:
        info = MediaInfo.parse(str(path))
    except (OSError, RuntimeError, ValueError) as exc:       # a missing library or an unreadable file
        return f"mediainfo: {type(exc).__name__}: {exc}"
    general = next((t for t in info.tracks if t.track_type == "General"), None)
    videos = [t for t in info.tracks if t.track_type == "Video"]
    audios = [t for t in info.tracks if t.track_type == "Audio"]
    if general is not None and general.format:
        meta["container"] = general.format
        if general.format_profile:
            meta["container_profile"] = general.format_profile
        duration = _number(general.duration)
        if duration:
            meta["duration"] = round(duration / 1000, 3)
        rate = _number(general.overall_bit_rate)
        if rate:
            meta["bitrate"] = round(rate / 1000)                    # kbit/s, as tinytag reports it
        for key, field in (("title", "title"), ("artist", "performer"), ("album", "album")):
            value = getattr(general, field, None)
            if value and f"tag.{key}" not in meta:
                meta[f"tag.{key}"] = _fix(value)
    if videos:
        v = videos[0]
        meta["video_tracks"] = len(videos)
        for key, value in (("codec", v.format), ("codec_id", v.codec_id), ("codec_profile", v.format_profile),
                           ("width", v.width), ("height", v.height)):
            if value not in (None, ""):
                meta[key] = value
        fps = _number(v.frame_rate)
        if fps:
            meta["frame_rate"] = round(fps, 3)
        rate = _number(v.bit_rate)
        if rate:
            meta["video_bitrate"] = round(rate / 1000)
    elif general is not None and general.format:
        meta["video_tracks"] = 0
    if audios:
        a = audios[0]
        meta["audio_tracks"] = len(audios)
        if a.format:
            meta["audio_codec"] = a.format
        for key, value in (("samplerate", _number(a.sampling_rate)), ("channels", _number(a.channel_s))):
            if value:
                meta[key] = int(value)
        rate = _number(a.bit_rate)
        if rate:
            meta["audio_bitrate"] = round(rate / 1000)
    return None


def extract_media(path: Path, mime: str, options: ExtractOptions) -> Extraction | None:
    if not (mime.startswith("audio/") or mime.startswith("video/") or mime in _MEDIA_APPS):
        return None
    meta: dict = {"kind": "video" if mime.startswith("video/") else "audio"}
    problem = _tinytag(path, meta)
    technical = _mediainfo(path, meta)          # libmediainfo's figures replace tinytag's where both have one
    if meta.get("video_tracks"):
        meta["kind"] = "video"
    elif meta.get("audio_tracks") and meta.get("video_tracks") == 0:
        meta["kind"] = "audio"                  # an audio-only MP4 is audio whatever libmagic called it
    if not {k for k in meta if k != "kind"}:
        reason = technical or problem or "no metadata found"
        if "No tag reader" in reason or reason == "no metadata found":
            reason = f"neither libmediainfo nor tinytag reads {mime} metadata from this file"
        return Extraction(status="empty", extractor=NAME, metadata=meta, message=reason)
    lines = [f"{k[4:]}: {v}" for k, v in meta.items() if k.startswith("tag.")]
    # Metadata is this family's result: "ok" even without tag text (see Extraction's docstring).
    return finish("\n".join(lines), options, extractor=NAME, metadata=meta, status="ok")
