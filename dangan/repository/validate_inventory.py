"""Structural checks of one OCFL inventory (spec 1.1 section 3.5), on its own.

``parse_inventory`` reads the JSON, reports every rule of the inventory's
structure it breaks, and returns what a caller needs for the checks that span
several inventories and the files on disk.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from .validate_digest import CONTENT_ALGORITHMS, KNOWN_ALGORITHMS, well_formed
from .validate_report import Collector

SPEC_TYPES = {
    "https://ocfl.io/1.0/spec/#inventory": "1.0",
    "https://ocfl.io/1.1/spec/#inventory": "1.1",
}
_TOP_KEYS = {"id", "type", "digestAlgorithm", "head", "contentDirectory", "fixity", "manifest", "versions"}
_VERSION_KEYS = {"created", "state", "message", "user"}
VERSION_NAME = re.compile(r"v([0-9]+)")
URI = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:\S")
_CREATED = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt]([0-9]{2}):([0-9]{2})"
    r"(?::([0-9]{2})(\.[0-9]+)?)?([Zz]|[+-][0-9]{2}:[0-9]{2})?"
)


@dataclass
class Inventory:
    where: str  # "root inventory", "v2 inventory": the start of every message
    path: str  # the file, relative to the object root
    raw: bytes
    id: str | None = None
    spec: str | None = None  # "1.0" or "1.1", from the type
    algorithm: str | None = None  # None when missing or not sha512/sha256
    head: str | None = None
    content_dir: str = "content"
    content_dir_set: bool = False
    versions: list[str] = field(default_factory=list)  # valid names, in order
    blocks: dict[str, dict] = field(default_factory=dict)  # version name -> raw block
    states: dict[str, dict[str, str]] = field(default_factory=dict)  # version -> logical path -> digest
    manifest: dict[str, str] = field(default_factory=dict)  # content path -> digest
    digests: set[str] = field(default_factory=set)  # every manifest key, whatever its paths
    fixity: dict[str, dict[str, str]] = field(default_factory=dict)  # algorithm -> content path -> digest
    errors: int = 0  # errors found in this inventory alone


def version_number(name: str) -> int | None:
    m = VERSION_NAME.fullmatch(name)
    return int(m.group(1)) if m else None


def parse_inventory(raw: bytes, where: str, path: str, log: Collector) -> Inventory | None:
    """Check one inventory's structure; None when it is not a JSON object at all."""
    before = log.error_count
    dupes: list[str] = []

    def pairs(items: list[tuple[str, object]]) -> dict:
        d = dict(items)
        if len(d) != len(items):
            seen: set[str] = set()
            dupes.extend(k for k, _ in items if k in seen or seen.add(k))  # type: ignore[func-returns-value]
        return d

    try:
        data = json.loads(raw.decode("utf-8"), object_pairs_hook=pairs)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        log.error("E033", f"{where} is not valid UTF-8 JSON ({type(exc).__name__}: {exc})", path)
        return None
    if not isinstance(data, dict):
        log.error("E033", f"{where} is not a JSON object", path)
        return None
    for key in dupes:
        log.error("E033", f"{where} repeats the JSON key '{shorten(key)}'", path)
    inv = Inventory(where=where, path=path, raw=raw)
    _check_top(data, inv, log)
    versions = data.get("versions")
    if "versions" not in data:
        log.error("E041", f"{where} has no 'versions' block", path)
    elif not isinstance(versions, dict):
        log.error("E044", f"{where} 'versions' is not a JSON object", path)
    elif not versions:
        log.error("E008", f"{where} 'versions' is empty: an object has at least one version", path)
    else:
        inv.versions = _check_sequence(list(versions), inv, log)
    head = data.get("head")
    if isinstance(head, str) and inv.versions and head != inv.versions[-1]:
        log.error("E040", f"{where} head is '{shorten(head)}' but the latest version is '{inv.versions[-1]}'", path)
    _check_manifest(data, inv, log)
    if isinstance(versions, dict):
        for name in inv.versions:
            _check_version(name, versions[name], inv, log)
        used = {d for state in inv.states.values() for d in state.values()}
        for digest in sorted(inv.digests - used):
            log.error("E107", f"{where} manifest digest {shorten(digest)} is used by no version state", path)
    _check_fixity(data, inv, log)
    inv.errors = log.error_count - before
    return inv


