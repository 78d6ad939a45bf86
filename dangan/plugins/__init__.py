"""dangan's plugin system (pluggy).  Plugin authors import from here::

    from dangan.plugins import hookimpl
    from dangan.plugins.types import Category, Scheme, RetentionRule, error, warning
"""
from .hookspecs import hookimpl

__all__ = ["hookimpl"]
