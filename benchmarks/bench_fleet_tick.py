"""Benchmark: one scheduled statistics tick for 1, 10 and 50 monitored databases.

Setup: ceil(max / --dbs-per-cluster) embedded PG 18 clusters (pg_stat_statements preloaded), with
--dbs-per-cluster databases each; every database gets ~--statements distinct statements (see
fleet_common.py). All databases exist for every fleet size, so the only thing that changes between
sizes is how many of them the tick monitors. Each fleet size gets a fresh warehouse; tick 1 is the
warm-up (first sight of every statement: texts fetched and normalised, DDL applied), the steady
ticks that follow are what a 5-minute schedule pays forever. A tick runs the work of every
statistics snapshot asset, project after project, through the same functions the assets call
(Dagster's own per-run overhead comes on top; see docs/benchmarks.md).

Reported per fleet size: wall time and our process CPU per tick and per project, PostgreSQL server
CPU per tick, and the ratio of per-project wall time to the 1-project baseline measured in the same
run (goal <= 1.3 at 50), plus the 50-project tick against a 5-minute interval.

Usage: python benchmarks/bench_fleet_tick.py [--sizes 1,10,50] [--statements 300]
           [--dbs-per-cluster 10] [--ticks 3]
Results: benchmarks/results/fleet_tick.json
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from fleet_common import distinct_statements, server_cpu_seconds, setup_database, statistics_tick
from workdir import workdir

from aimatrix_pipeline.demo.local_postgres import SERVER_SETTINGS, LocalPostgres
from aimatrix_pipeline.resources.source_postgres import SourcePostgresResource
from aimatrix_pipeline.resources.warehouse import WarehouseResource
from aimatrix_pipeline.settings import Project

RUN_CHILD = """
import json, resource, sys, time
t0 = time.perf_counter()
from aimatrix_pipeline.definitions import defs
job = defs.get_job_def("extract_statistics")
load_s = time.perf_counter() - t0
runs = []
import dagster as dg
with dg.instance_for_test() as instance:
    for i in range(int(sys.argv[1])):
        t = time.perf_counter(); c = time.process_time()
        ok = job.execute_in_process(partition_key=sys.argv[2], instance=instance,
                                    tags={"dagster/scheduled_execution_time": f"2026-03-02T00:{i:02d}:00+00:00"}).success
        runs.append({"wall_s": time.perf_counter() - t, "cpu_s": time.process_time() - c, "success": ok})