def _warn(log: Collector, inv: Inventory, code: str, rest: str) -> None:
    """A warning about this inventory, given once per object however many copies repeat it."""
    log.warn(code, f"{inv.where} {rest}", inv.path, once=rest)


def shorten(value: object, limit: int = 140) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _check_top(data: dict, inv: Inventory, log: Collector) -> None:
    where, path = inv.where, inv.path
    for key in sorted(set(data) - _TOP_KEYS):
        log.error("E102", f"{where} has a key the specification does not define: '{shorten(key)}'", path)
    for key in ("id", "type", "digestAlgorithm", "head"):
        if key not in data:
            log.error("E036", f"{where} has no '{key}'", path)
    if "id" in data:
        ident = data["id"]
        if not isinstance(ident, str) or not ident:
            log.error("E037", f"{where} id is not a non-empty string: {shorten(ident)}", path)
        else:
            inv.id = ident
            if not URI.match(ident):
                _warn(log, inv, "W005", f"id '{shorten(ident)}' is not a URI")
    if "type" in data:
        inv.spec = SPEC_TYPES.get(data["type"]) if isinstance(data["type"], str) else None
        if inv.spec is None:
            log.error("E038", f"{where} type {shorten(data['type'])} is not an OCFL inventory type URI", path)
    if "digestAlgorithm" in data:
        alg = data["digestAlgorithm"]
        if alg in CONTENT_ALGORITHMS:
            inv.algorithm = alg
            if alg == "sha256":
                _warn(log, inv, "W004", "uses sha256; sha512 is recommended")
        else:
            log.error("E025", f"{where} digestAlgorithm {shorten(alg)} is neither sha512 nor sha256", path)
    if "head" in data:
        head = data["head"]
        if not isinstance(head, str):
            log.error("E040", f"{where} head is not a version name: {shorten(head)}", path)
        else:
            inv.head = head
    if "contentDirectory" in data:
        cd = data["contentDirectory"]
        if not isinstance(cd, str) or not cd or "/" in cd:
            log.error("E017", f"{where} contentDirectory {shorten(cd)} must be a name without '/'", path)
        elif cd in (".", ".."):
            log.error("E018", f"{where} contentDirectory must not be '.' or '..'", path)
        else:
            inv.content_dir, inv.content_dir_set = cd, True


def _check_sequence(names: list[str], inv: Inventory, log: Collector) -> list[str]:
    """Version names v1..vN, continuous, one padding convention; returns the valid names in order."""
    where, path = inv.where, inv.path
    numbered: list[tuple[int, str]] = []
    for name in names:
        n = version_number(name)
        if n is None:
            log.error("E104", f"{where} version '{shorten(name)}' is not 'v' followed by a number", path)
        elif n == 0:
            log.error("E105", f"{where} version '{name}': version numbers start at 1", path)
        else:
            numbered.append((n, name))
    numbered.sort()
    numbers = [n for n, _ in numbered]
    if len(set(numbers)) != len(numbers):
        log.error("E012", f"{where} names one version number twice: {', '.join(v for _, v in numbered)}", path)
    if numbers and numbers[0] != 1:
        log.error("E009", f"{where} versions do not start at v1 (first is {numbered[0][1]})", path)
    missing = sorted(set(range(1, numbers[-1] + 1)) - set(numbers)) if numbers else []
    if missing and numbers[0] == 1:
        log.error("E010", f"{where} version sequence skips {', '.join(f'v{n}' for n in missing)}", path)
    ordered = [name for _, name in numbered]
    if ordered:
        padded = [v for v in ordered if len(v) > 2 and v[1] == "0"]
        if padded:
            _warn(log, inv, "W001", f"uses zero-padded version names ({padded[0]})")
            width = len(padded[0])
            for v in ordered:
                if len(v) != width:
                    log.error("E012", f"{where} version '{v}' does not share the padding of '{padded[0]}'", path)
                elif not v.startswith("v0"):
                    log.error("E011", f"{where} zero-padded version '{v}' does not start with 'v0'", path)
                    log.error("E013", f"{where} version '{v}' overflows the {width - 1}-digit naming of earlier versions", path)
    return ordered


