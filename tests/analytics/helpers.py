"""Run the real extract and then the analytics derivations, for end-to-end tests."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pglast
import psycopg

from aimatrix_pipeline.analytics import derive
from aimatrix_pipeline.extract import app_logs, snapshots
from aimatrix_pipeline.remediation.statements import _statement_text
from aimatrix_pipeline.resources.source_postgres import SourcePostgresResource
from aimatrix_pipeline.settings import Project
from aimatrix_pipeline.shared.thresholds import load_thresholds

FIXTURES = Path(__file__).parent / "fixtures"
SNAPSHOT_NAMES = (
    "pg_stat_statements", "table_stats", "index_stats", "database_stats", "sequences",
    "activity", "foreign_keys", "vector_indexes", "security", "not_valid_constraints", "replication_slots",
    "bloat",
)
LOG_TABLES = ("query_performance_logs", "vector_query_logs", "embedding_generation_logs", "error_events")


def project_for(monkeypatch, source_db, name: str = "p1", compute_size: str = "micro") -> Project:
    env = f"AIMATRIX_TEST_{name.upper()}_DB_URL"
    monkeypatch.setenv(env, source_db.url)
    return Project(name=name, organization="o1", db_url_env=env, compute_size=compute_size)


def snapshot(warehouse, project: Project, at: datetime | None = None, names=SNAPSHOT_NAMES) -> datetime:
    at = at or datetime.now(timezone.utc)
    source = SourcePostgresResource()
    for name in names:
        snapshots.take_snapshot(name, source, warehouse, project, at)
    return at


def extract_logs(warehouse, project: Project, tables=LOG_TABLES) -> None:
    source = SourcePostgresResource()
    for table in tables:
        app_logs.extract_app_log(table, source, warehouse, project)


def run_analytics(warehouse, project: Project, as_of: datetime | None = None, **threshold_overrides) -> dict:
    params = derive.base_params(
        project.name, load_thresholds(env={}, **threshold_overrides),
        as_of=as_of, compute_size=project.compute_size,
    )
    with warehouse.transaction() as conn:
        return derive.derive_all(conn, params)


def findings(warehouse, project: str) -> list[dict]:
    with warehouse.reader() as conn:
        cur = conn.execute(
            "select * from analytics.optimization_recommendations where project = ? order by impact desc",
            [project],
        )
        cols = [d[0] for d in cur.description]
        return [dict(zip(cols, row)) for row in cur.fetchall()]


def run_remediation(url: str, sql: str) -> int:
    """Run each statement of a finding's remediation SQL on its own, in autocommit (as `apply`
    does; CONCURRENTLY cannot run in a transaction block). Returns how many ran."""
    statements = [_statement_text(sql, raw) for raw in pglast.parse_sql(sql)]
    with psycopg.connect(url, autocommit=True) as conn:
        for statement in statements:
            conn.execute(statement)
    return len(statements)
