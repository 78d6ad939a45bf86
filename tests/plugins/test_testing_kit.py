"""The plugin author's kit (dangan.testing) works as documented."""
from __future__ import annotations

import types

import pytest

from dangan.errors import ValidationFailed

pytest_plugins = ["dangan.testing"]


def make_plugin():
    from dangan.plugins import hookimpl
    from dangan.plugins.types import Category, Scheme, error

    mod = types.ModuleType("legal_dept")

    @hookimpl
    def dangan_register_schemes(register):
        register(Scheme("legal", "法务部", (Category("FW-HT", "合同", "long-term", "internal", ("counterparty",),
                                                    department="FWB", class_code="FW"),)))

    @hookimpl
    def dangan_validate(record, category):
        if record.category == "FW-HT" and "draft" in record.tags:
            return [error("draft contracts are not archived", "tags")]

    mod.dangan_register_schemes = dangan_register_schemes
    mod.dangan_validate = dangan_validate
    return mod


def test_a_plugin_registered_for_one_archive(make_archive, tmp_path):
    archive = make_archive(plugins=[make_plugin()])
    f = tmp_path / "c.txt"
    f.write_text("租赁合同", encoding="utf-8")
    with pytest.raises(ValidationFailed, match="counterparty is required"):
        archive.ingest(f, category="FW-HT")
    with pytest.raises(ValidationFailed, match="draft contracts"):
        archive.ingest(f, category="FW-HT", tags=["draft"], metadata={"counterparty": "A"})
    rec = archive.ingest(f, category="FW-HT", metadata={"counterparty": "A"}, date="2024-01-02")
    assert rec.archival_code == "Z109-FW·2024-D30-FWB-0001"
    assert "FW-HT" in {r["code"] for r in archive.plugins.schemes().rows()}
    from ocfl_helpers import assert_store_valid
    assert assert_store_valid(archive.root / "store") == 1


def test_an_archive_without_the_plugin_does_not_know_its_scheme(dangan_archive, tmp_path):
    f = tmp_path / "c.txt"
    f.write_text("x", encoding="utf-8")
    with pytest.raises(Exception, match="FW-HT"):
        dangan_archive.ingest(f, category="FW-HT")
