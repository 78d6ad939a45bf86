"""Issue 18.1, "a damaged or unreadable page never stops the batch": a batch scan with one corrupt page among
good ones is still split at its separator sheets, the page is named in the batch record
(``scan.unreadable_pages``) when it cannot be decoded, and nothing is lost: the batch record holds the
original file byte for byte, and every other page is in a part."""
from __future__ import annotations

import io
import json
import re

from pypdf import PdfReader

from scan_helpers import scanned_pdf, scanned_tiff, three_documents
from watch_helpers import sha512

FIELDS = ("--category", "WS", "--dept", "BGS", "--retention", "permanent", "--date", "2021-03-04")


def _pdfa_off(root):
    with open(root / "dangan.toml", "a", encoding="utf-8") as f:
        f.write('\n[pdfa]\nenabled = "off"\n')          # about splitting: spare the PDF/A runs


def _show(cli, rid):
    return json.loads(cli("show", rid, "--json").output)


def _content(cli, tmp_path, rid) -> bytes:
    out = tmp_path / "got" / rid
    cli("get", rid, "-o", str(out))
    (f,) = [p for p in out.rglob("*") if p.is_file()]
    return f.read_bytes()


def _corrupt_tiff_frame(path, frame: int) -> None:
    """Overwrite the deflate data of one frame's first strip (its header stays: the file still opens)."""
    from PIL import Image
    with Image.open(path) as im:
        im.seek(frame)
        offset, count = im.tag_v2[273][0], im.tag_v2[279][0]
    data = bytearray(path.read_bytes())
    data[offset + 16:offset + count] = b"\xff" * (count - 16)
    path.write_bytes(bytes(data))


def test_a_tiff_batch_with_an_undecodable_frame_is_split_and_names_the_page(archive_root, cli, tmp_path):
    _pdfa_off(archive_root)
    batch = scanned_tiff(three_documents(), tmp_path / "jammed.tif")
    _corrupt_tiff_frame(batch, 1)                        # page 2, inside the first document
    from PIL import Image
    with Image.open(batch) as im:
        im.seek(1)
        try:
            im.load()
            raise AssertionError("the frame was meant to be undecodable")
        except OSError:
            pass
    original = batch.read_bytes()
    r = cli("ingest", str(batch), *FIELDS, "--json", ok=False)
    lines = [json.loads(x) for x in r.output.splitlines()]
    head, parts = lines[0], lines[1:]
    assert head["status"] == "archived" and len(parts) == 3
    rec = _show(cli, head["record_id"])
    assert rec["metadata"]["scan.unreadable_pages"] == "2"       # named, not fatal
    assert rec["metadata"]["scan.separators"] == "3,5" and "batch-scan" in rec["tags"]
    assert rec["files"][0]["sha512"] == sha512(batch) and _content(cli, tmp_path, head["record_id"]) == original
    # the documents without the damaged page are archived as usual
    assert [p["status"] for p in parts[1:]] == ["archived", "archived"]
    assert [_show(cli, p["record_id"])["metadata"]["scan.pages"] for p in parts[1:]] == ["4", "6-7"]
    # the one holding it cannot be cut (Pillow cannot copy the frame): it is reported, with the batch record
    # that keeps its pages, and the run ends non-zero; nothing is lost
    first = parts[0]
    assert first["status"] != "archived" and head["record_id"] in first["message"] and "1-2" in first["message"]
    assert r.exit_code != 0
    cli("check")


def _corrupt_pdf_image(path, page: int) -> None:
    """Overwrite the middle of one page's image stream (Pillow writes one image per page, in page order)."""
    data = bytearray(path.read_bytes())
    images = [m.end() for m in re.finditer(rb"/Subtype\s*/Image.*?stream\r?\n", data, re.S)]
    start = images[page]
    data[start + 400:start + 6400] = b"\x00" * 6000
    path.write_bytes(bytes(data))


def test_a_pdf_batch_with_a_corrupt_image_stream_keeps_the_page_in_its_part(archive_root, cli, tmp_path):
    _pdfa_off(archive_root)
    batch = scanned_pdf(three_documents(), tmp_path / "batch.pdf")
    _corrupt_pdf_image(batch, 3)                         # page 4: the second document's only page
    original = batch.read_bytes()
    lines = [json.loads(x) for x in cli("ingest", str(batch), *FIELDS, "--json").output.splitlines()]
    head, parts = lines[0], lines[1:]
    assert head["status"] == "archived" and [p["status"] for p in parts] == ["archived"] * 3
    rec = _show(cli, head["record_id"])
    assert _content(cli, tmp_path, head["record_id"]) == original    # the batch record holds the original
    # PDFium renders a damaged image as far as it decodes (no error): the page is an ordinary page, kept in
    # its part, its bytes copied as they are; only a page PDFium cannot load is named as unreadable
    assert "scan.unreadable_pages" not in rec["metadata"]
    assert [_show(cli, p["record_id"])["metadata"]["scan.pages"] for p in parts] == ["1-2", "4", "6-7"]
    second = PdfReader(io.BytesIO(_content(cli, tmp_path, parts[1]["record_id"])))
    assert len(second.pages) == 1
    cli("check")