ru = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"load_s": load_s, "runs": runs, "process_cpu_s": ru.ru_utime + ru.ru_stime}))
"""


def dagster_run_cost(project, work: Path, runs: int) -> dict:
    """The same work as a Dagster run: code-location load in a fresh process, then job runs."""
    projects = work / "one-project.yaml"
    projects.write_text(f"projects:\n  - {{name: {project.name}, organization: o, db_url_env: {project.db_url_env}}}\n")
    env = dict(os.environ, AIMATRIX_PROJECTS_FILE=str(projects), AIMATRIX_WAREHOUSE=str(work / "dagster-runs.duckdb"))
    env.pop("DAGSTER_HOME", None)
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", RUN_CHILD, str(runs), project.name], env=env, cwd=ROOT,
                          capture_output=True, text=True, check=True)
    out = json.loads(done.stdout.strip().splitlines()[-1])
    out["process_wall_s"] = time.perf_counter() - started
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1,10,50")
    parser.add_argument("--statements", type=int, default=300)
    parser.add_argument("--dbs-per-cluster", type=int, default=10)
    parser.add_argument("--ticks", type=int, default=3, help="1 warm-up + the rest measured")
    parser.add_argument("--interval-s", type=float, default=300.0)
    parser.add_argument("--dagster-runs", type=int, default=3,
                        help="also run the statistics job through Dagster this many times (0: skip)")
    parser.add_argument("--workdir", default=None)
    args = parser.parse_args()

    sizes = [int(s) for s in args.sizes.split(",")]
    total = max(sizes)
    work = workdir(args.workdir, "aimatrix-fleet-")
    settings = dict(SERVER_SETTINGS, **{"pg_stat_statements.max": "10000", "max_connections": "100",
                                        "shared_buffers": "32MB"})
    clusters = [LocalPostgres(work / f"pg{i}", settings=settings)
                for i in range(math.ceil(total / args.dbs_per_cluster))]
    results: dict = {"statements_per_db": args.statements, "dbs_per_cluster": args.dbs_per_cluster,
                     "clusters": len(clusters), "load_average_start": os.getloadavg(), "sizes": {}}
    try:
        started = time.perf_counter()
        for c in clusters:
            c.start()
        projects = []

        def make(i: int) -> Project:
            cluster = clusters[i // args.dbs_per_cluster]
            url = cluster.create_database(f"fleet_{i:03d}")
            setup_database(url, args.statements)
            env = f"BENCH_FLEET_{i:03d}_DB_URL"
            os.environ[env] = url
            return Project(name=f"project-{i:03d}", organization=f"org-{i % 5}", db_url_env=env,
                           max_connections=2)

        with ThreadPoolExecutor(4) as pool:
            projects = list(pool.map(make, range(total)))
        results["statements_in_first_db"] = distinct_statements(os.environ[projects[0].db_url_env])
        print(f"{len(clusters)} cluster(s), {total} databases, "
              f"{results['statements_in_first_db']} distinct statements in the first; "
              f"setup {time.perf_counter() - started:.0f}s", flush=True)

        source = SourcePostgresResource(slot_dir=str(work / "slots"))
        base = datetime(2026, 3, 1, tzinfo=UTC)
        for size in sizes:
            wh = WarehouseResource(path=str(work / f"warehouse-{size}.duckdb"))
            monitored = projects[:size]
            ticks = []
            for t in range(args.ticks):
                server_before = sum(server_cpu_seconds(c.data_dir) for c in clusters)
                tick = statistics_tick(source, wh, monitored, base + timedelta(minutes=5 * t))
                server = sum(server_cpu_seconds(c.data_dir) for c in clusters) - server_before
                ticks.append({"wall_s": tick.wall_s, "cpu_s": tick.cpu_s, "server_cpu_s": server, "rows": tick.rows})
            steady = ticks[1:] or ticks
            wall = sum(t["wall_s"] for t in steady) / len(steady)
            cpu = sum(t["cpu_s"] for t in steady) / len(steady)
            server = sum(t["server_cpu_s"] for t in steady) / len(steady)
            results["sizes"][size] = {
                "ticks": ticks,
                "wall_s": wall, "cpu_s": cpu, "server_cpu_s": server,
                "wall_per_project_s": wall / size, "cpu_per_project_s": cpu / size,
                "server_cpu_per_project_s": server / size,
                "warmup_wall_s": ticks[0]["wall_s"],
                "share_of_interval": wall / args.interval_s,
                "load_average": os.getloadavg(),
            }
            print(f"{size:3d} projects: tick {wall:7.2f}s wall, {cpu:6.2f}s CPU (ours), {server:6.2f}s CPU (servers); "
                  f"per project {wall / size:.3f}s wall, {cpu / size:.3f}s CPU; warm-up tick {ticks[0]['wall_s']:.1f}s",
                  flush=True)
        if args.dagster_runs:
            cost = dagster_run_cost(projects[0], work, args.dagster_runs)
            steady = cost["runs"][1:] or cost["runs"]
            cost["steady_run_wall_s"] = sum(r["wall_s"] for r in steady) / len(steady)
            cost["steady_run_cpu_s"] = sum(r["cpu_s"] for r in steady) / len(steady)
            results["dagster_run"] = cost
            print(f"as a Dagster run (in process): {cost['steady_run_wall_s']:.2f}s wall, "
                  f"{cost['steady_run_cpu_s']:.2f}s CPU per run; code location load in a new process "
                  f"{cost['load_s']:.1f}s", flush=True)
    finally:
        for c in clusters:
            try:
                c.stop("immediate")
            except Exception as exc:  # noqa: BLE001 - report and stop the others
                print(f"could not stop {c.data_dir}: {exc}", file=sys.stderr)

    one = results["sizes"].get(sizes[0])
    for r in results["sizes"].values():
        r["wall_per_project_ratio_vs_first"] = r["wall_per_project_s"] / one["wall_per_project_s"]
        r["cpu_per_project_ratio_vs_first"] = r["cpu_per_project_s"] / one["cpu_per_project_s"]
    results["load_average_end"] = os.getloadavg()
    out = ROOT / "benchmarks" / "results" / "fleet_tick.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2, default=str))
    print()
    print(f"{'projects':>8} {'tick wall s':>12} {'ours CPU s':>11} {'PG CPU s':>9} {'wall/proj s':>12} "
          f"{'CPU/proj s':>11} {'ratio wall':>11} {'ratio CPU':>10} {'of 5 min':>9}")
    for r in results["sizes"].values():
        print(f"{size:>8} {r['wall_s']:>12.2f} {r['cpu_s']:>11.2f} {r['server_cpu_s']:>9.2f} "
              f"{r['wall_per_project_s']:>12.3f} {r['cpu_per_project_s']:>11.3f} "
              f"{r['wall_per_project_ratio_vs_first']:>11.2f} {r['cpu_per_project_ratio_vs_first']:>10.2f} "
              f"{r['share_of_interval']:>8.1%}")
    print(f"goal: per-project ratio at {sizes[-1]} <= 1.3; {sizes[-1]}-project tick well inside {args.interval_s:.0f}s")
    if "dagster_run" in results:
        d = results["dagster_run"]
        per_run = d["steady_run_cpu_s"] + d["load_s"]
        print(f"through Dagster, one run per project and a fresh run process each: ~{per_run:.1f}s CPU per project "
              f"(run {d['steady_run_cpu_s']:.2f}s + code location load {d['load_s']:.1f}s wall); "
              f"{sizes[-1]} projects = ~{per_run * sizes[-1] / 2:.0f}s on 2 cores")
    print(f"load average start {results['load_average_start']}, end {results['load_average_end']}")


if __name__ == "__main__":
    main()
