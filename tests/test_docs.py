"""The README and docs/ stay in agreement with the code.

The reference pages under docs/reference/ are generated (`python -m aimatrix_pipeline.docs_reference`)
and must match what the code generates now; the tables they list are the DDL's, and every table is
described; the SQL examples run on the warehouse schema; relative links and anchors resolve; files,
environment variables, commands and options the pages name exist; code cites only docs pages that
exist; the quick start's test command is the one CI runs.
"""

from __future__ import annotations

import argparse
import importlib
import os
import re
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from aimatrix_pipeline.docs_reference import tables as tables_page
from aimatrix_pipeline.resources.warehouse import apply_schema

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
PAGES = [README, *sorted((ROOT / "docs").rglob("*.md"))]

# Tables and columns users query ad hoc and that other tools build on: renaming one breaks them.
PUBLIC_COLUMNS = {
    "analytics.slow_queries_summary": [
        "project", "source", "fingerprint", "query_preview", "hour_bucket", "calls", "total_time_ms",
        "mean_time_ms", "max_time_ms", "rows", "share_of_total_time", "p50_ms", "p95_ms", "p99_ms",
    ],
    "analytics.optimization_recommendations": [
        "project", "id", "name", "category", "level", "title", "detail", "remediation_sql", "impact",
        "effort", "object_schema", "object_name", "first_seen", "last_seen", "metadata",
    ],
    "cost.cost_breakdown_daily": ["project", "organization", "date", "line_item", "usage", "unit", "cost_usd"],
    "cost.monthly_cost_report": [
        "organization", "month", "line_item", "usage", "included", "billable", "cost_usd", "projected_cost_usd",
    ],
    "alerts.alert_events": [
        "id", "rule_id", "fingerprint", "title", "message", "severity", "status", "fired_at", "resolved_at",
        "resolved_by", "resolve_notes", "metrics",
    ],
}


@pytest.fixture(scope="module")
def schema_db():
    conn = duckdb.connect()
    apply_schema(conn)
    yield conn
    conn.close()


def _clean_env() -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIMATRIX_", "SUPABASE_", "DAGSTER_"))}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return env


def test_generated_reference_pages_are_up_to_date():
    result = subprocess.run([sys.executable, "-m", "aimatrix_pipeline.docs_reference", "--check"],
                            cwd=ROOT, env=_clean_env(), capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:] + "\nregenerate: python -m aimatrix_pipeline.docs_reference"


def test_check_names_a_stale_page_and_a_write_fixes_it(tmp_path):
    (tmp_path / "cli.md").write_text((ROOT / "docs" / "reference" / "cli.md").read_text().replace("--format", "--fmt"))
    command = [sys.executable, "-m", "aimatrix_pipeline.docs_reference", "--dir", str(tmp_path), "cli.md"]
    stale = subprocess.run([*command, "--check"], cwd=ROOT, env=_clean_env(), capture_output=True, text=True, timeout=300)
    assert stale.returncode == 1 and "cli.md" in stale.stderr
    subprocess.run(command, cwd=ROOT, env=_clean_env(), check=True, capture_output=True, timeout=300)
    assert (tmp_path / "cli.md").read_text() == (ROOT / "docs" / "reference" / "cli.md").read_text()


def test_tables_page_follows_the_ddl(schema_db):
    page = tables_page.render(schema_db)
    documented = set(re.findall(r"^### ((?:raw|analytics|cost|alerts|ops)\.\w+)$", page, flags=re.M))
    assert documented == set(tables_page.schema_columns(schema_db)), "the page lists other tables than the DDL"
    # A column added to the DDL appears on the page, so the committed page goes stale.
    conn = duckdb.connect()
    apply_schema(conn)
    conn.execute("alter table raw.extract_state add column rows_loaded_today bigint")
    changed = tables_page.render(conn)
    conn.close()
    assert changed != page and "| `rows_loaded_today` | BIGINT |" in changed


