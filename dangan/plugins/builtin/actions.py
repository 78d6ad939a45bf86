"""The inner implementations of the destructive-action hooks.

Plugins wrap these with ``@hookimpl(wrapper=True)``; this plugin only runs
core's ``perform()``.  Only built-ins may implement these hooks without a wrapper.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..hookspecs import hookimpl


@hookimpl(trylast=True)
def dangan_destroy(perform: Callable[[], Any]) -> Any:
    return perform()


@hookimpl(trylast=True)
def dangan_purge(perform: Callable[[], Any]) -> Any:
    return perform()
