"""Shared parts of the fleet benchmarks: monitored databases with a few hundred distinct statements.

Each bench database gets `tables` small tables (with an index, a foreign key and a sequence each)
and a workload of `statements` distinct statement shapes (so pg_stat_statements holds that many
entries for the database), each executed a few times. The statistics tick then reads what a real
project's tick reads: pg_stat_statements, table/index/database stats, activity, foreign keys,
sequences and (absent) vector indexes.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import psycopg

from aimatrix_pipeline.extract import snapshots
from aimatrix_pipeline.resources.source_postgres import SourcePostgresResource
from aimatrix_pipeline.resources.warehouse import WarehouseResource
from aimatrix_pipeline.settings import Project

SHAPES = [
    "select a from t{k} where a = {v}",
    "select b from t{k} where b > {v} order by b limit 3",
    "select count(*) from t{k} where c like 'x{v}%'",
    "select a, b from t{k} where a between {v} and {v} + 5",
    "update t{k} set b = b + 1 where a = {v}",
    "select t.a, p.id from t{k} t join parent{k} p on p.id = t.parent_id where t.a = {v}",
    "select max(b) from t{k} group by a % 3 having count(*) > {v}",
    "select * from t{k} where a = any(array[{v}, {v} + 1])",
    "select nextval('s{k}') + {v}",
    "select exists (select 1 from t{k} where b = {v})",
]


def setup_database(url: str, statements: int, tables: int = 30, repeat: int = 3) -> None:
    per_table = max(1, statements // tables)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("create extension if not exists pg_stat_statements")
        for k in range(tables):
            conn.execute(
                f"create table parent{k} (id int primary key);"
                f"insert into parent{k} select generate_series(1, 20);"
                f"create table t{k} (id serial primary key, a int, b int, c text, parent_id int references parent{k});"
                f"insert into t{k} (a, b, c, parent_id) select i, i % 17, 'x' || i, 1 + i % 20 from generate_series(1, 200) i;"
                f"create index on t{k} (a); create sequence s{k};"
            )
        conn.execute("analyze")
        for k in range(tables):
            for variant in range(per_table):
                # distinct shapes: SHAPES differ by text, and the table differs per k; beyond the
                # 10 shapes, the column list grows so the normalised text stays distinct
                shape = SHAPES[variant % len(SHAPES)]
                extra = ", 1" * (variant // len(SHAPES))
                sql = shape.format(k=k, v=variant + 1)
                if extra and sql.startswith("select ") and " from " in sql:
                    sql = sql.replace(" from ", f"{extra} from ", 1)
                elif extra:
                    sql = sql + f" returning 1{extra}" if sql.startswith("update") else f"select ({sql}){extra}"
                for _ in range(repeat):
                    conn.execute(sql)


def distinct_statements(url: str) -> int:
    with psycopg.connect(url, autocommit=True) as conn:
        return conn.execute(
            "select count(*) from pg_stat_statements(false) s "
            "where s.dbid = (select oid from pg_database where datname = current_database())"
        ).fetchone()[0]


@dataclass
class TickResult:
    wall_s: float
    cpu_s: float
    rows: int


def statistics_tick(source: SourcePostgresResource, warehouse: WarehouseResource,
                    projects: list[Project], snapshot_at: datetime | None = None) -> TickResult:
    """One scheduled statistics tick: every snapshot asset's work, for every project, in turn."""
    snapshot_at = snapshot_at or datetime.now(UTC).replace(microsecond=0)
    wall, cpu = time.perf_counter(), time.process_time()
    rows = 0
    for project in projects:
        for name in snapshots.SPECS:
            result = snapshots.take_snapshot(name, source, warehouse, project, snapshot_at)
            rows += sum(result.rows.values())
    return TickResult(time.perf_counter() - wall, time.process_time() - cpu, rows)


def server_cpu_seconds(data_dir: Path) -> float:
    """CPU seconds used so far by a cluster's processes (postmaster and its children)."""
    import psutil

    pid = int((data_dir / "postmaster.pid").read_text().splitlines()[0])
    total = 0.0
    try:
        main = psutil.Process(pid)
        procs = [main] + main.children(recursive=True)
    except psutil.NoSuchProcess:
        return 0.0
    for proc in procs:
        try:
            times = proc.cpu_times()
            total += times.user + times.system + getattr(times, "children_user", 0) + getattr(times, "children_system", 0)
        except psutil.NoSuchProcess:
            pass
    return total
