"""What the ingest pipeline plugs in: the text extractor and the classifier (plugins), and when it extracts.

``[ingest] extraction`` in ``dangan.toml`` says when a plain record's text is extracted: ``"inline"`` (the
default: before the command returns) or ``"workers"`` (archived at once without extraction and its job queued
in the same transaction, for ``dangan worker`` on any machine, as the drop-folder watcher does).  A sealed
record is always extracted inline: its plaintext is read once, from the source, never from the store later.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dangan.core.archive import Archive

EXTRACTION_MODES = ("inline", "workers")


def extraction_mode(config) -> str:
    """``[ingest] extraction``: "inline" (the default) or "workers" (validated with the rest of the file)."""
    return str((config.raw.get("ingest") or {}).get("extraction", "inline"))


def pipeline_for(archive: Archive, *, extract: bool = True) -> dict:
    from dangan.core.kernel.plugin_host import Classifier
    plugins = archive.plugins
    return {"extractor": archive.extractor if extract else None, "classifier": Classifier(archive, plugins),
            "defer_extraction": extract and extraction_mode(archive.config) == "workers"}
