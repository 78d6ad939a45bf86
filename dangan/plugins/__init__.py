"""dangan's plugin system (pluggy).  Plugin authors import from here::

    from dangan.plugins import hookimpl
    from dangan.plugins.types import Category, Scheme, RetentionRule, error, warning
"""
from __future__ import annotations

__all__ = ["hookimpl"]


def __getattr__(name: str) -> object:
    """``hookimpl`` is imported on first use, so that asking :mod:`dangan.plugins.shipped` what the shipped
    plugins implement loads no pluggy (read-only commands start fast)."""
    if name == "hookimpl":
        from .hookspecs import hookimpl
        return hookimpl
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
