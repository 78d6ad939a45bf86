"""Validate what the tests write with ocfl-py, the independent OCFL implementation.

ocfl-py 2.1 knows no layout named 0004-hashed-n-tuple-storage-layout, so its storage-root
validation reports E071 for any root that uses it; we register the layout
(sha256 of the id, 3 tuples of 3, the full digest as the object folder), so
ocfl-py checks that every object sits where the layout puts it.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

import ocfl
from ocfl import layout_registry
from ocfl.layout import LayoutException
from ocfl.layout_0003_hash_and_id_n_tuple import Layout_0003_Hash_And_Id_N_Tuple
from ocfl.validator import Validator


class Layout0004(Layout_0003_Hash_And_Id_N_Tuple):
    def __init__(self):
        super().__init__()
        self.NAME = "0004-hashed-n-tuple-storage-layout"
        self.short_object_root = False
        self.PARAMS["shortObjectRoot"] = self.check_short_object_root

    def check_short_object_root(self, value):
        if value not in (True, False, None):
            raise LayoutException("shortObjectRoot must be a boolean")
        self.short_object_root = bool(value)

    @property
    def config(self):
        return {**super().config, "shortObjectRoot": self.short_object_root}

    def identifier_to_path(self, identifier):
        d = hashlib.new(self.digest_algorithm, identifier.encode("utf-8")).hexdigest()
        parts = [d[i * self.tuple_size:(i + 1) * self.tuple_size] for i in range(self.number_of_tuples)]
        return os.path.join(*parts, d)


layout_registry.add_layout("0004-hashed-n-tuple-storage-layout", Layout0004)


def assert_object_valid(object_root: Path) -> None:
    v = Validator(check_digests=True, log_warnings=False)
    assert v.validate_object(str(object_root)), f"ocfl-py rejects {object_root}: {v.status_str()}"


def assert_store_valid(store_root: Path) -> int:
    """ocfl-py validates the storage root and every object in it; returns the object count."""
    sr = ocfl.StorageRoot(root=str(store_root))
    ok = sr.validate(validate_objects=True, check_digests=True)
    assert ok, f"ocfl-py rejects storage root {store_root}: {sr.log}"
    assert sr.num_objects == sr.good_objects
    return sr.num_objects
