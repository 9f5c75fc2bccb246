"""Load SQL kept in the repository's top-level `sql/` folder, by relative path.

SQL lives in files (not Python strings) so a DBA can read, diff and run it on its own.
`AIMATRIX_SQL_DIR` overrides the location for installs that do not keep the checkout.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

SQL_DIR = Path(os.environ.get("AIMATRIX_SQL_DIR") or Path(__file__).resolve().parents[1] / "sql")


@lru_cache(maxsize=None)
def load_sql(relative_path: str) -> str:
    """Text of `sql/<relative_path>`; raises FileNotFoundError naming the full path."""
    path = SQL_DIR / relative_path
    if not path.is_file():
        raise FileNotFoundError(f"SQL file not found: {path}")
    return path.read_text()


def sql_files(folder: str, pattern: str = "*.sql") -> list[Path]:
    """Files of `sql/<folder>` matching `pattern`, in name order (so numeric prefixes order DDL)."""
    return sorted((SQL_DIR / folder).glob(pattern))
