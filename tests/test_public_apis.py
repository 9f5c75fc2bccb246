"""The package uses Dagster's public API only: nothing under `dagster._*` (private modules change
without notice between releases), imported or reached as an attribute."""

from __future__ import annotations

import re
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "aimatrix_pipeline"
PRIVATE = re.compile(r"\bdagster(?:_[a-z]+)?\._")


def test_no_module_reaches_into_dagster_private_modules():
    hits = [f"{p.relative_to(PACKAGE)}:{n}: {line.strip()}"
            for p in sorted(PACKAGE.rglob("*.py"))
            for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
            if PRIVATE.search(line)]
    assert not hits, "\n".join(hits)


def test_the_pattern_catches_private_imports():
    assert PRIVATE.search("from dagster._core.storage.x import Y")
    assert PRIVATE.search("    from dagster._utils.schedules import is_valid_cron_string")
    assert PRIVATE.search("import dagster_graphql._internal")
    assert not PRIVATE.search("import dagster as dg") and not PRIVATE.search("dg.AssetCheckKey")
