"""Progress of long work, as a callback: core reports, each face draws (a terminal bar, a web page's counter).

Core never imports a UI library; a face passes an object with these four methods (see
``dangan.cli.output.TerminalProgress``).  ``None`` means nobody is watching.
"""
from __future__ import annotations

from typing import Protocol


class Progress(Protocol):
    def start(self, total: int) -> None: ...
    def before_output(self) -> None:
        """Called before the face prints a line of its own, so a drawn bar can step aside."""
    def advance(self, n: int = 1) -> None: ...
    def finish(self) -> None: ...
