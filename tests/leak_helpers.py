"""The marker grep: every encoding of a plaintext marker, searched for in every file under some folders."""
from __future__ import annotations

from pathlib import Path


def grep(marker: str, roots: list[Path]) -> list[str]:
    forms = {marker.encode("utf-8"), marker.encode("utf-16-le"), marker.encode("utf-16-be")}
    try:
        forms.add(marker.encode("gbk"))
    except UnicodeEncodeError:
        pass
    found = []
    for root in roots:
        for p in root.rglob("*") if root.is_dir() else [root]:
            if p.is_file() and not p.is_symlink():
                data = p.read_bytes()
                found += [f"{p}: {f!r}" for f in forms if f in data]
    return found
