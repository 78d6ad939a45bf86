"""What the ingest pipeline plugs in: the text extractor and the classifier."""
from __future__ import annotations


def pipeline_for(archive) -> dict:
    return {"extractor": None, "classifier": None}
