"""A Traditional Chinese scan is read with chi_tra: the default OCR languages are chi_sim+chi_tra+eng.

The scan is Traditional text rendered with a CJK font (fonts-wqy-microhei) by
Pillow, then ingested and OCR'd through dangan and searched.
"""
from __future__ import annotations

import json
import tomllib
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from dangan.model import ExtractOptions

FONT = "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"
LINES = ["般若波羅蜜多心經", "觀自在菩薩，行深般若波羅蜜多時，照見五蘊皆空，度一切苦厄。",
         "舍利子，色不異空，空不異色，色即是空，空即是色。", "檔案管理制度第一條：本公司檔案由辦公室統一管理。"]


def _scan(path: Path) -> Path:
    font = ImageFont.truetype(FONT, 40)
    image = Image.new("L", (1400, 500), 255)
    draw = ImageDraw.Draw(image)
    for i, line in enumerate(LINES):
        draw.text((60, 60 + i * 80), line, font=font, fill=0)
    image.save(path, dpi=(300, 300))
    return path


def test_the_default_ocr_languages_include_traditional_chinese(archive_root):
    assert ExtractOptions().ocr_languages == "chi_sim+chi_tra+eng"
    config = tomllib.loads((archive_root / "dangan.toml").read_text(encoding="utf-8"))
    assert config["extraction"]["ocr_languages"] == "chi_sim+chi_tra+eng"
    from dangan.core.kernel.config import Config
    assert Config.load(archive_root).ocr_languages == "chi_sim+chi_tra+eng"


def test_a_traditional_scan_is_found_by_its_traditional_words(cli, tmp_path):
    scan = _scan(tmp_path / "心經掃描.png")
    rid = json.loads(cli("ingest", "--json", scan).stdout)["record_id"]
    text = json.loads(cli("show", "--json", rid).stdout)["extraction"]
    assert text["status"] == "ok", text
    for query in ("觀自在", "觀自在菩薩", "色不異空", "辦公室"):
        hits = [json.loads(line)["record_id"] for line in cli("search", "--json", query).stdout.splitlines()]
        assert hits == [rid], query
