"""The package's layers (aimatrix_pipeline/shared/__init__.py), checked over every import statement.

A domain imports its own modules and the shared layer only: never another domain, the CLI or a
composition root. The shared layer imports no domain and no composition root. Function-level
imports count too: a late import is still a dependency.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "aimatrix_pipeline"
DOMAINS = {"alerts", "analytics", "appsignals", "cost", "dashboard", "extract", "fleet", "remediation"}
ROOTS = {"cli", "config_commands", "definitions", "demo", "docs_reference", "locations", "watch"}
SHARED = {"shared", "settings", "config_checks", "sql_files", "metadata", "terminal", "querytext",
          "instance_storage", "resources", "warehouse"}


def _top(path: Path) -> str:
    rel = path.relative_to(PACKAGE)
    return rel.parts[0].removesuffix(".py")


def _imported(path: Path, source: str | None = None) -> list[tuple[int, str]]:
    """(line, top-level aimatrix_pipeline part) for every import of the package in `path`."""
    tree = ast.parse(path.read_text(encoding="utf-8") if source is None else source, str(path))
    package_parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    out = []
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against the importing module's package
                base = package_parts[: len(package_parts) - node.level]
                names = [".".join([*base, *([node.module] if node.module else [])])]
            else:
                names = [node.module or ""]
            if names[0] == "aimatrix_pipeline":  # `from aimatrix_pipeline import cli`
                names = [f"aimatrix_pipeline.{a.name}" for a in node.names]
        for name in names:
            parts = name.split(".")
            if parts[0] == "aimatrix_pipeline" and len(parts) > 1:
                out.append((node.lineno, parts[1]))
    return out


def _modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)


def test_every_top_level_module_has_a_layer():
    tops = {_top(p) for p in _modules()} - {"__init__"}
    assert tops <= DOMAINS | ROOTS | SHARED, f"not assigned to a layer: {sorted(tops - DOMAINS - ROOTS - SHARED)}"


@pytest.mark.parametrize("domain", sorted(DOMAINS))
def test_a_domain_imports_only_itself_and_the_shared_layer(domain):
    bad = [f"{p.relative_to(PACKAGE)}:{line} imports aimatrix_pipeline.{target}"
           for p in _modules() if _top(p) == domain
           for line, target in _imported(p) if target not in SHARED | {domain}]
    assert not bad, "\n".join(bad)


def test_the_shared_layer_imports_no_domain_and_no_composition_root():
    bad = [f"{p.relative_to(PACKAGE)}:{line} imports aimatrix_pipeline.{target}"
           for p in _modules() if _top(p) in SHARED
           for line, target in _imported(p) if target not in SHARED]
    assert not bad, "\n".join(bad)


def test_the_rule_sees_every_kind_of_import():
    """The checker itself: absolute, from-package, relative and function-level imports all count."""
    source = ("from aimatrix_pipeline import cli\n"
              "import aimatrix_pipeline.alerts.scan\n"
              "from ..extract import snapshots\n"
              "from . import pricing\n"
              "def f():\n    from aimatrix_pipeline.definitions import defs\n")
    found = [target for _, target in _imported(PACKAGE / "cost" / "probe.py", source)]
    assert sorted(found) == ["alerts", "cli", "cost", "definitions", "extract"]
