"""Benchmark: what our statistics tick costs the monitored database, from its own statistics.

A least-privileged observer role (LOGIN + pg_monitor, as in sql/demo/06_monitoring_role.sql) runs
--ticks statistics ticks against a database with ~--statements distinct statements. Afterwards a
superuser reads pg_stat_statements for that role only (top-level statements: total execution +
planning time), so the figure is the server's own account of the database time our queries took,
not a client-side stopwatch. Per tick, divided by the interval, that is the share of one core the
observer takes (goal < 1 % at a 5-minute interval). The client-side wall time per tick and the
server processes' CPU seconds (psutil) are reported beside it.

Usage: python benchmarks/bench_observer_cost.py [--statements 300] [--ticks 10] [--interval-s 300]
Results: benchmarks/results/observer_cost.json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from fleet_common import distinct_statements, server_cpu_seconds, setup_database, statistics_tick
from workdir import workdir

from aimatrix_pipeline.demo.local_postgres import LocalPostgres
from aimatrix_pipeline.resources.source_postgres import SourcePostgresResource
from aimatrix_pipeline.resources.warehouse import WarehouseResource
from aimatrix_pipeline.settings import Project

ROLE = "aimatrix_observer_bench"
OUR_TIME = """
select count(*) as statements, coalesce(sum(calls), 0) as calls,
       coalesce(sum(total_exec_time + total_plan_time), 0) as total_ms,
       coalesce(sum(shared_blks_hit + shared_blks_read), 0) as blocks
from pg_stat_statements(false)
where userid = (select oid from pg_roles where rolname = %s) and toplevel
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--statements", type=int, default=300)
    parser.add_argument("--ticks", type=int, default=10)
    parser.add_argument("--interval-s", type=float, default=300.0)
    parser.add_argument("--workdir", default=None)
    args = parser.parse_args()

    work = workdir(args.workdir, "aimatrix-observer-")
    server = LocalPostgres(work / "pg").start()
    try:
        url = server.create_database("observed")
        setup_database(url, args.statements)
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f"drop role if exists {ROLE}")
            conn.execute(f"create role {ROLE} login")
            conn.execute(f"grant pg_monitor to {ROLE}")
        os.environ["BENCH_OBSERVER_DB_URL"] = server.url("observed", user=ROLE)
        project = Project("observed", "o", "BENCH_OBSERVER_DB_URL")
        source = SourcePostgresResource(slot_dir=str(work / "slots"))
        wh = WarehouseResource(path=str(work / "warehouse.duckdb"))
        base = datetime(2026, 3, 1, tzinfo=UTC)

        warm = statistics_tick(source, wh, [project], base)  # first sight: every text fetched
        with psycopg.connect(url, autocommit=True) as conn:
            before = conn.execute(OUR_TIME, [ROLE]).fetchone()
        cpu_before = server_cpu_seconds(server.data_dir)
        walls = []
        for t in range(1, args.ticks + 1):
            walls.append(statistics_tick(source, wh, [project], base + timedelta(minutes=5 * t)).wall_s)
        server_cpu = server_cpu_seconds(server.data_dir) - cpu_before
        with psycopg.connect(url, autocommit=True) as conn:
            after = conn.execute(OUR_TIME, [ROLE]).fetchone()
        statements = distinct_statements(url)
    finally:
        server.stop("immediate")

    before, after = [tuple(float(v) for v in row) for row in (before, after)]
    per_tick_ms = (after[2] - before[2]) / args.ticks
    results = {
        "distinct_statements_in_db": statements,
        "ticks": args.ticks,
        "our_statement_kinds": after[0],
        "our_calls_per_tick": (after[1] - before[1]) / args.ticks,
        "db_time_per_tick_ms": per_tick_ms,
        "blocks_per_tick": (after[3] - before[3]) / args.ticks,
        "share_of_one_core": per_tick_ms / (args.interval_s * 1000),
        "server_cpu_per_tick_s": server_cpu / args.ticks,
        "server_cpu_share_of_one_core": server_cpu / args.ticks / args.interval_s,
        "client_wall_per_tick_s": sum(walls) / len(walls),
        "warmup_tick_wall_s": warm.wall_s,
        "interval_s": args.interval_s,
        "load_average": os.getloadavg(),
    }
    out = ROOT / "benchmarks" / "results" / "observer_cost.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2, default=float))
    print(f"{'':44s}{'value':>14s}")
    print(f"{'distinct statements in the database':44s}{statements:>14,}")
    print(f"{'our queries per tick (calls)':44s}{results['our_calls_per_tick']:>14.0f}")
    print(f"{'database time per tick, ms (pg_stat_statements)':44s}{per_tick_ms:>14.1f}")
    print(f"{'share of one core at the interval':44s}{results['share_of_one_core']:>14.4%}")
    print(f"{'server CPU per tick, s (all processes)':44s}{results['server_cpu_per_tick_s']:>14.3f}")
    print(f"{'server CPU share of one core':44s}{results['server_cpu_share_of_one_core']:>14.4%}")
    print(f"{'client wall per tick, s':44s}{results['client_wall_per_tick_s']:>14.3f}")
    print(f"goal: < 1 % of one core at a {args.interval_s:.0f}s interval; load average {os.getloadavg()}")


if __name__ == "__main__":
    main()
