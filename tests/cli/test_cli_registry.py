"""The lazy command table names exactly the commands each module defines."""
from __future__ import annotations

import importlib

from dangan.cli import COMMAND_MODULES


def test_every_module_defines_what_the_table_says():
    for module, names in COMMAND_MODULES.items():
        mod = importlib.import_module(f"dangan.cli.{module}")
        assert tuple(c.name for c in mod.COMMANDS) == names, module
