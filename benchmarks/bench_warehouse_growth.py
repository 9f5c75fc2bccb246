"""Benchmark: warehouse size after N simulated days for P projects, with the retention policy.

Synthetic raw rows (shaped like real snapshots: one pg_stat_statements row per statement and
snapshot with every counter filled, the info row, and table_stats for --tables tables) are inserted
straight into a DuckDB warehouse, one simulated day at a time, and the retention pass runs after
each day as the daily schedule would. Reported: the file size and row counts at the end, and the
size without retention (measured while everything is still in the full tier, extrapolated
linearly; labelled as an estimate).

Usage: python benchmarks/bench_warehouse_growth.py [--projects 10] [--days 90] [--statements 300]
           [--tables 40] [--interval-minutes 5] [--full-days 7] [--hourly-days 90]
Results: benchmarks/results/warehouse_growth.json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from workdir import workdir

from aimatrix_pipeline.fleet import retention
from aimatrix_pipeline.resources.warehouse import WarehouseResource

T0 = datetime(2026, 1, 1, tzinfo=UTC)

PGSS_DAY = """
insert into raw.pg_stat_statements_snapshots by name
with grid as (
    select 'project-' || p as project, $day * $per_day + s as s, q
    from range($projects) a(p), range($per_day) b(s), range($statements) c(q)
)
select project,
       $t0 + to_minutes(cast($interval * s as bigint)) as snapshot_at,
       16384 + (q % 3) as userid, 5 as dbid, true as toplevel,
       (hash(project, q) // 2)::bigint as queryid,
       s * (q % 11) as plans, s * (q % 11) * 0.05 as total_plan_time, 0.01 as min_plan_time,
       0.2 + q % 5 as max_plan_time, 0.05 as mean_plan_time, 0.01 as stddev_plan_time,
       s * (1 + q % 17) as calls, s * (1 + q % 17) * (0.3 + (q % 29) * 0.7) as total_exec_time,
       0.1 as min_exec_time, 5.0 + q % 300 as max_exec_time, 0.3 + (q % 29) * 0.7 as mean_exec_time,
       1.5 as stddev_exec_time,
       s * (1 + q % 17) * (q % 50) as rows,
       s * 40 * (1 + q % 9) as shared_blks_hit, s * (q % 4) as shared_blks_read,
       s * (q % 3) as shared_blks_dirtied, s * (q % 2) as shared_blks_written,
       0 as local_blks_hit, 0 as local_blks_read, 0 as local_blks_dirtied, 0 as local_blks_written,
       s * (q % 2) as temp_blks_read, s * (q % 2) as temp_blks_written,
       s * (q % 4) * 0.02 as shared_blk_read_time, s * (q % 2) * 0.03 as shared_blk_write_time,
       0.0 as local_blk_read_time, 0.0 as local_blk_write_time,
       0.0 as temp_blk_read_time, 0.0 as temp_blk_write_time,
       s * (q % 3) as wal_records, s * (q % 2) as wal_fpi, s * (q % 3) * 120.0 as wal_bytes,
       0 as wal_buffers_full,
       0 as jit_functions, 0.0 as jit_generation_time, 0 as jit_inlining_count, 0.0 as jit_inlining_time,
       0 as jit_optimization_count, 0.0 as jit_optimization_time, 0 as jit_emission_count,
       0.0 as jit_emission_time, 0 as jit_deform_count, 0.0 as jit_deform_time,
       0 as parallel_workers_to_launch, 0 as parallel_workers_launched,
       $t0 as stats_since, $t0 as minmax_stats_since
from grid
"""

INFO_DAY = """
insert into raw.pg_stat_statements_info by name
select 'project-' || p as project,
       $t0 + to_minutes(cast($interval * ($day * $per_day + s) as bigint)) as snapshot_at,
       5 as dbid, 'postgres' as datname, 0 as dealloc, $t0 as stats_reset,
       $t0 as postmaster_start_time, 170004 as server_version_num, 5000 as statements_max,
       $statements as statements_count
from range($projects) a(p), range($per_day) b(s)
"""

TABLES_DAY = """
insert into raw.table_stats by name
select 'project-' || p as project,
       $t0 + to_minutes(cast($interval * ($day * $per_day + s) as bigint)) as snapshot_at,
       16400 + t as relid, 'public' as schemaname, 'table_' || t as relname,
       1000.0 * t as reltuples, 1000 * t as n_live_tup, s % 97 as n_dead_tup, s % 13 as n_mod_since_analyze,
       s * t as seq_scan, s * t * 100 as seq_tup_read, s * t * 4 as idx_scan, s * t * 9 as idx_tup_fetch,
       s * 3 as n_tup_ins, s as n_tup_upd, 0 as n_tup_del, s // 2 as n_tup_hot_upd,
       8192 * 10 * t as table_bytes, 8192 * 4 * t as indexes_bytes, 8192 * 14 * t as total_bytes,
       true as has_primary_key
from range($projects) a(p), range($per_day) b(s), range($tables) c(t)
"""


def file_bytes(wh: WarehouseResource) -> int:
    return sum(p.stat().st_size for p in (wh.file, wh.file.with_name(wh.file.name + ".wal")) if p.exists())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--projects", type=int, default=10)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--statements", type=int, default=300)
    parser.add_argument("--tables", type=int, default=40)
    parser.add_argument("--interval-minutes", type=float, default=5.0)
    parser.add_argument("--full-days", type=int, default=retention.DEFAULT_FULL_DAYS)
    parser.add_argument("--hourly-days", type=int, default=retention.DEFAULT_HOURLY_DAYS)
    parser.add_argument("--workdir", default=None)
    args = parser.parse_args()

    work = workdir(args.workdir, "aimatrix-growth-")
    wh = WarehouseResource(path=str(work / "warehouse.duckdb"), memory_limit="1GB")
    policy = retention.RetentionPolicy(full_days=args.full_days, hourly_days=args.hourly_days)
    per_day = round(24 * 60 / args.interval_minutes)
    params = {"projects": args.projects, "per_day": per_day, "statements": args.statements,
              "tables": args.tables, "interval": args.interval_minutes, "t0": T0}
    print(f"{args.projects} projects x {args.days} days x {per_day} snapshots/day x "
          f"{args.statements} statements (+{args.tables} tables) in {wh.file}", flush=True)

    started = time.perf_counter()
    insert_s = retention_s = 0.0
    full_tier_bytes_per_day = None
    history = []
    for day in range(args.days):
        t = time.perf_counter()
        with wh.transaction() as conn:
            for sql in (PGSS_DAY, INFO_DAY, TABLES_DAY):
                bound = {**params, "day": day}
                conn.execute(sql, {k: v for k, v in bound.items() if f"${k}" in sql})
        insert_s += time.perf_counter() - t
        now = T0 + timedelta(days=day + 1)
        t = time.perf_counter()
        result = retention.run_retention(wh, policy, now=now)
        retention_s += time.perf_counter() - t
        size = file_bytes(wh)
        if day + 1 == min(args.full_days, args.days):
            full_tier_bytes_per_day = size / (day + 1)
        history.append({"day": day + 1, "bytes": size, "rows_kept": result.total_kept})
        if (day + 1) % 10 == 0 or day + 1 == args.days:
            print(f"day {day + 1:3d}: {size / 2**20:8.1f} MiB, {result.total_kept:>12,} snapshot rows kept "
                  f"({time.perf_counter() - started:.0f}s)", flush=True)

    with wh.reader() as conn:
        counts = dict(conn.execute(
            "select 'pg_stat_statements_snapshots', count(*) from raw.pg_stat_statements_snapshots "
            "union all select 'table_stats', count(*) from raw.table_stats "
            "union all select 'distinct_snapshots_per_project', count(distinct snapshot_at) "
            "from raw.pg_stat_statements_info where project = 'project-0'"
        ).fetchall())
    final = file_bytes(wh)
    without = (full_tier_bytes_per_day or 0) * args.days
    inserted_rows = args.days * per_day * args.projects * (args.statements + 1 + args.tables)
    results = {
        "projects": args.projects, "days": args.days, "statements_per_project": args.statements,
        "tables_per_project": args.tables, "snapshots_per_day": per_day,
        "policy": {"full_days": args.full_days, "hourly_days": args.hourly_days},
        "rows_inserted": inserted_rows, "rows_kept": counts,
        "warehouse_bytes": final, "warehouse_mib": round(final / 2**20, 1),
        "estimated_bytes_without_retention": int(without),
        "estimated_mib_without_retention": round(without / 2**20, 1),
        "insert_seconds": round(insert_s, 1), "retention_seconds_total": round(retention_s, 1),
        "load_average": os.getloadavg(),
        "history": history,
    }
    out = ROOT / "benchmarks" / "results" / "warehouse_growth.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2, default=str))
    print()
    print(f"{'':38s}{'value':>16s}")
    print(f"{'warehouse after ' + str(args.days) + ' days (MiB)':38s}{final / 2**20:16.1f}")
    print(f"{'without retention, estimated (MiB)':38s}{without / 2**20:16.1f}")
    print(f"{'pg_stat_statements rows kept':38s}{counts['pg_stat_statements_snapshots']:16,}")
    print(f"{'snapshots kept per project':38s}{counts['distinct_snapshots_per_project']:16,}")
    print(f"{'rows inserted in total':38s}{inserted_rows:16,}")
    print(f"{'retention passes, total seconds':38s}{retention_s:16.1f}")
    print(f"load average: {os.getloadavg()}")


if __name__ == "__main__":
    main()