def test_every_warehouse_table_is_described(schema_db):
    descriptions = tables_page.load_descriptions()
    assert tables_page.problems(tables_page.schema_columns(schema_db), descriptions) == []
    stale = {"tables": {**descriptions["tables"], "raw.no_such_table": {"description": "gone"}}}
    with pytest.raises(ValueError, match="raw.no_such_table: described"):
        tables_page.render(schema_db, stale)


def test_public_tables_keep_their_columns(schema_db):
    tables = tables_page.schema_columns(schema_db)
    for table, columns in PUBLIC_COLUMNS.items():
        assert table in tables, f"{table} missing from the warehouse DDL"
        missing = set(columns) - {c for c, _ in tables[table]}
        assert not missing, f"{table} lacks columns {sorted(missing)}"


def test_sql_examples_run_on_the_warehouse_schema(schema_db):
    blocks = [b for page in PAGES for b in re.findall(r"```sql\n(.*?)```", page.read_text(), flags=re.S)]
    assert blocks, "the docs have no warehouse SQL examples"
    statements = [
        part.strip()
        for block in blocks
        for part in block.split(";")
        if any(line.strip() and not line.strip().startswith("--") for line in part.splitlines())
    ]
    assert statements
    for statement in statements:
        schema_db.execute(statement).fetchall()  # binds every table and column it names


def test_quick_start_test_command_is_what_ci_runs():
    readme = README.read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    assert re.search(r"^python -m pytest\s*$", readme, flags=re.M), "the README's test command is missing"
    assert re.search(r"^python -m pytest\s*$", ci, flags=re.M), ".ci/run must call the README's test command"
    assert "aimatrix-pipeline demo" in readme and "aimatrix-pipeline watch" in readme


def _prose(text: str) -> str:
    """The text outside fenced code blocks (links and paths in code samples are not checked)."""
    return re.sub(r"^```.*?^```", "", text, flags=re.S | re.M)


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower().replace("`", ""))
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    seen: dict[str, int] = {}
    out = set()
    for heading in re.findall(r"^#{1,6} (.+)$", _prose(path.read_text()), flags=re.M):
        base = slug(heading)
        n = seen.get(base, 0)
        seen[base] = n + 1
        out.add(base if n == 0 else f"{base}-{n}")
    return out


def test_slug_matches_github():
    assert slug("dagster.yaml (Dagster's instance configuration)") == "dagsteryaml-dagsters-instance-configuration"
    assert slug("Your own database (`aimatrix-pipeline watch`)") == "your-own-database-aimatrix-pipeline-watch"
    assert slug("raw.activity") == "rawactivity"


def test_relative_links_and_anchors_resolve():
    broken = []
    for page in PAGES:
        for target in re.findall(r"\]\(([^)\s]+)\)", _prose(page.read_text())):
            if re.match(r"^[a-z]+:", target):
                continue  # https:, mailto:
            path_part, _, anchor = target.partition("#")
            dest = (page.parent / path_part).resolve() if path_part else page
            where = f"{page.relative_to(ROOT)}: {target}"
            if not dest.exists():
                broken.append(f"{where} (no such file)")
            elif anchor and dest.suffix == ".md" and anchor not in anchors(dest):
                broken.append(f"{where} (no such heading)")
    assert broken == []


def test_files_the_pages_name_exist():
    """A page that names a file of the repository (in backticks) names one that exists."""
    missing = []
    for page in PAGES:
        for name in re.findall(r"`((?:aimatrix_pipeline|sql|tests|benchmarks|deploy|docs)/[\w./-]+)`", page.read_text()):
            if "<" in name or "*" in name or ".." in name or name.startswith("benchmarks/results"):
                continue
            if not (ROOT / name.rstrip("/")).exists():
                missing.append(f"{page.relative_to(ROOT)}: {name}")
    assert missing == []


def _resolves(dotted: str) -> bool:
    """`dotted` is a module of the package, or an attribute chain on the longest module prefix."""
    parts = dotted.split(".")
    for n in range(len(parts), 1, -1):
        try:
            obj = importlib.import_module(".".join(parts[:n]))
        except ModuleNotFoundError:
            continue
        for attr in parts[n:]:
            if not hasattr(obj, attr):
                return False
            obj = getattr(obj, attr)
        return True
    return False


