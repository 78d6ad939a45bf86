"""Thumbnails as derivatives: images, PDF first pages (pdftoppm to a pipe), OFD first pages (drawn), video
poster frames (ffmpeg to a pipe, a tenth into the video), none for sealed records; `[extraction] thumbnail_px`
sets the size (0: none)."""
from __future__ import annotations

import io
import json

import shutil

import pytest
from PIL import Image

from conftest import CORPUS
from dangan.core.store import mime as mimes
from dangan.core.store.layout import thumbnail_path
from dangan.model import ExtractOptions
from dangan.plugins.builtin.extractors import extract


def _png(data: bytes) -> Image.Image:
    assert data.startswith(b"\x89PNG")
    im = Image.open(io.BytesIO(data))
    im.load()
    return im


@pytest.mark.parametrize("path", ["pdf-text/crazyones.pdf", "images/phototest.tif", "images/g4-multi.tiff",
                                  "images/chi_sim_image.jpeg", "images/multi-line_cn1.png", "ofd/v4signed.ofd"])
def test_thumbnail_fits_the_size(path):
    f = CORPUS / path
    result = extract(f, mimes.by_content(f), ExtractOptions(thumbnail_px=128, ocr=False))
    im = _png(result.thumbnail)
    assert max(im.size) == 128 and min(im.size) > 10


def test_ofd_preview_draws_text_and_lines():
    f = CORPUS / "ofd/v4signed.ofd"
    im = _png(extract(f, "application/ofd", ExtractOptions(thumbnail_px=400)).thumbnail).convert("RGB")
    colours = im.getcolors(1_000_000)
    ink = sum(n for n, c in colours if sum(c) < 600)
    assert 0.01 < ink / (im.width * im.height) < 0.6           # drawn, not blank and not a black box
    # the template's brown rules and labels (156 82 35, softened by scaling) are there, and the black values
    brown = sum(n for n, c in colours if c[0] - c[2] > 40 and c[0] > c[1] > c[2])
    black = sum(n for n, c in colours if max(c) < 110)
    assert brown > 500 and black > 100


@pytest.mark.parametrize("path,mime", [("video/mp4-with-audio.mp4", "video/mp4"), ("pdf-encrypted/encrypted.pdf",
                                                                           "application/pdf"),
                                       ("odd/decompression_bomb.gif", "image/gif"), ("text/test.txt", "text/plain")])
def test_no_thumbnail_where_none_can_be_made(path, mime):
    result = extract(CORPUS / path, mime, ExtractOptions(thumbnail_px=128, ocr=False))
    assert result.thumbnail == b""


def test_off_by_default_in_options():
    assert extract(CORPUS / "images/phototest.tif", "image/tiff", ExtractOptions(ocr=False)).thumbnail == b""


def _stored(archive_root, rid):
    from dangan.core.archive import Archive
    from dangan.core.kernel.actor import Actor
    with Archive(archive_root, Actor("tester", "tester")) as a:
        return {f.logical_path: a.store.read_bytes(rid, f.logical_path) for f in a.store.files(rid)}


def test_ingest_stores_the_thumbnail_as_a_derivative(cli, archive_root, tmp_path):
    toml = archive_root / "dangan.toml"
    toml.write_text(toml.read_text(encoding="utf-8").replace("[extraction]", "[extraction]\nthumbnail_px = 96", 1)
                    if "[extraction]" in toml.read_text(encoding="utf-8")
                    else toml.read_text(encoding="utf-8") + "\n[extraction]\nthumbnail_px = 96\n", encoding="utf-8")
    out = json.loads(cli("ingest", CORPUS / "pdf-text/crazyones.pdf", "--json").output.splitlines()[0])
    files = _stored(archive_root, out["record_id"])
    im = _png(files[thumbnail_path("crazyones.pdf")])
    assert max(im.size) == 96
    # a new version that changes only fields keeps it
    cli("revise", out["record_id"], "--title", "新标题")
    assert thumbnail_path("crazyones.pdf") in _stored(archive_root, out["record_id"])
    shown = json.loads(cli("show", out["record_id"], "--json").output)
    assert all(not f["path"].startswith(".dangan/") for f in shown["files"])     # not a file of the record


def test_thumbnail_px_zero_makes_none(cli, archive_root):
    toml = archive_root / "dangan.toml"
    text = toml.read_text(encoding="utf-8")
    toml.write_text(text.replace("[extraction]", "[extraction]\nthumbnail_px = 0", 1) if "[extraction]" in text
                    else text + "\n[extraction]\nthumbnail_px = 0\n", encoding="utf-8")
    out = json.loads(cli("ingest", CORPUS / "images/phototest.tif", "--json").output.splitlines()[0])
    assert not any(p.startswith(".dangan/thumbnails/") for p in _stored(archive_root, out["record_id"]))


def test_the_faces_read_a_thumbnail_through_the_service(cli, archive, archive_root):
    from dangan.core.service import records
    pdf = json.loads(cli("ingest", CORPUS / "pdf-text/crazyones.pdf", "--json").output.splitlines()[0])["record_id"]
    txt = json.loads(cli("ingest", CORPUS / "text/test.txt", "--json").output.splitlines()[0])["record_id"]
    assert max(_png(records.thumbnail(archive, pdf)).size) == 256          # the default size
    assert records.thumbnail(archive, txt) is None


