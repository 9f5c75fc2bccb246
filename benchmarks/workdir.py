"""Where a benchmark keeps its clusters and warehouses.

`--workdir` when given (kept afterwards, to look at); otherwise a new temp dir that is removed when
the script exits, after its `finally` blocks have stopped the servers: a 10 M-row run holds
gigabytes, and leaving each run's dir behind fills the disk.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from pathlib import Path


def workdir(given: str | None, prefix: str) -> Path:
    if given:
        path = Path(given)
        path.mkdir(parents=True, exist_ok=True)
        return path
    path = Path(tempfile.mkdtemp(prefix=prefix))
    atexit.register(shutil.rmtree, path, ignore_errors=True)
    return path
