"""Audio and video characterisation with libmediainfo (pymediainfo), in the extraction worker with its limits.

Real files from the corpus (tests/data/corpus/audio, video): every container the corpus holds, not only MP4/AVI.
"""
from __future__ import annotations

import json

import pytest

from conftest import CORPUS
from dangan.core.store import mime as mimes
from dangan.core.store.extraction import ExtractionWorker

EXPECTED = {
    # path: (container, kind, {key: value})
    "video/sample.mkv": ("Matroska", "video", {"codec": "AVC", "width": 480, "height": 270, "audio_codec": "Vorbis",
                                                "samplerate": 48000, "channels": 2}),
    "video/big_buck_bunny_432_433.webm": ("WebM", "video", {"codec": "VP8", "width": 1280, "height": 720,
                                                             "frame_rate": 24.0, "audio_codec": "Vorbis"}),
    "video/sample.mp4": ("MPEG-4", "video", {"codec": "MPEG-4 Visual", "codec_id": "mp4v-20", "width": 190,
                                              "height": 240, "frame_rate": 30.0, "audio_codec": "AAC",
                                              "samplerate": 32000}),
    "video/png.mov": ("MPEG-4", "video", {"container_profile": "QuickTime", "codec": "PNG", "width": 320,
                                          "height": 240, "frame_rate": 25.0}),
    "video/sample.avi": ("AVI", "video", {"codec": "Cinepak", "codec_id": "cvid", "width": 80, "height": 60,
                                          "frame_rate": 15.0, "audio_codec": "PCM", "samplerate": 22050}),
    "video/issue55.flv": ("Flash Video", "audio", {"audio_codec": "AAC", "samplerate": 48000, "video_tracks": 0}),
    "video/mp4-with-audio.mp4": ("MPEG-4", "audio", {"audio_codec": "AAC", "video_tracks": 0, "channels": 2}),
    "audio/raw_text.wav": ("Wave", "audio", {"audio_codec": "PCM", "samplerate": 16000, "channels": 1,
                                             "bitrate": 256}),
    "audio/flac1sMono.flac": ("FLAC", "audio", {"audio_codec": "FLAC", "samplerate": 44100, "channels": 1}),
    "audio/8khz_5s.opus": ("Ogg", "audio", {"audio_codec": "Opus", "samplerate": 8000}),
    "audio/raw_text.mp3": ("MPEG Audio", "audio", {"audio_codec": "MPEG Audio", "samplerate": 16000}),
    "audio/test3.m4a": ("MPEG-4", "audio", {"audio_codec": "AAC", "samplerate": 8000}),
    "audio/wma_invalid_track_number.wma": ("Windows Media", "audio", {"audio_codec": "WMA", "samplerate": 44100}),
}


@pytest.fixture(scope="module")
def characterised():
    with ExtractionWorker(timeout=60, memory_mb=1024) as worker:
        return {p: worker.extract(CORPUS / p, mimes.by_content(CORPUS / p)) for p in EXPECTED}


@pytest.mark.parametrize("path", sorted(EXPECTED))
def test_container_codecs_and_properties(characterised, path):
    container, kind, fields = EXPECTED[path]
    result = characterised[path]
    assert result.status == "ok" and result.extractor == "media", result.message
    meta = result.metadata
    assert meta["container"] == container and meta["kind"] == kind
    assert meta["duration"] > 0
    for key, value in fields.items():
        assert meta[key] == value, (key, meta)


def test_tags_still_come_through_with_gbk_repair(characterised):
    with ExtractionWorker(timeout=60, memory_mb=1024) as worker:
        mp3 = worker.extract(CORPUS / "audio/chinese_id3.mp3", "audio/mpeg")      # a 1,000-byte ID3 fragment
    assert mp3.metadata["tag.artist"] == "苏云" and "title: 角落之歌" in mp3.text


def test_a_damaged_video_is_an_answer_not_a_crash(tmp_path):
    cut = tmp_path / "cut.mkv"
    cut.write_bytes((CORPUS / "video/sample.mkv").read_bytes()[:600])
    noise = tmp_path / "noise.mp4"
    noise.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 40)
    with ExtractionWorker(timeout=60, memory_mb=1024) as worker:
        for path in (cut, noise):
            result = worker.extract(path, "video/x-matroska" if path.suffix == ".mkv" else "video/mp4")
            assert result.status in ("ok", "empty") and result.extractor == "media"
            if result.status == "empty":
                assert result.message


def test_an_archived_video_shows_its_characterisation(cli, tmp_path):
    out = json.loads(cli("ingest", CORPUS / "video/sample.mkv", "--json").output.splitlines()[0])
    meta = json.loads(cli("show", out["record_id"], "--json").output)["metadata"]
    assert meta["x.container"] == "Matroska" and meta["x.codec"] == "AVC" and meta["x.width"] == "480"
