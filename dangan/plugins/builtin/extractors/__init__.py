"""Built-in text extractors, one module per family (pdf, ocr, text, mail, office, ofd, media).

Public API: ``ExtractOptions``, ``extract(path, mime, options) -> Extraction``
(in-process) and ``EXTRACTORS`` (the ordered functions ``extract`` walks).
Run untrusted files through ``dangan.core.store.extraction`` instead, which runs
``extract`` in a worker process with time and memory limits.
"""
from .dispatch import EXTRACTORS, extract
from .options import ExtractOptions

__all__ = ["EXTRACTORS", "ExtractOptions", "extract"]
