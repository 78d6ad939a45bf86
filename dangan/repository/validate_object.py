"""Validation of one OCFL object: its root, version directories, the agreement
of every inventory copy with the root inventory, and its content on disk.

The inventory's own structure is checked in ``validate_inventory``; here are
the rules that need the file system or more than one inventory.
"""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Callable

from .validate_digest import CONTENT_ALGORITHMS, bytes_digest, file_digests
from .validate_history import compare_with_root
from .validate_inventory import Inventory, shorten, parse_inventory, version_number
from .validate_report import Collector, ValidationReport

#: ``digest_cache(path, algorithm)`` may return a digest already known for
#: ``path`` (an absolute path) to be trusted instead of reading the file, or
#: None to have it computed.
DigestCache = Callable[[Path, str], "str | None"]

INVENTORY = "inventory.json"
_DECLARATION = re.compile(r"0=ocfl_object_([0-9]+\.[0-9]+)")
_SIDECAR = re.compile(r"([0-9a-fA-F]+)[ \t]+inventory\.json[ \t]*(?:\r?\n)?")
SPEC_VERSIONS = ("1.0", "1.1")
#: Community extensions registered at https://ocfl.github.io/extensions/.
REGISTERED_EXTENSIONS = frozenset({
    "0001-digest-algorithms",
    "0002-flat-direct-storage-layout",
    "0003-hash-and-id-n-tuple-storage-layout",
    "0004-hashed-n-tuple-storage-layout",
    "0005-mutable-head",
    "0006-flat-omit-prefix-storage-layout",
    "0007-n-tuple-omit-prefix-storage-layout",
    "0008-schema-registry",
})


def _spec_key(spec: str) -> tuple[int, ...]:
    return tuple(int(x) for x in spec.split("."))


class _Claim:
    """One digest an inventory states for one content path, to be recomputed."""

    __slots__ = ("algorithm", "digest", "source", "code")

    def __init__(self, algorithm: str, digest: str, source: str, code: str) -> None:
        self.algorithm, self.digest, self.source, self.code = algorithm, digest, source, code


