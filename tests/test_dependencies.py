"""The declared dependencies are the ones the code uses.

Runtime dependencies (`[project] dependencies`) must each be imported by the package, and every
third-party package the package imports must be declared there; what only the tests or benchmarks
import belongs in the `dev` extra. Packages that are needed but never imported are listed in
RUNTIME_NOT_IMPORTED with the reason, and packages imported through another declared
dependency in TRANSITIVE_IMPORTS; anything else is a finding.
"""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OWN = {"aimatrix_pipeline", "tests", "benchmarks"}
# benchmark scripts import their sibling modules by plain name (run as scripts from benchmarks/)
LOCAL_MODULES = {p.stem for p in (ROOT / "benchmarks").glob("*.py")}

# import name -> distribution name, where they differ beyond "_" vs "-"
DISTRIBUTION_OF = {"yaml": "pyyaml"}

# Declared runtime dependencies no module imports, and why they are declared anyway.
RUNTIME_NOT_IMPORTED = {
    "dagster-webserver": "the UI process (`dagster-webserver`, `dagster dev`, `aimatrix-pipeline watch`, "
                         "the deploy images) runs it as a command",
}

# Imported, but installed by another declared dependency that requires it (never declared twice).
TRANSITIVE_IMPORTS = {
    "psycopg2": "dagster-postgres requires psycopg2-binary, the driver instance_storage.py names",
}


def _name(requirement: str) -> str:
    return re.split(r"[\s\[<>=!~;(]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def declared_runtime() -> set[str]:
    return {_name(r) for r in _pyproject()["dependencies"]}


def declared_extra(extra: str) -> set[str]:
    return {_name(r) for r in _pyproject()["optional-dependencies"][extra]}


def third_party_imports(*folders: str) -> dict[str, set[str]]:
    """Distribution name -> files that import it (absolute imports anywhere in the file, including
    imports inside functions), for the .py files under `folders`."""
    found: dict[str, set[str]] = {}
    for folder in folders:
        for path in sorted((ROOT / folder).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if isinstance(node, ast.Import):
                    names = [a.name for a in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                else:
                    continue
                for name in names:
                    top = name.split(".")[0]
                    if top in sys.stdlib_module_names or top in OWN or top in LOCAL_MODULES:
                        continue
                    dist = DISTRIBUTION_OF.get(top, top.lower().replace("_", "-"))
                    found.setdefault(dist, set()).add(str(path.relative_to(ROOT)))
    return found


def test_every_runtime_dependency_is_imported_by_the_package():
    imported = set(third_party_imports("aimatrix_pipeline"))
    unused = declared_runtime() - imported - set(RUNTIME_NOT_IMPORTED)
    assert unused == set(), "declared runtime dependencies the package never imports (drop them, or say why)"
    assert set(RUNTIME_NOT_IMPORTED) <= declared_runtime()


def test_every_package_import_is_a_declared_runtime_dependency():
    imports = third_party_imports("aimatrix_pipeline")
    undeclared = {d: sorted(f) for d, f in imports.items()
                  if d not in declared_runtime() and d not in TRANSITIVE_IMPORTS}
    assert undeclared == {}, "the package imports these, but they are not runtime dependencies"


def test_what_only_tests_and_benchmarks_import_is_in_the_dev_extra():
    runtime, dev = declared_runtime(), declared_extra("dev")
    imports = third_party_imports("tests", "benchmarks")
    undeclared = {d: sorted(f)[:3] for d, f in imports.items()
                  if d not in runtime | dev and d not in TRANSITIVE_IMPORTS}
    assert undeclared == {}, "tests import these, but neither the runtime nor the dev extra declares them"
    # and the package itself never needs a test-only one
    test_only = dev - runtime - {_name(r) for r in _pyproject()["optional-dependencies"]["lake"]}
    assert test_only & set(third_party_imports("aimatrix_pipeline")) == set()


def test_the_scan_sees_imports_inside_functions_and_type_checking_blocks():
    imports = third_party_imports("aimatrix_pipeline")
    # pandas: imported for the return type of warehouse.query, whose frame DuckDB builds with it
    assert "aimatrix_pipeline/warehouse.py" in imports["pandas"]
    assert "aimatrix_pipeline/cli.py" in imports["duckdb"]  # `import duckdb` inside cmd_sql
