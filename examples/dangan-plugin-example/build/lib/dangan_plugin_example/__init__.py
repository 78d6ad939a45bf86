"""Example dangan plugin: a legal department (法务部, FWB)."""
from __future__ import annotations

from dangan.plugins import hookimpl
from dangan.plugins.types import Category, RetentionRule, Scheme, Veto, error

__version__ = "0.1.0"

SCHEME = Scheme("legal_example", "法务部 (example)", (
    Category("FW-HT", "合同 contracts", "short-term", "internal", ("counterparty",), "FWB", "FW"),
    Category("FW-SS", "诉讼 litigation", "permanent", "secret", ("case_number",), "FWB", "FW"),
), "FWB")


@hookimpl
def dangan_register_schemes(register):
    register(SCHEME)


@hookimpl
def dangan_retention_for(record, category):
    # contracts: 15 years after the contract ends (metadata "ends")
    if category.code == "FW-HT" and record.metadata.get("ends"):
        return RetentionRule(15, "review", "metadata:ends", "15 years after the contract ends")
    return None


@hookimpl
def dangan_validate(record, category):
    if category and category.code == "FW-HT" and record.metadata.get("counterparty", "").strip() == record.fonds:
        return [error("a contract's counterparty cannot be ourselves", "counterparty")]
    return None


@hookimpl(wrapper=True)
def dangan_destroy(record, actor, reason):
    if record.metadata.get("litigation"):
        raise Veto(f"record is evidence in case {record.metadata['litigation']}")
    return (yield)