def _content_path_ok(p: str, what: str, inv: Inventory, log: Collector) -> bool:
    if p.startswith("/") or p.endswith("/"):
        log.error("E100", f"{inv.where} {what} content path '{shorten(p)}' begins or ends with '/'", inv.path)
        return False
    if any(seg in ("", ".", "..") for seg in p.split("/")):
        log.error("E099", f"{inv.where} {what} content path '{shorten(p)}' has an empty, '.' or '..' element", inv.path)
        return False
    return True


def _check_manifest(data: dict, inv: Inventory, log: Collector) -> None:
    where, path = inv.where, inv.path
    if "manifest" not in data:
        log.error("E041", f"{where} has no 'manifest' block", path)
        return
    manifest = data["manifest"]
    if not isinstance(manifest, dict):
        log.error("E106", f"{where} 'manifest' is not a JSON object", path)
        return
    folded: dict[str, str] = {}
    known_versions = set(inv.versions)
    inv.digests = set(manifest)
    for digest, paths in manifest.items():
        if inv.algorithm and not well_formed(inv.algorithm, digest):
            log.error("E025", f"{where} manifest key {shorten(digest)} is not a {inv.algorithm} digest", path)
        other = folded.setdefault(digest.lower(), digest)
        if other != digest:
            log.error("E096", f"{where} manifest lists digest {shorten(digest)} twice, in different case", path)
        if not isinstance(paths, list) or not paths:
            log.error("E092", f"{where} manifest entry for {shorten(digest)} is not a non-empty list of content paths", path)
            continue
        for p in paths:
            if not isinstance(p, str):
                log.error("E092", f"{where} manifest has a content path that is not a string: {shorten(p)}", path)
                continue
            if not _content_path_ok(p, "manifest", inv, log):
                continue
            if p in inv.manifest:
                log.error("E101", f"{where} manifest lists content path '{shorten(p)}' more than once", path)
                continue
            inv.manifest[p] = digest
            parts = p.split("/")
            if len(parts) < 3 or parts[0] not in known_versions or parts[1] != inv.content_dir:
                log.error(
                    "E042",
                    f"{where} manifest content path '{shorten(p)}' is not inside the '{inv.content_dir}' "
                    f"directory of a version of this inventory",
                    path,
                )
    _check_prefixes(inv.manifest, "E101", f"{where} manifest content path", inv, log)


def _check_prefixes(paths: dict[str, str] | set[str], code: str, what: str, inv: Inventory, log: Collector) -> None:
    """No path may also be the 'directory' of another (a/b and a/b/c)."""
    for p in paths:
        parts = p.split("/")
        for i in range(1, len(parts)):
            prefix = "/".join(parts[:i])
            if prefix in paths:
                log.error(code, f"{what} '{shorten(prefix)}' is both a file and a directory (of '{shorten(p)}')", inv.path)


def _logical_path_ok(p: str, inv: Inventory, version: str, log: Collector) -> bool:
    if p.startswith("/") or p.endswith("/"):
        log.error("E053", f"{inv.where} version {version}: logical path '{shorten(p)}' begins or ends with '/'", inv.path)
        return False
    if any(seg in ("", ".", "..") for seg in p.split("/")):
        log.error("E052", f"{inv.where} version {version}: logical path '{shorten(p)}' has an empty, '.' or '..' element", inv.path)
        return False
    return True


def check_created(value: object) -> str | None:
    """Why ``value`` is not an RFC 3339 date-time to the second with a zone; None if it is."""
    if not isinstance(value, str):
        return f"is not a string: {shorten(value)}"
    m = _CREATED.fullmatch(value)
    if not m:
        return f"'{shorten(value)}' is not an RFC 3339 date-time"
    if m.group(6) is None:
        return f"'{value}' is not given to the second"
    if m.group(8) is None:
        return f"'{value}' has no time zone"
    y, mo, d, h, mi, s = (int(m.group(i)) for i in range(1, 7))
    try:
        datetime(y, mo, d, h, mi, min(s, 59), tzinfo=timezone(timedelta(0)))
    except ValueError:
        return f"'{value}' is not a real date and time"
    if s > 60:
        return f"'{value}' has seconds out of range"
    return None


