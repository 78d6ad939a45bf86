"""Drop folders: where they are, what their files become, which files are taken.

A drop folder comes from the command line (``dangan watch DIR --category WS``)
or from a ``[[watch.folders]]`` table in ``dangan.toml``::

    [watch]
    settle_seconds = 1.0          # a file must keep its size and mtime this long
    rescan_seconds = 60           # a full scan catches events that were missed
    poll = false                  # polling instead of inotify (network shares)
    duplicates = "skip"           # skip | quarantine | archive
    after = "done"                # done | delete

    [[watch.folders]]
    path = "/srv/scans"
    department = "BGS"
    category = "WS"
    retention = "permanent"
    tags = ["scan"]
    pattern = "{year}/{category}/"          # scans/2024/WS/x.pdf → year 2024, category WS
    values.category = { "合同" = "HT" }     # a folder name → the code it stands for
    include = ["*.pdf", "*.tif"]
    exclude = ["*-draft.*"]

A folder table may also set ``settle_seconds``, ``duplicates``, ``after``,
``done_dir`` and ``poll``.  Files that are never taken, whatever the
configuration: ``*.part``, ``*.tmp``, ``~$*``, ``.DS_Store``, ``Thumbs.db``,
dot-files and dot-folders, and the folders ``done/`` and ``quarantine/``.
"""
from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from dangan.errors import UsageError
from dangan.core.catalogue.fields import RecordFields

if TYPE_CHECKING:
    from dangan.core.archive import Archive

ALWAYS_IGNORED = ("*.part", "*.tmp", "~$*", ".DS_Store", "Thumbs.db", ".*")
RESERVED_DIRS = ("done", "quarantine")
DUPLICATE_MODES = ("skip", "quarantine", "archive")
AFTER_MODES = ("done", "delete")
FIELDS = ("department", "category", "year", "date", "retention", "secrecy", "volume")
_PLACEHOLDER = re.compile(r"\{(\w+)\}")


@dataclass(frozen=True)
class DropFolder:
    path: Path
    defaults: RecordFields = field(default_factory=RecordFields)
    pattern: str = ""
    values: dict[str, dict[str, str]] = field(default_factory=dict)     # field → {folder name: value}
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    duplicates: str = "skip"
    after: str = "done"
    done_dir: Path | None = None
    settle_seconds: float = 1.0
    poll: bool = False
    confidential: bool = False        # set by the watcher from the volume / secrecy; never log names then

    @property
    def done(self) -> Path:
        return self.done_dir or self.path / "done"

    @property
    def quarantine(self) -> Path:
        return self.path / "quarantine"

    def relative(self, path: Path) -> PurePosixPath:
        return PurePosixPath(Path(path).relative_to(self.path).as_posix())

    def takes(self, path: Path) -> bool:
        """Whether a file under this folder is one to archive (by name only)."""
        try:
            rel = self.relative(path)
        except ValueError:
            return False
        parts = rel.parts
        if not parts or parts[0] in RESERVED_DIRS or (self.done_dir and _inside(path, self.done_dir)):
            return False
        if any(p.startswith(".") for p in parts):
            return False
        name = parts[-1]
        if any(fnmatch.fnmatchcase(name, pat) for pat in ALWAYS_IGNORED):
            return False
        if name.endswith(".error.txt") and parts[0] == "quarantine":
            return False
        rel_s = str(rel)
        if self.include and not any(fnmatch.fnmatchcase(name, p) or fnmatch.fnmatchcase(rel_s, p)
                                    for p in self.include):
            return False
        return not any(fnmatch.fnmatchcase(name, p) or fnmatch.fnmatchcase(rel_s, p) for p in self.exclude)

    def takes_dir(self, path: Path) -> bool:
        """Whether to look inside a sub-folder (dot-folders, done/ and quarantine/ are skipped)."""
        try:
            rel = self.relative(path)
        except ValueError:
            return False
        if self.done_dir and _inside(path, self.done_dir):
            return False
        return not (rel.parts and (rel.parts[0] in RESERVED_DIRS or any(p.startswith(".") for p in rel.parts)))

    def fields_for(self, path: Path) -> RecordFields:
        """The folder's defaults, overridden by what the sub-folder pattern reads from the file's path."""
        found = match_pattern(self.pattern, self.relative(path).parent) if self.pattern else {}
        f = replace(self.defaults, tags=list(self.defaults.tags), metadata=dict(self.defaults.metadata))
        for name, value in found.items():
            value = self.values.get(name, {}).get(value, value)
            if name == "year":
                f.year = int(value)
            elif name == "tag":
                f.tags.append(value)
            elif name in FIELDS:
                setattr(f, name, value)
            else:
                f.metadata[name] = value
        return f


def _inside(path: Path, folder: Path) -> bool:
    return Path(path).is_relative_to(folder)


def compile_pattern(pattern: str) -> re.Pattern:
    """``{year}/{category}/`` → a regex matching the leading folders of a relative path."""
    out, pos = "", 0
    for m in _PLACEHOLDER.finditer(pattern):
        out += re.escape(pattern[pos:m.start()])
        name = m.group(1)
        out += r"(?P<year>\d{4})" if name == "year" else (r"[^/]+" if name == "_" else rf"(?P<{name}>[^/]+)")
        pos = m.end()
    out += re.escape(pattern[pos:].rstrip("/"))
    return re.compile(out + r"(?:/|$)")


