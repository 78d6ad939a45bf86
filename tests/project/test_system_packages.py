"""README's system-package table and scripts/install-system-deps name the same Debian packages."""
from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent     # the repository


def test_every_package_the_script_installs_is_in_the_readme():
    script = (ROOT / "scripts" / "install-system-deps").read_text(encoding="utf-8")
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    installed = set(re.findall(r"need\+=\(([a-z0-9.+-]+)\)", script))
    assert {"ghostscript", "unpaper", "pngquant", "clamav", "clamav-daemon", "ffmpeg", "tesseract-ocr-chi-tra",
            "poppler-utils", "chromium"} <= installed
    named = set(re.findall(r"`([a-z0-9.+-]+)`", readme))
    assert sorted(installed - named) == []
