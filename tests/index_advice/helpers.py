"""Run the real extract, deltas and index advice asset for the `default` project (or another)."""

from __future__ import annotations

from datetime import datetime, timezone

import dagster as dg
import psycopg

from aimatrix_pipeline.analytics import derive
from aimatrix_pipeline.extract import snapshots
from aimatrix_pipeline.extract.index_advice.assets import index_suggestions
from aimatrix_pipeline.resources.settings_resource import SettingsResource
from aimatrix_pipeline.resources.source_postgres import SourcePostgresResource
from aimatrix_pipeline.settings import Project
from aimatrix_pipeline.shared.thresholds import load_thresholds
from tests.index_advice import workload

PROJECT = Project(name="default", organization="o1", db_url_env="SUPABASE_DB_URL")


def snapshot(warehouse, at: datetime | None = None, project: Project = PROJECT) -> datetime:
    at = at or datetime.now(timezone.utc)
    for name in ("pg_stat_statements", "table_stats"):
        snapshots.take_snapshot(name, SourcePostgresResource(), warehouse, project, at)
    return at


def derive_deltas(warehouse, project: Project = PROJECT) -> None:
    params = derive.base_params(project.name, load_thresholds(env={}))
    with warehouse.transaction() as conn:
        for table in ("pg_stat_statements_intervals", "pg_stat_statements_deltas"):
            derive.derive(conn, table, params)


def observe_workload(url: str, warehouse, rounds: int = 20) -> None:
    """Two statistics snapshots with the fixture's workload between them, then the deltas."""
    snapshot(warehouse)
    workload.run_workload(url, rounds)
    snapshot(warehouse)
    derive_deltas(warehouse)


def advise(warehouse, raise_on_error: bool = True, **config):
    return dg.materialize(
        [index_suggestions], partition_key=PROJECT.name,
        resources={"warehouse": warehouse, "source": SourcePostgresResource(), "settings": SettingsResource()},
        run_config={"ops": {index_suggestions.op.name: {"config": config}}} if config else None,
        raise_on_error=raise_on_error,
    )


def suggestions(warehouse) -> list[dict]:
    with warehouse.reader() as conn:
        cur = conn.execute("select * from analytics.index_suggestions where project = 'default' order by rank")
        cols = [d[0] for d in cur.description]
        return [dict(zip(cols, r)) for r in cur.fetchall()]


def last_run(warehouse) -> dict:
    with warehouse.reader() as conn:
        cur = conn.execute("select * from analytics.index_advice_runs where project = 'default' order by run_at desc "
                           "limit 1")
        cols = [d[0] for d in cur.description]
        return dict(zip(cols, cur.fetchone()))


def found(rows: list[dict]) -> set[tuple[str, str, tuple[str, ...]]]:
    return {(r["object_schema"], r["object_name"], tuple(r["columns"])) for r in rows if r["name"] == "index_suggestion"}


def counters(url: str) -> dict[int, tuple[int, float]]:
    """queryid -> (calls, total_exec_time) of this database's statements."""
    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute("select queryid, calls, total_exec_time from extensions.pg_stat_statements "
                            "where dbid = (select oid from pg_database where datname = current_database())").fetchall()
    return {r[0]: (r[1], r[2]) for r in rows}


def mean_ms_of(url: str, statements: dict, rounds: int = 10) -> float:
    """Mean execution time of `statements` over `rounds`, from pg_stat_statements' own counters."""
    before = counters(url)
    workload.run_workload(url, rounds, statements)
    after = counters(url)
    calls = total = 0.0
    for qid, (c, t) in after.items():
        c0, t0 = before.get(qid, (0, 0.0))
        if c - c0 == rounds and qid in before or (qid not in before and c == rounds):
            calls += c - c0
            total += t - t0
    assert calls >= rounds * len(statements), "pg_stat_statements lost the workload's statements"
    return total / calls
