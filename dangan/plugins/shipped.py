"""What the plugins shipped with dangan implement, declared here so it can be asked without loading them.

Loading pluggy and every plugin costs tens of milliseconds; commands that only read the catalogue
(``dangan show``, ``dangan ls``) need to know, before that, whether any plugin that is on could
have a say (an access rule, say).  Core asks :func:`shipped_implementing` and never names a
plugin itself.  This module imports nothing (``dangan.plugins`` loads pluggy only when
``hookimpl`` is first used), and ``tests/plugins/test_plugins_shipped.py`` compares the table
with the hook implementations pluggy finds in each shipped module, so it cannot drift.
"""
from __future__ import annotations

from typing import Mapping

#: Plugin name (as :func:`dangan.plugins.loader.module_plugin_name` gives it) → the hooks it implements.
SHIPPED_HOOKS: Mapping[str, frozenset[str]] = {
    "builtin.scheme": frozenset({"dangan_archival_class", "dangan_archival_code", "dangan_filing",
                                 "dangan_register_schemes", "dangan_retention_for", "dangan_validate",
                                 "dangan_volume_order"}),
    "builtin.extract": frozenset({"dangan_extract"}),
    "builtin.actions": frozenset({"dangan_destroy", "dangan_purge"}),
    "general_office": frozenset({"dangan_filing", "dangan_register_reports", "dangan_register_schemes",
                                 "dangan_validate", "dangan_volume_order"}),
    "drug_quality": frozenset({"dangan_after_archive", "dangan_register_schemes", "dangan_validate"}),
    "construction": frozenset({"dangan_access", "dangan_access_reason", "dangan_initial_status",
                               "dangan_register_schemes", "dangan_validate"}),
    "insurance_customers": frozenset({"dangan_register_reports", "dangan_register_schemes", "dangan_validate"}),
    "customer_confidentiality": frozenset({"dangan_access", "dangan_access_reason", "dangan_lending_limit",
                                           "dangan_listing_marker", "dangan_register_reports",
                                           "dangan_register_schemes"}),
}
#: The built-in plugins: always registered (unless disabled by name).
BUILTIN: frozenset[str] = frozenset(name for name in SHIPPED_HOOKS if name.startswith("builtin."))


def shipped_implementing(hook: str) -> frozenset[str]:
    """The names of the shipped plugins that implement ``hook`` (e.g. ``dangan_access``)."""
    return frozenset(name for name, hooks in SHIPPED_HOOKS.items() if hook in hooks)
