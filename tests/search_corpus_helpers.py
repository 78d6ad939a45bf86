"""Real text for index tests: the regulations (one document per article) and the UDHR's first
article in every language (one document per language)."""
from __future__ import annotations

import re

from conftest import CORPUS, REGULATIONS

UDHR = CORPUS / "text" / "UDHR_first_article_all.txt"
ARTICLE = re.compile(r"^\s*第[一二三四五六七八九十百零〇]+條", re.M)



def articles() -> list[str]:
    text = REGULATIONS.read_text(encoding="utf-8", errors="replace")
    starts = [m.start() for m in ARTICLE.finditer(text)]
    bounds = [0, *starts, len(text)]
    return [text[a:b].strip() for a, b in zip(bounds, bounds[1:]) if text[a:b].strip()]


def udhr_blocks() -> list[str]:
    text = UDHR.read_text(encoding="utf-8")
    return [b.strip() for b in re.split(r"\n\s*\n", text) if b.strip()]