def _check_version(name: str, block: object, inv: Inventory, log: Collector) -> None:
    where, path = inv.where, inv.path
    if not isinstance(block, dict):
        log.error("E047", f"{where} version {name} is not a JSON object", path)
        return
    inv.blocks[name] = block
    for key in sorted(set(block) - _VERSION_KEYS):
        log.error("E102", f"{where} version {name} has a key the specification does not define: '{shorten(key)}'", path)
    if "created" not in block:
        log.error("E048", f"{where} version {name} has no 'created' date", path)
    else:
        why = check_created(block["created"])
        if why:
            log.error("E049", f"{where} version {name} created {why}", path)
    if "message" not in block:
        _warn(log, inv, "W007", f"version {name} has no 'message'")
    elif not isinstance(block["message"], str):
        log.error("E094", f"{where} version {name} message is not a string", path)
    if "user" not in block:
        _warn(log, inv, "W007", f"version {name} has no 'user'")
    else:
        _check_user(name, block["user"], inv, log)
    if "state" not in block:
        log.error("E048", f"{where} version {name} has no 'state'", path)
        return
    state = block["state"]
    if not isinstance(state, dict):
        log.error("E050", f"{where} version {name} state is not a JSON object", path)
        return
    logical: dict[str, str] = {}
    for digest, paths in state.items():
        if digest not in inv.digests:
            log.error("E050", f"{where} version {name} state digest {shorten(digest)} is not in the manifest", path)
        if not isinstance(paths, list):
            log.error("E050", f"{where} version {name} state entry for {shorten(digest)} is not a list", path)
            continue
        for p in paths:
            if not isinstance(p, str):
                log.error("E050", f"{where} version {name} state has a logical path that is not a string", path)
            elif _logical_path_ok(p, inv, name, log):
                if p in logical:
                    log.error("E095", f"{where} version {name}: logical path '{shorten(p)}' appears more than once", path)
                logical[p] = digest
    _check_prefixes(set(logical), "E095", f"{where} version {name}: logical path", inv, log)
    inv.states[name] = logical


def _check_user(name: str, user: object, inv: Inventory, log: Collector) -> None:
    where, path = inv.where, inv.path
    if not isinstance(user, dict):
        log.error("E054", f"{where} version {name} user is not a JSON object", path)
        return
    if not isinstance(user.get("name"), str) or not user["name"]:
        log.error("E054", f"{where} version {name} user has no name string", path)
    if "address" not in user:
        _warn(log, inv, "W008", f"version {name} user has no address")
    elif not isinstance(user["address"], str):
        log.error("E054", f"{where} version {name} user address is not a string", path)
    elif not URI.match(user["address"]):
        _warn(log, inv, "W009", f"version {name} user address '{shorten(user['address'])}' is not a URI")


def _check_fixity(data: dict, inv: Inventory, log: Collector) -> None:
    if "fixity" not in data:
        return
    where, path = inv.where, inv.path
    fixity = data["fixity"]
    if not isinstance(fixity, dict):
        log.error("E111", f"{where} fixity is not a JSON object", path)
        return
    for alg, block in fixity.items():
        if alg not in KNOWN_ALGORITHMS:
            log.error("E056", f"{where} fixity algorithm '{shorten(alg)}' is not a known digest algorithm", path)
            continue
        if not isinstance(block, dict):
            log.error("E057", f"{where} fixity block for {alg} is not a JSON object", path)
            continue
        entries: dict[str, str] = {}
        folded: dict[str, str] = {}
        for digest, paths in block.items():
            if not well_formed(alg, digest):
                log.error("E057", f"{where} fixity {alg} key {shorten(digest)} is not a {alg} digest", path)
            if folded.setdefault(digest.lower(), digest) != digest:
                log.error("E097", f"{where} fixity {alg} lists digest {shorten(digest)} twice, in different case", path)
            if not isinstance(paths, list):
                log.error("E057", f"{where} fixity {alg} entry for {shorten(digest)} is not a list", path)
                continue
            for p in paths:
                if not isinstance(p, str):
                    log.error("E057", f"{where} fixity {alg} has a content path that is not a string", path)
                elif _content_path_ok(p, f"fixity {alg}", inv, log):
                    if p not in inv.manifest:
                        log.error("E057", f"{where} fixity {alg} content path '{shorten(p)}' is not in the manifest", path)
                    else:
                        entries[p] = digest
        inv.fixity[alg] = entries
