"""Is a page's text mojibake?  Text from a font decoded without its character map.

A PDF font whose codes map to Unicode only through a predefined CJK CMap
(poppler-data's, missing on a bare Debian) decodes to characters chosen by
accident: generic combining marks (``͍͋͏͓͑``), unassigned and private-use code
points, IPA letters, Hangul syllables outside everyday use, and a different
script at almost every character.  Real text, in any language, has few of
those: a script changes at word boundaries, not between two letters.

``mojibake_score`` is the share of the page's letters that are suspicious
(one of the above) or start a change of script; ``looks_like_mojibake`` says
whether that share dominates the page.  Scripts that Chinese and Japanese mix
(Han, kana, bopomofo, full-width forms) count as one.
"""
from __future__ import annotations

import unicodedata

THRESHOLD = 0.3          # a page with a higher score is not recorded as text
_MIN_LETTERS = 4         # too short a string to judge

_GENERIC_MARKS = ((0x0300, 0x036F), (0x1AB0, 0x1AFF), (0x1DC0, 0x1DFF), (0x20D0, 0x20FF), (0xFE20, 0xFE2F))
_IMPROBABLE = ((0x0250, 0x02FF),     # IPA extensions, spacing modifier letters
               (0x0370, 0x0373),     # archaic Greek letters
               (0x0376, 0x0377),
               (0xA960, 0xA97F),     # Hangul Jamo extended
               (0xD7B0, 0xD7FF))
_EAST_ASIAN = {"CJK", "HIRAGANA", "KATAKANA", "BOPOMOFO", "IDEOGRAPHIC", "FULLWIDTH", "HALFWIDTH",
               "KANGXI", "VERTICAL"}


def _in(o: int, ranges) -> bool:
    return any(lo <= o <= hi for lo, hi in ranges)


def _suspicious(c: str) -> bool:
    o = ord(c)
    if unicodedata.category(c) in ("Cn", "Co", "Cs", "Cc") or _in(o, _GENERIC_MARKS) or _in(o, _IMPROBABLE):
        return True
    if 0xAC00 <= o <= 0xD7A3:                        # a Hangul syllable outside KS X 1001's 2,350
        return len(c.encode("euc_kr")) != 2
    return False


def _script(c: str) -> str:
    name = unicodedata.name(c, "")
    word = name.split(" ", 1)[0]
    return "CJK" if word in _EAST_ASIAN else word


def mojibake_score(text: str) -> float:
    """Share of letters that are suspicious or switch script (0 clean … 1 garbage)."""
    text = unicodedata.normalize("NFC", text)
    letters = 0
    bad = 0
    previous = None
    for c in text:
        cat = unicodedata.category(c)
        suspicious = _suspicious(c) and not c.isspace()
        if not (suspicious or cat[0] in "LM"):
            previous = None if cat[0] == "Z" or c.isspace() else previous
            continue
        letters += 1
        script = _script(c)
        if suspicious:
            bad += 1
        elif cat[0] == "L" and previous is not None and script != previous:
            bad += 1
        if cat[0] == "L":
            previous = script
    return bad / letters if letters else 0.0


def looks_like_mojibake(text: str) -> bool:
    stripped = "".join(text.split())
    if len(stripped) < _MIN_LETTERS:
        return any(_suspicious(c) for c in stripped) and len(stripped) > 1 and \
            sum(_suspicious(c) for c in stripped) * 2 > len(stripped)
    return mojibake_score(text) > THRESHOLD
