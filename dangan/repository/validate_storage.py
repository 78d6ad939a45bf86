"""Validation of an OCFL storage root: its declaration, ``ocfl_layout.json``,
extensions, the storage hierarchy, and every object found in it."""
from __future__ import annotations

import hashlib
import json
import os
import re

from .validate_object import REGISTERED_EXTENSIONS, ObjectCheck, _spec_key
from .validate_report import Collector, ValidationReport

_ROOT_DECLARATION = re.compile(r"0=ocfl_([0-9]+\.[0-9]+)")
_OBJECT_DECLARATION = re.compile(r"0=ocfl_object_([0-9]+\.[0-9]+)")
LAYOUT_FILE = "ocfl_layout.json"


def validate_storage_root(root: str | os.PathLike[str], *, check_digests: bool = True) -> dict[str, ValidationReport]:
    """Reports keyed by object root path relative to ``root`` (``/``-separated);
    the storage root's own report is under the key ``""`` and always present."""
    return _StorageCheck(os.fspath(root), check_digests).run()


class _StorageCheck:
    def __init__(self, root: str, check_digests: bool) -> None:
        self.root = root
        self.check_digests = check_digests
        self.log = Collector()
        self.reports: dict[str, ValidationReport] = {"": self.log.report}
        self.spec: str | None = None
        self.layout: str | None = None
        self.layout_config: dict = {}
        self.ids: dict[str, str] = {}
        self.depths: set[int] = set()

    def run(self) -> dict[str, ValidationReport]:
        log = self.log
        try:
            entries = {e.name: e for e in os.scandir(self.root)}
        except OSError as exc:
            log.error("E069", f"no OCFL storage root at '{self.root}': {exc.strerror}")
            return self.reports
        self._check_declaration(entries)
        if LAYOUT_FILE in entries:
            self._check_layout()
        if "extensions" in entries and entries["extensions"].is_dir(follow_symlinks=False):
            for entry in sorted(os.scandir(entries["extensions"].path), key=lambda e: e.name):
                rel = f"extensions/{entry.name}"
                if not entry.is_dir(follow_symlinks=False):
                    log.error("E112", f"'{rel}' is not an extension directory", rel)
                elif entry.name not in REGISTERED_EXTENSIONS:
                    log.warn("W016", f"storage root extension directory '{rel}' is not a registered extension", rel)
        for name in sorted(entries):
            entry = entries[name]
            if entry.is_symlink():
                log.error("E090", f"'{name}' in the storage root is a symbolic link", name)
            elif entry.is_dir() and name != "extensions":
                self._walk(entry.path, name, 1)
            # other files in the storage root are ignored, as the specification requires (E087)
        if len(self.depths) > 1 and 1 in self.depths:
            log.warn("W015", "the storage root mixes top-level objects and objects in a directory hierarchy")
        return dict(sorted(self.reports.items()))

    def _check_declaration(self, entries: dict[str, os.DirEntry[str]]) -> None:
        log = self.log
        decls = sorted(n for n in entries if n.startswith("0="))
        if not decls:
            log.error("E069", "the storage root has no declaration file '0=ocfl_1.1'")
            return
        if len(decls) > 1:
            log.error("E076", f"the storage root has more than one declaration file: {', '.join(decls)}")
        name = decls[0]
        m = _ROOT_DECLARATION.fullmatch(name)
        if not m or m.group(1) not in ("1.0", "1.1"):
            log.error("E079", f"storage root declaration '{name}' is not 0=ocfl_1.1 (or 0=ocfl_1.0)", name)
            return
        self.spec = m.group(1)
        try:
            with open(os.path.join(self.root, name), "rb") as fh:
                text = fh.read(100)
        except OSError as exc:
            log.error("E080", f"cannot read storage root declaration '{name}': {exc.strerror}", name)
            return
        if text != name[2:].encode() + b"\n":
            log.error("E080", f"storage root declaration '{name}' must contain exactly '{name[2:]}' and a newline", name)

    def _check_layout(self) -> None:
        log = self.log
        try:
            with open(os.path.join(self.root, LAYOUT_FILE), "rb") as fh:
                layout = json.loads(fh.read())
        except (OSError, ValueError) as exc:
            log.error("E070", f"{LAYOUT_FILE} cannot be read as JSON: {exc}", LAYOUT_FILE)
            return
        if not isinstance(layout, dict) or not all(isinstance(layout.get(k), str) for k in ("extension", "description")):
            log.error("E070", f"{LAYOUT_FILE} must be an object with 'extension' and 'description' strings", LAYOUT_FILE)
            return
        self.layout = layout["extension"]
        config = os.path.join(self.root, "extensions", self.layout, "config.json")
        if os.path.isfile(config):
            try:
                with open(config, "rb") as fh:
                    loaded = json.loads(fh.read())
            except (OSError, ValueError) as exc:
                log.error("E071", f"layout configuration '{config}' cannot be read as JSON: {exc}", config)
                return
            if isinstance(loaded, dict):
                self.layout_config = loaded

    def _walk(self, path: str, rel: str, depth: int) -> None:
        """Descend the storage hierarchy (iteratively) down to each object root."""
        log = self.log
        stack = [(path, rel, depth)]
        while stack:
            path, rel, depth = stack.pop()
            entries = sorted(os.scandir(path), key=lambda e: e.name)
            if not entries:
                log.error("E073", f"empty directory '{rel}' in the storage hierarchy", rel)
                continue
            decls = [e.name for e in entries if e.name.startswith("0=ocfl_object_")]
            if decls:
                self._object(path, rel, depth, decls[0])
                continue
            for entry in reversed(entries):  # popped in name order
                sub = f"{rel}/{entry.name}"
                if entry.is_symlink():
                    log.error("E090", f"'{sub}' is a symbolic link", sub)
                elif entry.is_dir():
                    stack.append((entry.path, sub, depth + 1))
                else:
                    log.error("E084", f"file '{sub}' in the storage hierarchy is not inside an object", sub)

    def _object(self, path: str, rel: str, depth: int, decl: str) -> None:
        self.depths.add(depth)
        check = ObjectCheck(path, expected_id=None, check_digests=self.check_digests, digest_cache=None)
        report = check.run()
        self.reports[rel] = report
        m = _OBJECT_DECLARATION.fullmatch(decl)
        if m and self.spec and _spec_key(m.group(1)) > _spec_key(self.spec):
            check.log.error("E081", f"object declares OCFL {m.group(1)}, later than the storage root's {self.spec}", decl)
        ident = check.inv.id if check.inv else None
        if ident is None:
            return
        if ident in self.ids:
            check.log.error("E037", f"object id '{ident}' is also the id of the object at '{self.ids[ident]}'")
        else:
            self.ids[ident] = rel
        expected = self._layout_path(ident)
        if expected is not None and expected != rel:
            check.log.error("E083", f"layout {self.layout} puts id '{ident}' at '{expected}', not here", "")

    def _layout_path(self, ident: str) -> str | None:
        """Where the declared layout puts ``ident``; None for layouts not checked here."""
        if self.layout == "0002-flat-direct-storage-layout":
            return ident
        if self.layout != "0004-hashed-n-tuple-storage-layout":
            return None
        cfg = self.layout_config
        try:
            alg = str(cfg.get("digestAlgorithm", "sha256"))
            size, count = int(cfg.get("tupleSize", 3)), int(cfg.get("numberOfTuples", 3))
            digest = hashlib.new(alg, ident.encode("utf-8")).hexdigest()
        except (ValueError, TypeError):
            return None
        tuples = [digest[i * size:(i + 1) * size] for i in range(count)]
        last = digest[count * size:] if cfg.get("shortObjectRoot", False) else digest
        return "/".join([*tuples, last]) if size and count else digest
