"""Load SQL kept in the repository's top-level `sql/` folder, by relative path.

SQL lives in files (not Python strings) so a DBA can read, diff and run it on its own. The files
(and the shipped `alert_rules.yaml`) stay at the top of the repository; a built wheel carries them
inside the package (`setup.py` copies them in at build time), so `shipped_path` looks there first
(importlib.resources) and falls back to the checkout next to the package (source and editable
installs). `AIMATRIX_SQL_DIR` overrides the SQL location. A missing file or folder is an error
that names the path: an empty DDL folder must never mean "apply nothing".
"""

from __future__ import annotations

import importlib.resources
from functools import lru_cache
from pathlib import Path

PACKAGE = "aimatrix_pipeline"


def shipped_path(name: str) -> Path:
    """`name` (`sql`, `alert_rules.yaml`, `thresholds.yaml`, `dagster.yaml`) inside the installed package, else in the checkout that
    holds the package; FileNotFoundError naming both places when neither has it."""
    inside = importlib.resources.files(PACKAGE) / name
    if inside.is_dir() or inside.is_file():
        return Path(str(inside))
    beside = Path(__file__).resolve().parents[1] / name
    if beside.exists():
        return beside
    raise FileNotFoundError(
        f"{name} is not shipped with {PACKAGE}: neither {inside} (installed package) nor {beside} "
        "(checkout) exists; reinstall the package or build the wheel from a complete checkout"
    )


def _sql_dir() -> Path:
    from aimatrix_pipeline.settings import sql_dir_override

    override = sql_dir_override()
    if override:
        path = Path(override)
        if not path.is_dir():
            raise FileNotFoundError(f"AIMATRIX_SQL_DIR={override} is not a directory")
        return path
    return shipped_path("sql")


SQL_DIR = _sql_dir()


@lru_cache(maxsize=None)
def load_sql(relative_path: str) -> str:
    """Text of `sql/<relative_path>`; raises FileNotFoundError naming the full path."""
    path = SQL_DIR / relative_path
    if not path.is_file():
        raise FileNotFoundError(f"SQL file not found: {path}")
    return path.read_text()


def sql_files(folder: str, pattern: str = "*.sql") -> list[Path]:
    """Files of `sql/<folder>` matching `pattern`, in name order (so numeric prefixes order DDL).
    Raises FileNotFoundError when the folder is missing or holds no such file."""
    path = SQL_DIR / folder
    if not path.is_dir():
        raise FileNotFoundError(f"SQL folder not found: {path}")
    files = sorted(path.glob(pattern))
    if not files:
        raise FileNotFoundError(f"SQL folder {path} has no {pattern} files")
    return files
