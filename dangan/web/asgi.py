"""The ASGI entry uvicorn imports in each worker: the archive named by ``$DANGAN_SERVE_ROOT`` (set by
``dangan serve``)."""
from __future__ import annotations

import os
from pathlib import Path

from dangan.web.app import create_app

app = create_app(Path(os.environ["DANGAN_SERVE_ROOT"]))