def test_modules_the_pages_name_exist():
    """A dotted name under aimatrix_pipeline that a page gives (`-m aimatrix_pipeline.locations`,
    `aimatrix_pipeline.definitions.build_definitions`) starts with a module of the package: a moved
    module does not live on in the commands the pages tell users to run."""
    missing = []
    for page in PAGES:
        for name in set(re.findall(r"\baimatrix_pipeline(?:\.\w+)+", page.read_text())):
            if not _resolves(name):
                missing.append(f"{page.relative_to(ROOT)}: {name}")
    assert missing == []


def test_code_cites_only_docs_that_exist():
    """Comments and docstrings that send a reader to a page of docs/ name one that exists."""
    missing = []
    for folder in ("aimatrix_pipeline", "tests", "sql", "deploy", "benchmarks"):
        for path in (ROOT / folder).rglob("*"):
            if path.suffix not in {".py", ".sql", ".yaml", ".yml", ".toml"} or "fixtures" in path.parts:
                continue
            for name in re.findall(r"\bdocs/[\w/.-]+\.md\b", path.read_text(errors="replace")):
                if not (ROOT / name).exists():
                    missing.append(f"{path.relative_to(ROOT)}: {name}")
    assert missing == []


def test_environment_variables_the_pages_name_are_in_the_code():
    """Every AIMATRIX_* / SUPABASE_* / DAGSTER_* variable a page names appears in the code or the
    configuration files (a renamed or dropped variable does not live on in the docs)."""
    code = "".join(
        path.read_text(errors="replace")
        for folder in ("aimatrix_pipeline", "tests", "deploy", "sql", "benchmarks")
        for path in (ROOT / folder).rglob("*")
        if path.is_file() and path.suffix in {".py", ".yaml", ".yml", ".sql", ".toml", ".html"}
    ) + "".join((ROOT / name).read_text() for name in ("dagster.yaml", "alert_rules.yaml", ".ci/run"))
    # One variable per threshold, named from the threshold (AIMATRIX_ANALYTICS_<NAME>): the names
    # the settings module derives count as in the code.
    from aimatrix_pipeline.shared.thresholds import Thresholds

    code += " ".join(f"AIMATRIX_ANALYTICS_{f.upper()}" for f in Thresholds.__dataclass_fields__)
    unknown = sorted({
        f"{page.relative_to(ROOT)}: {name}"
        for page in PAGES
        for name in re.findall(r"\b(?:AIMATRIX|SUPABASE|DAGSTER)_[A-Z0-9_]*[A-Z0-9]\b", page.read_text())
        if name not in code
    })
    assert unknown == []


def _subcommands(parser: argparse.ArgumentParser) -> dict:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action.choices
    return {}


def test_commands_and_options_the_pages_show_exist():
    """`aimatrix-pipeline CMD [SUB] --option` in a page is a command and option the parser has."""
    from aimatrix_pipeline.cli import build_parser

    parser = build_parser()
    checked, unknown = 0, set()
    for page in PAGES:
        for match in re.finditer(r"aimatrix-pipeline((?: [a-z][a-z-]*)+)([^\n`|]*)", page.read_text()):
            command, path = parser, []
            for word in match.group(1).split():
                choices = _subcommands(command)
                if not choices:
                    break
                if word not in choices:
                    unknown.add(f"{page.relative_to(ROOT)}: {' '.join([*path, word])}")
                    command = None
                    break
                command, path = choices[word], [*path, word]
            if command is None or not path:
                continue
            checked += 1
            options = {o for action in command._actions for o in action.option_strings}
            rest = match.group(2).split(" -- ")[0].split("#")[0].split("||")[0]
            unknown |= {f"{page.relative_to(ROOT)}: {' '.join(path)} {o}"
                        for o in re.findall(r"(?<![\w-])(--[a-z][a-z-]*)", rest) if o not in options}
    assert checked > 20
    assert unknown == set()