def test_a_drop_folder_scan_gets_its_thumbnail_in_the_deferred_version(archive_root, tmp_path):
    """The watcher archives first and extracts later (a derivative version): the thumbnail comes with the text,
    and the PUID was set at archiving."""
    import shutil
    from watch_helpers import folder, query, settled, wait_for, watching
    drop = tmp_path / "drop"
    drop.mkdir()
    with watching(archive_root, folder(drop, settle_seconds=0.1)) as w:
        shutil.copyfile(CORPUS / "pdf-text/crazyones.pdf", drop / "扫描.pdf")
        wait_for(lambda: query(archive_root, "SELECT count(*) FROM records WHERE extraction_status IS NOT NULL")[0][0]
                 == 1 and settled(w), what="archived and extracted")
    (rid, version), = query(archive_root, "SELECT id, version FROM records")
    assert version == 2
    assert query(archive_root, "SELECT path, puid FROM files WHERE record_id = ? AND version = 2 ORDER BY path", rid) \
        == [(".dangan/text/扫描.pdf.txt", "x-fmt/111"), (".dangan/thumbnails/扫描.pdf.png", "fmt/11"),
            ("扫描.pdf", "fmt/19")]      # the derivatives of the deferred version identified when made
    assert max(_png(_stored(archive_root, rid)[thumbnail_path("扫描.pdf")]).size) == 256


needs_ffmpeg = pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg (video poster frames) is not installed")


@needs_ffmpeg
@pytest.mark.parametrize("path", ["video/sample.mp4", "video/sample.mkv", "video/sample.avi", "video/png.mov",
                                  "video/big_buck_bunny_432_433.webm"])
def test_a_video_gets_a_poster_frame_that_fits_the_size(path):
    f = CORPUS / path
    result = extract(f, mimes.by_content(f), ExtractOptions(thumbnail_px=128, ocr=False))
    im = _png(result.thumbnail).convert("L")
    assert max(im.size) == 128 and min(im.size) > 10
    lo, hi = im.getextrema()
    assert hi - lo > 30                                         # a picture, not a blank frame


@needs_ffmpeg
@pytest.mark.parametrize("path", ["video/issue55.flv", "video/mp4-with-audio.mp4"])
def test_a_video_file_without_a_video_track_gets_no_poster_frame(path):
    f = CORPUS / path
    assert extract(f, mimes.by_content(f), ExtractOptions(thumbnail_px=128, ocr=False)).thumbnail == b""


def _red_then_green(out):
    """Ten seconds of video: red for the first half second, then green."""
    import subprocess
    subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-f", "lavfi", "-i",
                    "color=c=red:s=160x120:r=10:d=10", "-vf", "drawbox=c=green:t=fill:enable='gte(t,0.5)'",
                    "-c:v", "mpeg4", "-q:v", "2", str(out)], check=True, timeout=120)
    return out


@needs_ffmpeg
def test_the_poster_frame_is_taken_a_tenth_into_the_video_not_its_first_frame(tmp_path):
    from dangan.plugins.builtin.extractors.thumbnail import poster_seconds
    f = _red_then_green(tmp_path / "lead-in.mkv")
    result = extract(f, mimes.by_content(f), ExtractOptions(thumbnail_px=64, ocr=False))
    assert poster_seconds(result.metadata["duration"]) == pytest.approx(1.0, abs=0.05)
    r, g, b = _png(result.thumbnail).convert("RGB").resize((1, 1)).getpixel((0, 0))
    assert g > 100 and r < 60                                   # the green part, past the red lead-in


@needs_ffmpeg
def test_a_damaged_video_gets_no_poster_frame_and_is_still_characterised(tmp_path):
    data = (CORPUS / "video/sample.mkv").read_bytes()
    f = tmp_path / "cut.mkv"
    f.write_bytes(data[:600])                                   # the header only: no frame to decode
    result = extract(f, "video/x-matroska", ExtractOptions(thumbnail_px=64, ocr=False))
    assert result.thumbnail == b"" and result.status != "failed"


@needs_ffmpeg
def test_ingest_stores_a_video_poster_frame_but_a_sealed_video_keeps_none(cli, archive_root, tmp_path, monkeypatch):
    out = json.loads(cli("ingest", CORPUS / "video/sample.mkv", "--json").output.splitlines()[0])
    files = _stored(archive_root, out["record_id"])
    assert max(_png(files[thumbnail_path("sample.mkv")]).size) == 256
    monkeypatch.setenv("DANGAN_PASSPHRASE", "correct horse battery staple")
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "run"))
    cli("volume", "create", "SEALED", "--secrecy", "秘密")
    video = tmp_path / "会议录像.mp4"
    shutil.copyfile(CORPUS / "video/sample.mp4", video)
    sealed = json.loads(cli("ingest", video, "--volume", "SEALED", "--json").output.splitlines()[0])["record_id"]
    stored = _stored(archive_root, sealed)
    assert not any(p.startswith(".dangan/thumbnails/") for p in stored), sorted(stored)
    assert all(b"\x89PNG" not in data for data in stored.values())    # no poster frame under another name either
