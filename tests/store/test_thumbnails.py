"""Thumbnails as derivatives: images, PDF first pages (pdftoppm to a pipe), OFD first pages (drawn), none for
video or sealed records; `[extraction] thumbnail_px` sets the size (0: none)."""
from __future__ import annotations

import io
import json

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


@pytest.mark.parametrize("path,mime", [("video/sample.mp4", "video/mp4"), ("pdf-encrypted/encrypted.pdf",
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
