"""Benchmark: parallel warehouse writers, DuckLake against a single DuckDB file.

Setup: one embedded PG 18 cluster with --projects source databases (~--statements distinct
statements each, see fleet_common.py) and a DuckLake catalog database on the same cluster; the
DuckLake data files on a local directory. For each warehouse and each writer count W in --writers,
W processes (standing in for W hosts) share the projects evenly and take every statistics snapshot
of each of their projects once, through the functions the extract assets call, shaped as a batch
run is: one step per asset working through its projects, in a step session (one connection per
step on the file; DuckLake's session is per process either way). The children load
and connect first and start together; throughput = projects / (last finish - first start).

On the DuckDB file, writers on one host take turns on the file lock; on DuckLake they overlap in
everything except their commits (the resource's commit lock on the catalog), and their source
connection slots are advisory locks in the catalog too, as deployed. Every configuration starts on
a warehouse that already holds one tick of every project (steady state, DDL applied). The machine
is usually shared: each run records the 1-minute load average before and after it.

Usage: python benchmarks/bench_lake_writers.py [--projects 8] [--writers 1,2,4] [--statements 100]
Results: benchmarks/results/lake_writers.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from fleet_common import setup_database
from workdir import workdir

from aimatrix_pipeline.demo.local_postgres import SERVER_SETTINGS, LocalPostgres, embedded_bin_dir

CHILD = """
import json, os, sys, time
from datetime import datetime
from aimatrix_pipeline.extract import snapshots
from aimatrix_pipeline.resources.ducklake_warehouse import warehouse_for
from aimatrix_pipeline.resources.source_postgres import SourcePostgresResource
from aimatrix_pipeline.settings import Project
go, ready, snapshot_at, names = sys.argv[1], sys.argv[2], datetime.fromisoformat(sys.argv[3]), sys.argv[4:]
warehouse = warehouse_for(os.environ["AIMATRIX_WAREHOUSE"]).model_copy(update={"lock_timeout_s": 1800})
source = SourcePostgresResource()
projects = [Project(name=n, organization="org", db_url_env=f"BENCH_{n.upper().replace('-', '_')}_DB_URL")
            for n in names]
with warehouse.writer():
    pass  # extensions loaded, schema checked: the run's start-up, not its work
open(ready, "w").close()
while not os.path.exists(go):
    time.sleep(0.01)
start = time.time()
for name in snapshots.SPECS:  # as a batch run does: one step per asset, its projects in turn
    with warehouse.step_session():
        for project in projects:
            snapshots.take_snapshot(name, source, warehouse, project, snapshot_at)
print(json.dumps({"start": start, "end": time.time()}))
"""


def run_writers(env: dict, projects: list[str], writers: int, snapshot_at: datetime, work: Path) -> dict:
    go = work / f"go-{time.monotonic_ns()}"
    shares = [projects[i::writers] for i in range(writers)]
    ready = [work / f"{go.name}.ready{i}" for i in range(writers)]
    procs = [subprocess.Popen([sys.executable, "-c", CHILD, str(go), str(r), snapshot_at.isoformat(), *share],
                              env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for share, r in zip(shares, ready)]
    # every child has loaded and connected (it then waits for the go file): start them together
    while not all(r.exists() for r in ready) and all(p.poll() is None for p in procs):
        time.sleep(0.05)
    load_before = os.getloadavg()[0]
    go.touch()
    spans = []
    for p in procs:
        out, err = p.communicate(timeout=3600)
        if p.returncode != 0:
            raise RuntimeError(err[-3000:])
        spans.append(json.loads(out.strip().splitlines()[-1]))
    wall = max(s["end"] for s in spans) - min(s["start"] for s in spans)
    # the 1-minute load average around the run: the figures only compare on a quiet machine
    return {"writers": writers, "wall_s": round(wall, 2), "projects_per_minute": round(len(projects) * 60 / wall, 1),
            "load_1min": [round(load_before, 2), round(os.getloadavg()[0], 2)]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--projects", type=int, default=8)
    parser.add_argument("--writers", default="1,2,4")
    parser.add_argument("--statements", type=int, default=100)
    args = parser.parse_args()
    writer_counts = [int(w) for w in args.writers.split(",")]
    work = workdir(None, "aimatrix-lake-bench-")
    settings = dict(SERVER_SETTINGS, **{"pg_stat_statements.max": "10000", "max_connections": "100"})
    pg = LocalPostgres(work / "pg", bin_dir=embedded_bin_dir(), settings=settings).start()
    results: dict = {"date": datetime.now(UTC).isoformat(timespec="seconds"), "machine": {
        "cpus": os.cpu_count(), "platform": platform.platform(), "load_average_start": os.getloadavg()},
        "projects": args.projects, "statements_per_db": args.statements, "runs": {}}
    try:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AIMATRIX_", "SUPABASE_"))}
        env["PYTHONPATH"] = str(ROOT)
        projects = [f"bench-{i:02d}" for i in range(args.projects)]
        for name in projects:
            url = pg.create_database(name.replace("-", "_"))
            setup_database(url, args.statements)
            env[f"BENCH_{name.upper().replace('-', '_')}_DB_URL"] = url
        pg.create_database("bench_lake")
        warehouses = {
            "duckdb_file": {"AIMATRIX_WAREHOUSE": str(work / "warehouse.duckdb")},
            "ducklake_dir": {"AIMATRIX_WAREHOUSE":
                             f"ducklake:postgres:host=127.0.0.1 port={pg.port} dbname=bench_lake user=postgres",
                             "AIMATRIX_WAREHOUSE_DATA_PATH": str(work / "lake"),
                             "AIMATRIX_WAREHOUSE_LOCAL_PATH": str(work / "lake-local")},
        }
        tick = 0
        for kind, extra in warehouses.items():
            kind_env = {**env, **extra}
            run_writers(kind_env, projects, 1, datetime(2026, 3, 1, 0, 0, tzinfo=UTC), work)  # warm-up
            results["runs"][kind] = []
            for writers in writer_counts:
                tick += 1
                r = run_writers(kind_env, projects, writers, datetime(2026, 3, 1, 1, tick, tzinfo=UTC), work)
                results["runs"][kind].append(r)
                print(f"{kind:<13} writers={writers}: {r['wall_s']:7.1f}s  {r['projects_per_minute']:6.1f} projects/min"
                      f"  (load {r['load_1min'][0]:.1f} -> {r['load_1min'][1]:.1f})", flush=True)
        results["machine"]["load_average_end"] = os.getloadavg()
    finally:
        pg.stop("immediate")
    out = ROOT / "benchmarks" / "results" / "lake_writers.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=2, default=str))
    print(f"load average start {results['machine']['load_average_start']}, "
          f"end {results['machine'].get('load_average_end')}; written {out}")


if __name__ == "__main__":
    main()
