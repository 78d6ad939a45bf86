"""Who may read the archive on disk: its owner only, or its owner and one group.

An archive is created private (folders 0700, files 0600) or, with ``dangan init --group G``, for a
group (folders 2750 with the set-group-id bit so everything made later belongs to G, files 0640):
the group may read (backups, auditors' tools), never write.  While dangan runs, the umask is set
from the archive root's own mode (:func:`apply_umask`, called once when an ``Archive`` is opened), so
everything written later has the same modes: store objects, staging folders, catalogue -wal/-shm,
index segments, lock files, and the copies dangan writes out (``get -o``, exports).  An archive open
to others (a world-readable store from before, a group-writable catalogue) is reported by
:func:`exposure_warnings`; the code that runs (``dangan.toml``, ``plugins/``) is checked more
strictly, and refused, by :mod:`.archive_trust`.
"""
from __future__ import annotations

import grp
import os
import stat
from pathlib import Path

from dangan.errors import UsageError

PRIVATE_UMASK = 0o077
GROUP_UMASK = 0o027
PRIVATE_DIR, GROUP_DIR = 0o700, 0o2750
#: What is checked for exposure (the data: what a local user could read or change).
DATA = ("store", ".work", "index", "catalogue.sqlite", "catalogue.sqlite-wal", "catalogue.sqlite-shm",
        "dangan.toml")


def umask_for(root: Path) -> int:
    """A group archive (root readable by its group) gives group read; any other archive is private."""
    try:
        mode = Path(root).stat().st_mode
    except OSError:
        return PRIVATE_UMASK
    return GROUP_UMASK if mode & stat.S_IRGRP else PRIVATE_UMASK


def apply_umask(root: Path) -> int:
    """Set the process umask for this archive (the one place it is set); returns it."""
    mask = umask_for(root)
    os.umask(mask)
    return mask


def group_id(name: str) -> int:
    try:
        return grp.getgrnam(name).gr_gid if not name.isdigit() else int(name)
    except KeyError:
        raise UsageError(f"no group named {name!r} (--group)") from None


def make_root(root: Path, group: str | None) -> None:
    """Create (or take, if new and empty) the archive folder with its final mode, and set the umask."""
    gid = group_id(group) if group else None
    os.umask(GROUP_UMASK if gid is not None else PRIVATE_UMASK)
    root.mkdir(parents=True, exist_ok=True)
    if gid is not None:
        try:
            os.chown(root, -1, gid)
        except PermissionError:
            raise UsageError(f"cannot give {root} to group {group}: you are not a member of it") from None
    os.chmod(root, GROUP_DIR if gid is not None else PRIVATE_DIR)


def exposure_warnings(root: Path) -> list[str]:
    """One warning if the archive's data can be read by every local user or changed by its group."""
    root = Path(root)
    found = []
    for name in ("", *DATA):
        path = root / name if name else root
        try:
            mode = stat.S_IMODE(path.stat().st_mode)
        except OSError:
            continue
        if mode & 0o007 or mode & stat.S_IWGRP:
            found.append(f"{name or '.'} ({mode:04o})")
    if not found:
        return []
    return [f"the archive {root} is open to other local users: {', '.join(found)}; "
            f"run `chmod -R go-rwx {root}` (or `chmod -R o-rwx,g-w {root}` for a group archive)"]
