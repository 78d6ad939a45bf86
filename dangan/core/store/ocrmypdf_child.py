"""``python -m dangan.core.store.ocrmypdf_child OWNER_PID ARGS…``: OCRmyPDF's command line in a process
group of its own that dies with dangan (:func:`dangan.lifeline.die_with`), so a ``kill -9`` of
dangan leaves no OCRmyPDF, Tesseract or Ghostscript running, and a time-out kills them all."""
from __future__ import annotations

import os
import sys


def main() -> int:
    owner = int(sys.argv[1])
    os.setsid()
    import resource
    cap = int(os.environ.get("DANGAN_OCRMYPDF_MEMORY_MB", "4096")) * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))      # inherited by Tesseract and Ghostscript
    from dangan.lifeline import die_with
    die_with(owner)
    import multiprocessing
    multiprocessing.set_start_method("forkserver", force=True)
    from ocrmypdf.__main__ import run
    return int(run(sys.argv[2:]) or 0)


if __name__ == "__main__":
    sys.exit(main())
