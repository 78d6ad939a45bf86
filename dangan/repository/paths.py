"""Logical paths inside an OCFL object: validation and safe naming.

A logical path can never escape its object: no empty, ``.`` or ``..``
segments, no leading or trailing ``/``, no NUL, and no path that is also the
"directory" of another path in the same version.
"""
from __future__ import annotations

from ..errors import UsageError


def check_logical_path(path: str) -> str:
    if not path or path.startswith("/") or path.endswith("/"):
        raise UsageError(f"invalid logical path {path!r}: must be relative, without leading or trailing '/'")
    if "\x00" in path:
        raise UsageError(f"invalid logical path {path!r}: contains NUL")
    for seg in path.split("/"):
        if seg in ("", ".", ".."):
            raise UsageError(f"invalid logical path {path!r}: empty, '.' or '..' segment")
    return path


def check_no_conflicts(paths: list[str]) -> None:
    """No logical path may be a directory prefix of another (OCFL E095)."""
    seen = set(paths)
    for p in paths:
        parts = p.split("/")
        for i in range(1, len(parts)):
            prefix = "/".join(parts[:i])
            if prefix in seen:
                raise UsageError(f"logical path {p!r} conflicts with file {prefix!r}")


def safe_name(name: str) -> str:
    """A single path segment from a user-supplied file name.

    Only the last component is kept (so ``../x`` or ``/etc/passwd`` become
    ``x`` and ``passwd``); control characters are kept as they are (they are
    legal in file names and stored faithfully), but a name that is empty,
    ``.`` or ``..`` becomes ``_``.
    """
    base = name.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1]
    base = base.replace("\x00", "")
    if base in ("", ".", ".."):
        base = "_"
    return base


def unique_name(name: str, taken: set[str]) -> str:
    """``name``, or ``stem (2).ext`` ... if it is already taken."""
    if name not in taken:
        return name
    stem, dot, ext = name.rpartition(".")
    if not dot or not stem:
        stem, ext, dot = name, "", ""
    n = 2
    while True:
        candidate = f"{stem} ({n}){dot}{ext}"
        if candidate not in taken:
            return candidate
        n += 1
