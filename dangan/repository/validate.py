"""OCFL 1.1 validation of objects and storage roots, written for dangan
(standard library only).

``validate_object`` checks one object against the OCFL 1.1 specification —
declaration, root inventory and sidecar, inventory structure, version
sequence, every version directory and its inventory copy, content files
against the manifest, and (by default) every digest recomputed — and returns
a :class:`ValidationReport` of :class:`Problem` items carrying the
specification's validation codes (E001-E112, W001-W016).
``validate_storage_root`` does the same for every object under a storage
root, plus the storage root's own rules.

The checks live in ``validate_inventory`` (one inventory's structure),
``validate_object`` (files on disk and inventories together),
``validate_storage`` (the storage root) and ``validate_digest`` (algorithms,
streaming digests).
"""
from __future__ import annotations

import os
from pathlib import Path

from .validate_object import DigestCache, ObjectCheck
from .validate_report import Problem, ValidationReport
from .validate_storage import validate_storage_root

__all__ = ["Problem", "ValidationReport", "DigestCache", "validate_object", "validate_storage_root"]


def validate_object(
    object_root: Path | str | os.PathLike[str],
    *,
    expected_id: str | None = None,
    check_digests: bool = True,
    digest_cache: DigestCache | None = None,
) -> ValidationReport:
    """Validate the OCFL object at ``object_root``.

    :param expected_id: if given, a root inventory with another id is an error
        (E083: the object is not where its id maps to).
    :param check_digests: recompute every content digest of every manifest and
        fixity block (streaming, 1 MiB chunks, one read per file whatever the
        number of algorithms). Without it, only structure and presence are
        checked — fast, but a flipped bit goes unseen.
    :param digest_cache: ``digest_cache(path, algorithm)`` returning a digest
        known for that absolute path is trusted instead of reading the file;
        returning None has it computed. Leave it None for a full check.
    :returns: the report; ``report.ok`` is True when there is no error.
    """
    return ObjectCheck(
        object_root, expected_id=expected_id, check_digests=check_digests, digest_cache=digest_cache
    ).run()