def match_pattern(pattern: str, rel_dir: PurePosixPath) -> dict[str, str]:
    rel = "" if str(rel_dir) == "." else str(rel_dir)
    m = compile_pattern(pattern).match(rel + "/" if rel else "")
    return {k: v for k, v in (m.groupdict() if m else {}).items() if v}


def _fields(table: dict[str, Any], base: RecordFields | None = None) -> RecordFields:
    base = base or RecordFields()
    given = {k: table[k] for k in FIELDS if table.get(k) is not None}
    if "year" in given:
        given["year"] = int(given["year"])
    tags = list(base.tags) + [str(t) for t in table.get("tags", [])]
    meta = {**base.metadata, **{str(k): str(v) for k, v in table.get("metadata", {}).items()}}
    return replace(base, **given, tags=tags, metadata=meta).normalised()


def _choice(value: Any, allowed: tuple[str, ...], what: str) -> str:
    v = str(value)
    if v not in allowed:
        raise UsageError(f"{what} must be one of {', '.join(allowed)}, not {v!r}")
    return v


def folder_from_table(table: dict[str, Any], watch: dict[str, Any], root: Path) -> DropFolder:
    if "path" not in table:
        raise UsageError("dangan.toml: every [[watch.folders]] needs a path")
    path = Path(str(table["path"])).expanduser()
    if not path.is_absolute():
        path = root / path
    merged: dict[str, Any] = {**{k: watch[k] for k in ("settle_seconds", "duplicates", "after", "poll") if k in watch},
                              **table}
    unknown = set(table) - {*FIELDS, "path", "tags", "metadata", "pattern", "values", "include", "exclude",
                            "duplicates", "after", "done_dir", "settle_seconds", "poll"}
    if unknown:
        raise UsageError(f"dangan.toml: [[watch.folders]] {path}: unknown keys {', '.join(sorted(unknown))}")
    return DropFolder(
        path=path.resolve(), defaults=_fields(table), pattern=str(table.get("pattern", "")),
        values={str(k): {str(a): str(b) for a, b in v.items()} for k, v in table.get("values", {}).items()},
        include=tuple(table.get("include", ())), exclude=tuple(table.get("exclude", ())),
        duplicates=_choice(merged.get("duplicates", "skip"), DUPLICATE_MODES, "duplicates"),
        after=_choice(merged.get("after", "done"), AFTER_MODES, "after"),
        done_dir=Path(str(table["done_dir"])).expanduser().resolve() if table.get("done_dir") else None,
        settle_seconds=float(merged.get("settle_seconds", 1.0)), poll=bool(merged.get("poll", False)))


def refuse_unsafe_folders(archive: Archive, folders: list[DropFolder]) -> None:
    """Refuse a drop folder (or done folder) that is inside the archive, contains it, or contains its
    keystore or a backup repository: the watcher moves what it finds there into ``done/``."""
    from dangan.core.catalogue.volumes import keystore_path
    root = Path(archive.root).resolve()
    guarded = [("the archive", root, True)]
    try:
        guarded.append(("the archive's keystore", keystore_path(archive).expanduser().resolve(), False))
    except (OSError, RuntimeError, UsageError):
        pass
    for location in _backup_locations(archive):
        guarded.append(("a backup repository", location, False))
    for f in folders:
        for what, place in (("drop folder", f.path), ("done folder", f.done_dir)):
            if place is None:
                continue
            place = Path(place).resolve()
            for name, guarded_path, refuse_inside in guarded:
                if _inside(guarded_path, place) or (refuse_inside and _inside(place, guarded_path)):
                    relation = ("is" if place == guarded_path else "contains" if _inside(guarded_path, place)
                                else "is inside")
                    raise UsageError(f"{what} {place} {relation} {name} ({guarded_path}): refused, the watcher "
                                     f"would move its files away; choose a folder outside it")


def _backup_locations(archive: Archive) -> list[Path]:
    """Local backup repositories the archive knows: ``[backup] repo`` and those it has written to."""
    spots = [str((archive.config.raw.get("backup") or {}).get("repo") or "")]
    try:
        spots += [r[0] for r in archive.conn.execute("SELECT location FROM backup_repos")]
    except Exception:  # noqa: BLE001 - an older catalogue without the table: nothing known
        pass
    out = []
    for s in spots:
        s = s.removeprefix("file://")
        if not s or "://" in s:
            continue
        p = Path(s).expanduser()
        out.append((p if p.is_absolute() else Path(archive.root) / p).resolve())
    return out


def configured_folders(config, root: Path) -> list[DropFolder]:
    watch = config.raw.get("watch", {})
    return [folder_from_table(t, watch, root) for t in watch.get("folders", [])]


def watch_settings(config) -> dict[str, Any]:
    watch = config.raw.get("watch", {})
    return {"rescan_seconds": float(watch.get("rescan_seconds", 60)), "poll": bool(watch.get("poll", False))}


def cli_folders(paths: list[Path], defaults: RecordFields, **options: Any) -> list[DropFolder]:
    out = []
    for p in paths:
        p = Path(p).expanduser()
        if not p.is_dir():
            raise UsageError(f"drop folder {p} does not exist (or is not a folder)")
        opts = {k: v for k, v in options.items() if v is not None}
        if "duplicates" in opts:
            _choice(opts["duplicates"], DUPLICATE_MODES, "--duplicates")
        out.append(DropFolder(path=p.resolve(), defaults=defaults.normalised(), **opts))
    return out
