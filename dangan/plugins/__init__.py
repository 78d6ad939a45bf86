"""dangan's plugin system (pluggy).  Plugin authors import from here::

    from dangan.plugins import hookimpl
    from dangan.plugins.types import Category, Scheme, RetentionRule, error, warning

``hookimpl`` is looked up on first use (PEP 562): core imports ``dangan.plugins.types`` on every
command for the actor it shows plugins, and that must not import pluggy and the hook
specifications when no plugin is loaded.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .hookspecs import hookimpl

__all__ = ["hookimpl"]


def __getattr__(name: str) -> Any:
    if name == "hookimpl":
        from .hookspecs import hookimpl
        return hookimpl
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
