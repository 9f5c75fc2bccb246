"""Benchmark: what one plan capture (the top 50 fingerprints) costs the monitored database.

A database with 30 tables and 90 distinct statements (lookups, joins, updates) run between two
statistics ticks, so the warehouse holds their deltas. A least-privileged observer role (LOGIN +
pg_monitor, plus SELECT on the tables so their plans can be explained; the updates stay
`permission_denied`, as with a role without UPDATE) then runs --runs plan captures of the top
--top fingerprints. The cost is the server's own account: pg_stat_statements for that role
(top-level statements: execution + planning time; EXPLAIN, PREPARE/EXECUTE are utility statements
it tracks), plus the server processes' CPU seconds (psutil) and the client's wall time. The
baseline of the same run is one statistics tick (every snapshot asset) of the same role, measured
the same way: the ratio says what the capture adds to what monitoring already costs.

PG 18 (embedded, EXPLAIN (GENERIC_PLAN)) and, when Debian's postgresql-15 is installed, PG 15
(PREPARE under force_generic_plan).

Usage: python benchmarks/bench_plan_capture.py [--top 50] [--runs 5] [--interval-s 3600] [--majors 18,15]
Results: benchmarks/results/plan_capture.json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from fleet_common import server_cpu_seconds, setup_database, statistics_tick
from workdir import workdir

from aimatrix_pipeline.analytics import derive
from aimatrix_pipeline.demo.local_postgres import LocalPostgres, debian_bin_dir, embedded_bin_dir
from aimatrix_pipeline.extract import plans
from aimatrix_pipeline.resources.source_postgres import SourcePostgresResource
from aimatrix_pipeline.resources.warehouse import WarehouseResource
from aimatrix_pipeline.settings import Project
from aimatrix_pipeline.shared.thresholds import load_thresholds

ROLE = "aimatrix_plan_bench"
TABLES = 30
OUR_TIME = """
select coalesce(sum(calls), 0) as calls,
       coalesce(sum(total_exec_time + total_plan_time), 0) as total_ms
