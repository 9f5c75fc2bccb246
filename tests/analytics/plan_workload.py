"""A table whose lookups are fast with its index and slow without it, for plan-history tests.

`app.plan_probe` holds 200,000 rows; `plan_probe_k_idx` indexes `k`. The probe query is one
statement in pg_stat_statements (`... where k = $1`): with the index it is an index scan, without
it a sequential scan of the whole table, so dropping the index changes its plan and its time.
"""

from __future__ import annotations

from datetime import datetime

import psycopg

from aimatrix_pipeline.extract import plans
from aimatrix_pipeline.resources.source_postgres import SourcePostgresResource
from aimatrix_pipeline.settings import Project
from tests.analytics.helpers import snapshot

PROBE = "select count(*), max(pad) from app.plan_probe where k = %s"
INDEX = "plan_probe_k_idx"


def create_probe_table(url: str, rows: int = 200_000, index: bool = True) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("create table app.plan_probe (id bigserial primary key, k integer not null, pad text)")
        conn.execute("insert into app.plan_probe (k, pad) select g %% 20000, repeat('x', 40) "
                     "from generate_series(1, %s) g", (rows,))
        if index:
            conn.execute(f"create index {INDEX} on app.plan_probe (k)")
        conn.execute("analyze app.plan_probe")


def probe(url: str, calls: int = 30) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        for i in range(calls):
            conn.execute(PROBE, (i % 20000,))


def capture(warehouse, project: Project, at: datetime, top: int = 50):
    return plans.capture_plans(SourcePostgresResource(), warehouse, project, at, top=top,
                               window_hours=24 * 30, timeout_ms=5000)


def stats_snapshot(warehouse, project: Project, at: datetime) -> datetime:
    return snapshot(warehouse, project, at, names=("pg_stat_statements", "index_stats", "table_stats",
                                                    "database_stats"))
