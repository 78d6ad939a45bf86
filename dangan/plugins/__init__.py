"""dangan's plugin system (pluggy).  Plugin authors import from here::

    from dangan.plugins import hookimpl
    from dangan.plugins.types import Category, Scheme, RetentionRule, error, warning
"""
__all__ = ["hookimpl"]


def __getattr__(name: str):
    # Lazily, so that importing ``dangan.plugins.types`` (a read-only command does) does not load pluggy.
    if name == "hookimpl":
        from .hookspecs import hookimpl
        return hookimpl
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