from pg_stat_statements(false)
where userid = (select oid from pg_roles where rolname = %s) and toplevel
"""


def workload(url: str) -> None:
    """90 distinct statements, each run a few times with parameters (normalised to $n)."""
    with psycopg.connect(url, autocommit=True) as conn:
        for k in range(TABLES):
            for i in range(3):
                conn.execute(f"select * from t{k} where a = %s", (i,))
                conn.execute(f"select count(*) from t{k} join parent{k} p on p.id = t{k}.parent_id "
                             f"where t{k}.b = %s", (i,))
                conn.execute(f"update t{k} set c = c where id = %s", (i + 1,))


def our_time(url: str) -> tuple[float, float]:
    with psycopg.connect(url, autocommit=True) as conn:
        calls, ms = conn.execute(OUR_TIME, [ROLE]).fetchone()
    return float(calls), float(ms)


def measure(major: int, bin_dir, work: Path, top: int, runs: int, interval_s: float) -> dict:
    server = LocalPostgres(work / f"pg{major}", bin_dir=bin_dir).start()
    try:
        url = server.create_database("observed")
        setup_database(url, 60, tables=TABLES, repeat=1)
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f"drop role if exists {ROLE}")
            conn.execute(f"create role {ROLE} login")
            conn.execute(f"grant pg_monitor to {ROLE}")
            conn.execute(f"grant select on all tables in schema public to {ROLE}")
        env = f"BENCH_PLANS_{major}_DB_URL"
        os.environ[env] = server.url("observed", user=ROLE)
        project = Project("observed", "o", env)
        source = SourcePostgresResource(slot_dir=str(work / f"slots{major}"))
        wh = WarehouseResource(path=str(work / f"warehouse{major}.duckdb"))
        base = datetime(2026, 3, 1, tzinfo=UTC)
        statistics_tick(source, wh, [project], base)                  # baseline snapshot, texts fetched
        workload(url)
        # baseline of the same run: one statistics tick of the same role
        calls0, ms0 = our_time(url)
        cpu0 = server_cpu_seconds(server.data_dir)
        tick = statistics_tick(source, wh, [project], base + timedelta(minutes=5))
        calls1, ms1 = our_time(url)
        tick_cpu = server_cpu_seconds(server.data_dir) - cpu0
        with wh.transaction() as conn:
            params = derive.base_params(project.name, load_thresholds(env={}), as_of=base + timedelta(minutes=6))
            for table in ("pg_stat_statements_intervals", "pg_stat_statements_deltas"):
                derive.derive(conn, table, params)
        walls, statuses = [], {}
        cpu2 = server_cpu_seconds(server.data_dir)
        for r in range(runs):
            started = time.perf_counter()
            result = plans.capture_plans(source, wh, project, base + timedelta(minutes=6 + r), top=top,
                                         window_hours=24, timeout_ms=2000)
            walls.append(time.perf_counter() - started)
            statuses = result.statuses
        capture_cpu = server_cpu_seconds(server.data_dir) - cpu2
        calls2, ms2 = our_time(url)
        explain_ms = [r["explain_ms"] for r in result.data.to_pylist() if r["explain_ms"] is not None]
        errors = sorted({f"{r['status']}: {r['error']}" for r in result.data.to_pylist() if r["status"] in ("error", "timeout")})
    finally:
        server.stop("immediate")
    capture_db_ms = (ms2 - ms1) / runs
    tick_db_ms = ms1 - ms0
    return {
        "major": major,
        "top": top,
        "runs": runs,
        "statements_explained": result.rows,
        "statuses": statuses,
        "errors": errors,
        "capture_db_time_ms": capture_db_ms,
        "capture_db_time_per_statement_ms": capture_db_ms / max(1, result.rows),
        "capture_calls": (calls2 - calls1) / runs,
        "capture_server_cpu_s": capture_cpu / runs,
        "capture_client_wall_s": sum(walls) / runs,
        "explain_ms_p50": sorted(explain_ms)[len(explain_ms) // 2] if explain_ms else None,
        "explain_ms_max": max(explain_ms) if explain_ms else None,
        "share_of_one_core_at_interval": capture_db_ms / (interval_s * 1000),
        "statistics_tick_db_time_ms": tick_db_ms,
        "statistics_tick_server_cpu_s": tick_cpu,
        "statistics_tick_client_wall_s": tick.wall_s,
        "capture_to_tick_db_time_ratio": capture_db_ms / tick_db_ms if tick_db_ms else None,
        "capture_to_tick_server_cpu_ratio": (capture_cpu / runs) / tick_cpu if tick_cpu else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--top", type=int, default=50)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--interval-s", type=float, default=3600.0, help="the capture cadence (default hourly)")
    parser.add_argument("--majors", default="18,15")
    parser.add_argument("--workdir", default=None)
    args = parser.parse_args()

    work = workdir(args.workdir, "aimatrix-plans-")
    results = []
    for major in (int(m) for m in args.majors.split(",")):
        bin_dir = embedded_bin_dir() if major == 18 else debian_bin_dir(major)
        if bin_dir is None:
            print(f"PostgreSQL {major} is not installed: skipped")
            continue
        results.append(measure(major, bin_dir, work, args.top, args.runs, args.interval_s))
    out = ROOT / "benchmarks" / "results" / "plan_capture.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"results": results, "interval_s": args.interval_s,
                               "load_average": os.getloadavg()}, indent=2, default=float))
    rows = [
        ("statements explained (of the top N)", "statements_explained", "{:.0f}"),
        ("database time per capture, ms", "capture_db_time_ms", "{:.1f}"),
        ("  per statement, ms", "capture_db_time_per_statement_ms", "{:.2f}"),
        ("server CPU per capture, s (all processes)", "capture_server_cpu_s", "{:.3f}"),
        ("client wall per capture, s", "capture_client_wall_s", "{:.3f}"),
        ("share of one core at the cadence", "share_of_one_core_at_interval", "{:.4%}"),
        ("statistics tick database time, ms (baseline)", "statistics_tick_db_time_ms", "{:.1f}"),
        ("capture / statistics tick, database time", "capture_to_tick_db_time_ratio", "{:.2f}"),
        ("capture / statistics tick, server CPU", "capture_to_tick_server_cpu_ratio", "{:.2f}"),
    ]
    print(f"{'':48s}" + "".join(f"{'PG ' + str(r['major']):>12s}" for r in results))
    for label, key, fmt in rows:
        print(f"{label:48s}" + "".join(f"{(fmt.format(r[key]) if r[key] is not None else '-'):>12s}" for r in results))
    for r in results:
        print(f"PG {r['major']} statuses: {r['statuses']} {r['errors']}")
    print(f"load average {os.getloadavg()}")


if __name__ == "__main__":
    main()
