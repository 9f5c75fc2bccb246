"""Run the analytics derivations: SQL files under `sql/warehouse/analytics/`, executed in DuckDB.

Each derivation file is one SELECT with named parameters (`$project`, thresholds by name). This
module only binds parameters and replaces the project's rows (`delete` then `insert ... by name`)
on a connection the caller holds inside one warehouse transaction, so a failure leaves the
previous rows in place. No raw row ever travels into Python.

The same functions serve the Dagster assets and the tests, so the tests exercise exactly the SQL
the assets run.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Mapping

import duckdb

from aimatrix_pipeline.shared.thresholds import Thresholds, as_params, load_thresholds
from aimatrix_pipeline.sql_files import load_sql

_PARAM = re.compile(r"(?<![\w$])\$([A-Za-z_][A-Za-z0-9_]*)")
_COMMENT = re.compile(r"--[^\n]*")

# table -> SQL file, in dependency order (later derivations read earlier tables).
DERIVATIONS: dict[str, str] = {
    "pg_stat_statements_intervals": "warehouse/analytics/pg_stat_statements_intervals.sql",
    "pg_stat_statements_deltas": "warehouse/analytics/pg_stat_statements_deltas.sql",
    "slow_queries_summary": "warehouse/analytics/slow_queries_summary.sql",
    "plan_changes": "warehouse/analytics/plan_changes.sql",
    "index_impact": "warehouse/analytics/index_impact.sql",
    "query_regressions": "warehouse/analytics/query_regressions.sql",
    "database_health": "warehouse/analytics/database_health.sql",
    "table_health": "warehouse/analytics/table_health.sql",
    "vector_health": "warehouse/analytics/vector_health.sql",
    "embedding_stats": "warehouse/analytics/embedding_stats.sql",
    "error_stats": "warehouse/analytics/error_stats.sql",
    "optimization_recommendations": "warehouse/analytics/optimization_recommendations.sql",
}

# Findings kept in their own file (one concern each), staged as temp table `_<name>` and unioned
# by optimization_recommendations.sql, which adds ids and first_seen to all findings alike.
FINDING_SOURCES: dict[str, str] = {
    "security_findings": "warehouse/analytics/security_findings.sql",
    "health_findings": "warehouse/analytics/health_findings.sql",
}


def sql_params(sql: str, available: Mapping[str, object]) -> dict[str, object]:
    """The subset of `available` the SQL text names (DuckDB rejects unused named parameters)."""
    names = set(_PARAM.findall(_COMMENT.sub("", sql)))
    missing = names - set(available)
    if missing:
        raise KeyError(f"SQL parameter(s) without a value: {', '.join(sorted(missing))}")
    return {name: available[name] for name in names}


def base_params(
    project: str,
    thresholds: Thresholds | None = None,
    *,
    as_of: datetime | None = None,
    compute_size: str | None = None,
    include_own_statements: bool | None = None,
) -> dict[str, object]:
    """Parameters every derivation may use: project, thresholds, the clock, the compute size,
    whether the pipeline's own statements count as slow queries (default: the setting
    `AIMATRIX_SLOW_QUERIES_INCLUDE_OWN`)."""
    params: dict[str, object] = as_params(thresholds or load_thresholds())
    if include_own_statements is None:
        from aimatrix_pipeline.settings import current_settings

        include_own_statements = current_settings().slow_queries_include_own
    params["include_own_statements"] = bool(include_own_statements)
    params["project"] = project
    params["as_of"] = as_of or datetime.now(timezone.utc)
    params["compute_size"] = (compute_size or "").lower()
    return params


def replace_rows(conn: duckdb.DuckDBPyConnection, table: str, params: Mapping[str, object]) -> int:
    """Replace `analytics.<table>` rows of params['project'] with the derivation's result."""
    sql = load_sql(DERIVATIONS[table]).strip().rstrip(";")
    bound = sql_params(sql, params)
    conn.execute(f"delete from analytics.{table} where project = $project", {"project": params["project"]})
    conn.execute(f"insert into analytics.{table} by name ({sql})", bound)
    return row_count(conn, table, params["project"])


def row_count(conn: duckdb.DuckDBPyConnection, table: str, project: str) -> int:
    return conn.execute(
        f"select count(*) from analytics.{table} where project = $project", {"project": project}
    ).fetchone()[0]


def derive_recommendations(conn: duckdb.DuckDBPyConnection, params: Mapping[str, object]) -> int:
    """Replace the project's findings, keeping id and first_seen of findings seen before.

    The SELECT joins the previous rows (by stable id) before they are deleted, so it is staged in
    a temporary table first; a finding that no longer fires simply is not re-inserted. The
    FINDING_SOURCES are staged before it, as the temporary tables it reads.
    """
    for name, path in FINDING_SOURCES.items():
        part = load_sql(path).strip().rstrip(";")
        conn.execute(f"create or replace temp table _{name} as ({part})", sql_params(part, params))
    sql = load_sql(DERIVATIONS["optimization_recommendations"]).strip().rstrip(";")
    bound = sql_params(sql, params)
    conn.execute(f"create or replace temp table _new_recommendations as ({sql})", bound)
    conn.execute(
        "delete from analytics.optimization_recommendations where project = $project",
        {"project": params["project"]},
    )
    conn.execute("insert into analytics.optimization_recommendations by name (select * from _new_recommendations)")
    conn.execute("drop table _new_recommendations")
    for name in FINDING_SOURCES:
        conn.execute(f"drop table _{name}")
    return row_count(conn, "optimization_recommendations", params["project"])


def derive(conn: duckdb.DuckDBPyConnection, table: str, params: Mapping[str, object]) -> int:
    if table == "optimization_recommendations":
        return derive_recommendations(conn, params)
    return replace_rows(conn, table, params)


def derive_all(conn: duckdb.DuckDBPyConnection, params: Mapping[str, object]) -> dict[str, int]:
    """Every derivation in dependency order (tests and the CLI; assets run them one by one)."""
    return {table: derive(conn, table, params) for table in DERIVATIONS}
