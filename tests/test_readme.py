"""The README stays in agreement with the code: its SQL runs, its tables exist, its commands are CI's."""

from __future__ import annotations

import re
from pathlib import Path

import duckdb
import pytest

from aimatrix_pipeline.resources.warehouse import apply_schema

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
USER_SCHEMAS = ("raw", "analytics", "cost", "alerts", "ops")

# The contract's tables and columns (DESIGN section 2): users query these ad hoc.
CONTRACT = {
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


def _tables(conn) -> dict[str, set[str]]:
    rows = conn.execute(
        "select table_schema || '.' || table_name, column_name from information_schema.columns "
        f"where table_schema in {USER_SCHEMAS}"
    ).fetchall()
    out: dict[str, set[str]] = {}
    for table, column in rows:
        out.setdefault(table, set()).add(column)
    return out


def test_contract_tables_have_contract_columns(schema_db):
    tables = _tables(schema_db)
    for table, columns in CONTRACT.items():
        assert table in tables, f"{table} missing from the warehouse DDL"
        missing = set(columns) - tables[table]
        assert not missing, f"{table} lacks contract columns {sorted(missing)}"


def test_every_warehouse_table_is_documented(schema_db):
    undocumented = [t for t in _tables(schema_db) if t not in README]
    assert undocumented == [], f"tables without a README entry: {undocumented}"


def test_readme_sql_examples_run_on_the_warehouse_schema(schema_db):
    blocks = re.findall(r"```sql\n(.*?)```", README, flags=re.S)
    assert blocks, "README has no warehouse SQL examples"
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
    ci = (ROOT / ".ci" / "run").read_text()
    assert "python -m pytest" in README
    assert re.search(r"^python -m pytest\s*$", ci, flags=re.M), ".ci/run must call the README's test command"
    assert "aimatrix-pipeline demo" in README
