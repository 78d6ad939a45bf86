"""What the ingest pipeline plugs in: the text extractor and the classifier (plugins)."""
from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dangan.core.archive import Archive



def pipeline_for(archive: Archive, *, extract: bool = True) -> dict:
    from dangan.core.kernel.plugin_host import Classifier
    plugins = archive.plugins
    return {"extractor": archive.extractor if extract else None, "classifier": Classifier(archive, plugins)}