class ObjectCheck:
    def __init__(
        self,
        root: str | os.PathLike[str],
        *,
        expected_id: str | None,
        check_digests: bool,
        digest_cache: DigestCache | None,
    ) -> None:
        self.root = os.fspath(root)
        self.expected_id = expected_id
        self.check_digests = check_digests
        self.digest_cache = digest_cache
        self.log = Collector()
        self.spec: str | None = None  # from the declaration
        self.inv: Inventory | None = None  # the root inventory
        self.disk_files: set[str] = set()  # files found in content directories
        # content path -> {(algorithm, digest lower-cased): claim}
        self.claims: dict[str, dict[tuple[str, str], _Claim]] = {}

    # -- entry point ------------------------------------------------------
    def run(self) -> ValidationReport:
        log = self.log
        try:
            entries = {e.name: e for e in os.scandir(self.root)}
        except (FileNotFoundError, NotADirectoryError):
            log.error("E003", f"no OCFL object here: '{self.root}' is not a directory")
            return log.report
        except OSError as exc:
            log.error("E003", f"cannot read the object root '{self.root}': {exc.strerror}")
            return log.report
        decl = self._check_declaration(entries)
        inv = self._read_root_inventory(entries)
        self._check_root_entries(entries, decl, inv)
        if inv is not None:
            self._check_versions(entries, inv)
            self._check_content(inv)
        return log.report

    # -- object root ------------------------------------------------------
    def _check_declaration(self, entries: dict[str, os.DirEntry[str]]) -> str | None:
        log = self.log
        decls = sorted(n for n in entries if n.startswith("0="))
        if not decls:
            log.error("E003", "the object root has no declaration file '0=ocfl_object_1.1'")
            return None
        if len(decls) > 1:
            log.error("E003", f"the object root has more than one declaration file: {', '.join(decls)}")
        name = decls[0]
        m = _DECLARATION.fullmatch(name)
        if not m:
            log.error("E006", f"declaration file '{name}' is not named 0=ocfl_object_ followed by a version", name)
            return name
        if m.group(1) not in SPEC_VERSIONS:
            log.error("E004", f"declaration file '{name}' names an unknown OCFL version {m.group(1)}", name)
        else:
            self.spec = m.group(1)
        try:
            with open(os.path.join(self.root, name), "rb") as fh:
                text = fh.read(200)
        except OSError as exc:
            log.error("E007", f"cannot read declaration file '{name}': {exc.strerror}", name)
            return name
        if text != name[2:].encode() + b"\n":
            log.error("E007", f"declaration file '{name}' must contain exactly '{name[2:]}' and a newline", name)
        return name

    def _read_root_inventory(self, entries: dict[str, os.DirEntry[str]]) -> Inventory | None:
        log = self.log
        entry = entries.get(INVENTORY)
        if entry is None or not entry.is_file(follow_symlinks=False):
            log.error("E063", "the object root has no inventory.json", INVENTORY)
            return None
        raw = self._read(INVENTORY, "E063")
        if raw is None:
            return None
        inv = parse_inventory(raw, "root inventory", INVENTORY, log)
        self._check_sidecar("", set(entries), raw, inv.algorithm if inv else None, "root inventory")
        if inv is None:
            return None
        if self.spec and inv.spec and inv.spec != self.spec:
            log.error("E038", f"root inventory type is OCFL {inv.spec} but the declaration says {self.spec}", INVENTORY)
        if self.expected_id is not None and inv.id is not None and inv.id != self.expected_id:
            log.error("E083", f"root inventory id '{shorten(inv.id)}' is not the expected id '{shorten(self.expected_id)}'", INVENTORY)
        self.inv = inv
        return inv

    def _read(self, rel: str, code: str) -> bytes | None:
        try:
            with open(os.path.join(self.root, rel), "rb") as fh:
                return fh.read()
        except OSError as exc:
            self.log.error(code, f"cannot read '{rel}': {exc.strerror}", rel)
            return None

    def _check_sidecar(self, rel_dir: str, names: set[str], raw: bytes, algorithm: str | None, where: str) -> None:
        """The sidecar inventory.json.<algorithm> holds '<digest> inventory.json'."""
        log = self.log
        if algorithm is None:  # unknown algorithm: judge by whichever usable sidecar is there
            found = [a for a in CONTENT_ALGORITHMS if f"{INVENTORY}.{a}" in names]
            if not found:
                return  # E025 or E033 already says why the inventory is unusable
            algorithm = found[0]
        name = f"{INVENTORY}.{algorithm}"
        rel = f"{rel_dir}{name}"
        if rel_dir:  # in the object root, E001 covers other files
            for other in sorted(n for n in names if n.startswith(INVENTORY + ".") and n != name):
                log.error("E015", f"unexpected file '{rel_dir}{other}': {where} uses {algorithm}", f"{rel_dir}{other}")
        if name not in names:
            log.error("E058", f"{where} has no sidecar '{rel}'", rel)
            return
        text = self._read(rel, "E058")
        if text is None:
            return
        m = _SIDECAR.fullmatch(text.decode("utf-8", "replace"))
        if not m:
            log.error("E061", f"sidecar '{rel}' is not '<digest> inventory.json'", rel)
            return
        actual = bytes_digest(algorithm, raw)
        if m.group(1).lower() != actual:
            log.error("E060", f"sidecar '{rel}' gives {m.group(1)} but {rel_dir}inventory.json has {algorithm} {actual}", rel)

    def _check_root_entries(
        self, entries: dict[str, os.DirEntry[str]], decl: str | None, inv: Inventory | None
    ) -> None:
        log = self.log
        versions = set(inv.versions) if inv else None
        sidecar = f"{INVENTORY}.{inv.algorithm}" if inv and inv.algorithm else None
        for name in sorted(entries):
            entry = entries[name]
            if name in (decl, INVENTORY) or name == sidecar or name.startswith("0="):
                continue  # the declaration(s) and inventory were checked above
            if sidecar is None and name in (f"{INVENTORY}.{a}" for a in CONTENT_ALGORITHMS):
                continue
            if entry.is_symlink():
                log.error("E090", f"'{name}' in the object root is a symbolic link", name)
                continue
            is_dir = entry.is_dir(follow_symlinks=False)
            if is_dir and name == "logs":
                continue
            if is_dir and name == "extensions":
                self._check_extensions()
                continue
            if is_dir and version_number(name) is not None:
                if versions is None or name in versions:
                    continue
                log.error("E046", f"directory '{name}' looks like a version but the root inventory does not list it", name)
                continue
            kind = "directory" if is_dir else "file"
            log.error("E001", f"unexpected {kind} '{name}' in the object root", name)
        numbers = sorted(n for name, e in entries.items() if (n := version_number(name)) and e.is_dir(follow_symlinks=False))
        gaps = sorted(set(range(1, numbers[-1] + 1)) - set(numbers)) if numbers else []
        if gaps:
            log.error("E010", f"version directories are not continuous: {', '.join(f'v{n}' for n in gaps)} missing")

    def _check_extensions(self) -> None:
        log = self.log
        for entry in sorted(os.scandir(os.path.join(self.root, "extensions")), key=lambda e: e.name):
            rel = f"extensions/{entry.name}"
            if not entry.is_dir(follow_symlinks=False):
                log.error("E067", f"'{rel}' is not an extension directory", rel)
            elif entry.name not in REGISTERED_EXTENSIONS:
                log.warn("W013", f"extension directory '{rel}' is not a registered extension", rel)

    # -- version directories ------------------------------------------------
    def _check_versions(self, entries: dict[str, os.DirEntry[str]], inv: Inventory) -> None:
        log = self.log
        specs: list[tuple[str, str]] = []  # (version, spec) in version order
        for name in inv.versions:
            entry = entries.get(name)
            if entry is None or not entry.is_dir(follow_symlinks=False):
                log.error("E046", f"root inventory lists version {name} but there is no directory '{name}'", name)
                continue
            vinv_raw = self._scan_version_dir(name, inv)
            if vinv_raw is None:
                continue
            if name == inv.versions[-1] and vinv_raw != inv.raw:
                log.error("E064", f"{name}/inventory.json is not identical to the root inventory.json (its latest version)", f"{name}/inventory.json")
            if vinv_raw == inv.raw:
                self._check_sidecar(f"{name}/", self._names(name), vinv_raw, inv.algorithm, f"{name} inventory")
                if name != inv.versions[-1]:
                    log.error("E040", f"{name}/inventory.json has head {inv.head}, not {name}", f"{name}/inventory.json")
                if inv.spec:
                    specs.append((name, inv.spec))
                continue
            vinv = parse_inventory(vinv_raw, f"{name} inventory", f"{name}/inventory.json", log)
            self._check_sidecar(f"{name}/", self._names(name), vinv_raw, vinv.algorithm if vinv else None, f"{name} inventory")
            if vinv is None:
                continue
            if vinv.spec:
                specs.append((name, vinv.spec))
            compare_with_root(name, vinv, inv, log, self._claim, check_digests=self.check_digests)
        if inv.spec:
            specs.append(("root", inv.spec))
        for (a, sa), (b, sb) in zip(specs, specs[1:]):
            if _spec_key(sb) < _spec_key(sa):
                where = "the root inventory" if b == "root" else f"the {b} inventory"
                log.error("E103", f"{where} is OCFL {sb}, earlier than OCFL {sa} of the {a} inventory")

    def _names(self, version: str) -> set[str]:
        return set(os.listdir(os.path.join(self.root, version)))

    def _scan_version_dir(self, name: str, inv: Inventory) -> bytes | None:
        """Check the entries of one version directory, walk its content; return its inventory's bytes."""
        log = self.log
        has_inventory = False
        for entry in sorted(os.scandir(os.path.join(self.root, name)), key=lambda e: e.name):
            rel = f"{name}/{entry.name}"
            if entry.is_symlink():
                log.error("E090", f"'{rel}' is a symbolic link", rel)
            elif entry.is_dir():
                if entry.name == inv.content_dir:
                    files_before = len(self.disk_files)
                    self._walk_content(entry.path, rel)
                    if len(self.disk_files) == files_before:
                        log.warn("W003", f"content directory '{rel}' holds no file", rel)
                else:
                    log.warn("W002", f"version directory {name} holds '{entry.name}', which is not its content directory", rel)
            elif entry.name == INVENTORY:
                has_inventory = True
            elif not entry.name.startswith(INVENTORY + "."):  # sidecars are judged with their inventory
                log.error("E015", f"unexpected file '{rel}' in version directory {name}", rel)
        if not has_inventory:
            log.warn("W010", f"version directory {name} has no inventory.json", name)
            return None
        return self._read(f"{name}/{INVENTORY}", "E063")

    def _walk_content(self, path: str, rel: str) -> None:
        """Collect the files of one content directory (iteratively: depth is no limit)."""
        stack = [(path, rel)]
        while stack:
            path, rel = stack.pop()
            empty = True
            for entry in os.scandir(path):
                empty = False
                sub = f"{rel}/{entry.name}"
                if entry.is_symlink():
                    self.log.error("E090", f"'{sub}' is a symbolic link", sub)
                elif entry.is_dir():
                    stack.append((entry.path, sub))
                else:
                    self.disk_files.add(sub)
            if empty:
                self.log.error("E024", f"content directory '{rel}' is empty", rel)

    # -- content ------------------------------------------------------------
    def _claim(self, cp: str, algorithm: str, digest: str, source: str, code: str) -> None:
        self.claims.setdefault(cp, {}).setdefault((algorithm, digest.lower()), _Claim(algorithm, digest, source, code))

    def _check_content(self, inv: Inventory) -> None:
        log = self.log
        for f in sorted(self.disk_files - inv.manifest.keys()):
            log.error("E023", f"file '{f}' is not in the root inventory manifest", f)
        content_roots = {f"{v}/{inv.content_dir}" for v in inv.versions}
        missing: set[str] = set()
        for cp in inv.manifest:
            if cp not in self.disk_files:
                missing.add(cp)
                if "/".join(cp.split("/", 2)[:2]) in content_roots:  # else E042 already said it
                    log.error("E092", f"root inventory manifest names '{shorten(cp)}', which does not exist", cp)
        for alg, entries in inv.fixity.items():
            for cp in entries.keys() & missing:
                log.error("E093", f"root inventory fixity {alg} names '{shorten(cp)}', which does not exist", cp)
        if not self.check_digests:
            return
        root_claims = self.claims
        self.claims = {}
        if inv.algorithm:
            for cp, digest in inv.manifest.items():
                self._claim(cp, inv.algorithm, digest, "the root inventory manifest", "E092")
        for alg, entries in inv.fixity.items():
            for cp, digest in entries.items():
                self._claim(cp, alg, digest, "the root inventory fixity block", "E093")
        for cp, claims in root_claims.items():  # root claims first, so messages name the root
            for key, claim in claims.items():
                self.claims.setdefault(cp, {}).setdefault(key, claim)
        for cp in sorted(self.claims.keys() & self.disk_files):
            self._verify(cp, self.claims[cp])

    def _verify(self, cp: str, claims: dict[tuple[str, str], _Claim]) -> None:
        log = self.log
        algorithms = {alg for alg, _ in claims}
        path = os.path.join(self.root, cp)
        actual: dict[str, str] = {}
        if self.digest_cache is not None:
            for alg in algorithms:
                known = self.digest_cache(Path(path), alg)
                if known:
                    actual[alg] = known.lower()
        todo = algorithms - actual.keys()
        if todo:
            try:
                actual.update(file_digests(path, todo))
            except OSError as exc:
                log.error("E092", f"cannot read '{cp}' to check its digest: {exc.strerror}", cp)
                return
        for (alg, digest), claim in claims.items():
            if actual[alg] != digest:
                log.error(claim.code, f"'{cp}' has {alg} {actual[alg]}, but {claim.source} gives {claim.digest}", cp)

