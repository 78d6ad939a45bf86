"""Agreement of a version directory's inventory with the root inventory:
same object, same history, manifests that only grow (spec 1.1 sections 3.5.1,
3.7 and the E066/W011 rules)."""
from __future__ import annotations

from typing import Callable

from .validate_inventory import Inventory, shorten
from .validate_report import Collector

INVENTORY = "inventory.json"
#: claim(content_path, algorithm, digest, source, code): a digest to recompute.
Claim = Callable[[str, str, str, str, str], None]


def compare_with_root(
    name: str, vinv: Inventory, inv: Inventory, log: Collector, claim: Claim, *, check_digests: bool
) -> None:
    """A version directory's inventory against the root inventory."""
    where, path = vinv.where, vinv.path
    if vinv.head is not None and vinv.head != name:
        log.error("E040", f"{where} has head '{shorten(vinv.head)}'; the inventory in directory {name} must have head {name}", path)
    if vinv.id is not None and inv.id is not None and vinv.id != inv.id:
        log.error("E037", f"{where} id '{shorten(vinv.id)}' differs from the root inventory id '{shorten(inv.id)}'", path)
    if inv.content_dir_set and name == inv.versions[0] and vinv.content_dir != inv.content_dir:
        log.error("E019", f"contentDirectory '{inv.content_dir}' was not set in the first version ({where} has '{vinv.content_dir}')", path)
    if vinv.content_dir != inv.content_dir:
        log.error("E020", f"{where} contentDirectory '{vinv.content_dir}' differs from the root inventory's '{inv.content_dir}'", path)
    expected = inv.versions[: inv.versions.index(name) + 1]
    if vinv.versions != expected:
        log.error("E066", f"{where} lists versions {', '.join(vinv.versions)}; the root inventory up to {name} has {', '.join(expected)}", path)
    same_alg = vinv.algorithm is not None and vinv.algorithm == inv.algorithm
    for v in vinv.states.keys() & inv.states.keys():
        _compare_state(v, vinv, inv, same_alg, log)
        for key in ("created", "message", "user"):
            if vinv.blocks[v].get(key) != inv.blocks[v].get(key):
                log.warn("W011", f"{where} version {v} {key} differs from the root inventory's", path)
    # Manifests only grow: an older manifest's entries stay in every later one.
    for cp in sorted(vinv.manifest.keys() - inv.manifest.keys()):
        log.error("E023", f"root inventory manifest lacks content path '{shorten(cp)}' listed in the {where}", INVENTORY)
    upto = set(expected)
    for cp in sorted(inv.manifest.keys() - vinv.manifest.keys()):
        if cp.split("/", 1)[0] in upto:
            log.error("E023", f"{where} manifest lacks content path '{shorten(cp)}' of version {cp.split('/', 1)[0]}", path)
    for cp, digest in vinv.manifest.items():
        if vinv.algorithm is None:
            break
        if same_alg and not check_digests and cp in inv.manifest and inv.manifest[cp].lower() != digest.lower():
            log.error("E092", f"{where} manifest gives '{shorten(cp)}' digest {digest}, the root inventory {inv.manifest[cp]}", path)
        claim(cp, vinv.algorithm, digest, f"the {where} manifest", "E092")
    for alg, entries in vinv.fixity.items():
        for cp, digest in entries.items():
            claim(cp, alg, digest, f"the {where} fixity block", "E093")


def _compare_state(v: str, vinv: Inventory, inv: Inventory, same_alg: bool, log: Collector) -> None:
    where, path = vinv.where, vinv.path
    old, new = vinv.states[v], inv.states[v]
    only_old, only_new = sorted(old.keys() - new.keys()), sorted(new.keys() - old.keys())
    if only_old or only_new:
        parts = []
        if only_old:
            parts.append(f"only in the {where}: {', '.join(map(shorten, only_old[:5]))}")
        if only_new:
            parts.append(f"only in the root inventory: {', '.join(map(shorten, only_new[:5]))}")
        log.error("E066", f"version {v} state differs between the {where} and the root inventory ({'; '.join(parts)})", path)
    old_paths = _by_digest(vinv.manifest) if not same_alg else {}
    new_paths = _by_digest(inv.manifest) if not same_alg else {}
    for lp in sorted(old.keys() & new.keys()):
        if same_alg:
            differs = old[lp].lower() != new[lp].lower()
        else:  # different algorithms: compare the content each names
            differs = not (old_paths.get(old[lp], set()) & new_paths.get(new[lp], set()))
        if differs:
            log.error("E066", f"version {v} logical path '{shorten(lp)}' has other content in the {where} than in the root inventory", path)


def _by_digest(manifest: dict[str, str]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for cp, digest in manifest.items():
        out.setdefault(digest, set()).add(cp)
    return out
