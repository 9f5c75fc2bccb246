"""Benchmark: app-log extraction (Postgres -> DuckDB) against a raw binary COPY, in the same run.

Measures, on an embedded PG 18 started for the purpose:
  1. initial load of N rows of query_performance_logs, as throughput relative to
     `COPY (<the same select>) TO STDOUT (FORMAT binary)` drained into nothing (goal >= 0.5);
  2. an incremental run after 1 % new rows, as a fraction of the initial load's time (goal <= 0.05);
  3. peak RSS of a separate process extracting --memory-rows rows (goal < 1 GiB).

Usage: python benchmarks/bench_extract.py [--rows 2000000] [--memory-rows 10000000] [--repeat 3]
Results are printed and written to benchmarks/results/extract.json.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from aimatrix_pipeline.demo import database as demo_db  # noqa: E402
from aimatrix_pipeline.demo.local_postgres import LocalPostgres  # noqa: E402
from aimatrix_pipeline.extract import app_logs  # noqa: E402
from aimatrix_pipeline.resources.source_postgres import SourcePostgresResource  # noqa: E402
from aimatrix_pipeline.resources.warehouse import WarehouseResource  # noqa: E402
from aimatrix_pipeline.settings import Project  # noqa: E402

SHAPES = 5000
GENERATE = """
insert into public.query_performance_logs
    (query_hash, query_text, execution_time_ms, rows_returned, rows_examined, user_id, created_at)
select
    md5((i % {shapes})::text),
    format('select o.id, o.total_cents as shape_%s from app.orders o join app.customers c on c.id = o.customer_id '
           'where c.email = %L and o.status = %L and o.total_cents > %s',
           i % {shapes}, 'user' || i || '@example.com', 'paid', i % 1000),
    (random() * 2000)::numeric(10, 2),
    (random() * 100)::int,
    (random() * 10000)::int,
    gen_random_uuid(),
    timestamptz '{start}' + (i * interval '{step}')
from generate_series({first}, {last}) i
"""


def generate(url: str, first: int, last: int, start: str = "2026-01-01", step: str = "10 milliseconds") -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        chunk = 1_000_000
        for lo in range(first, last + 1, chunk):
            hi = min(last, lo + chunk - 1)
            conn.execute(GENERATE.format(shapes=SHAPES, start=start, step=step, first=lo, last=hi))
        conn.execute("vacuum analyze public.query_performance_logs")


def copy_baseline(url: str) -> float:
    # the extract's own source query, every column present (as in the generated table)
    spec = app_logs.LOG_TABLES["query_performance_logs"]
    query = app_logs._source_query(spec, '"public"."query_performance_logs"', "created_at is not null",
                                   set(app_logs._expected_columns(spec)))
    started = time.perf_counter()
    with psycopg.connect(url) as conn, conn.cursor() as cur:
        with cur.copy(f"copy ({query}) to stdout (format binary)") as copy:
            for _ in copy:
                pass
    return time.perf_counter() - started


def extract_once(project: Project, warehouse_path: Path) -> tuple[float, app_logs.LoadResult]:
    wh = WarehouseResource(path=str(warehouse_path), memory_limit=os.environ.get("BENCH_DUCKDB_MEMORY", "2GB"))
    started = time.perf_counter()
    result = app_logs.extract_app_log("query_performance_logs", SourcePostgresResource(statement_timeout_ms=0), wh, project)
    return time.perf_counter() - started, result


def memory_child(url: str, warehouse_path: str) -> None:
    """Run in a child process: one initial extraction; prints peak RSS in MiB."""
    os.environ["BENCH_SRC_URL"] = url
    project = Project("bench", "bench", "BENCH_SRC_URL")
    _, result = extract_once(project, Path(warehouse_path))
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"rows_loaded": result.rows_loaded, "peak_rss_mib": peak_mib}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--memory-rows", type=int, default=10_000_000, help="0 to skip the memory run")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--workdir", default=None)
    args = parser.parse_args()

    work = Path(args.workdir or tempfile.mkdtemp(prefix="aimatrix-bench-"))
    server = LocalPostgres(work / "pg").start()
    results: dict = {"rows": args.rows}
    try:
        url = server.create_database("bench_load")
        demo_db.install_schema(url, vectors=False)
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("truncate public.query_performance_logs")
        print(f"generating {args.rows:,} rows ...", flush=True)
        generate(url, 1, args.rows)
        os.environ["BENCH_SRC_URL"] = url
        project = Project("bench", "bench", "BENCH_SRC_URL")

        # Baseline and extract alternate, so both see the same machine conditions.
        baseline, loads = [], []
        for i in range(args.repeat):
            baseline.append(copy_baseline(url))
            path = work / f"load{i}.duckdb"
            path.unlink(missing_ok=True)
            seconds, result = extract_once(project, path)
            assert result.rows_loaded == args.rows, result
            loads.append(seconds)
        base_s, load_s = statistics.median(baseline), statistics.median(loads)
        results["copy_binary_runs"] = baseline
        results["initial_load_runs"] = loads
        results["copy_binary_seconds"] = base_s
        results["initial_load_seconds"] = load_s
        results["throughput_ratio_vs_copy"] = base_s / load_s
        print(f"COPY binary to nowhere: {base_s:.2f}s  extract: {load_s:.2f}s  "
              f"ratio {base_s / load_s:.2f} (goal >= 0.5)", flush=True)

        # 1 % new rows after the last one (inside the 10-minute overlap window of the mark), then
        # an incremental run on a copy of each loaded warehouse: every run loads the same new rows.
        new = max(1, args.rows // 100)
        generate(url, args.rows + 1, args.rows + new)
        incr = []
        for i in range(args.repeat):
            copy = work / f"incremental{i}.duckdb"
            shutil.copyfile(work / f"load{i}.duckdb", copy)
            os.sync()  # the copy's dirty pages are not the incremental run's to flush
            seconds, result = extract_once(project, copy)
            assert result.rows_loaded == new, result
            incr.append(seconds)
        incr_s = statistics.median(incr)
        results["incremental_runs"] = incr
        results["incremental_rows"] = new
        results["incremental_seconds"] = incr_s
        results["incremental_fraction_of_initial"] = incr_s / load_s
        print(f"incremental after {new:,} new rows: {incr_s:.3f}s = "
              f"{incr_s / load_s:.3f} of the initial load (goal <= 0.05)", flush=True)

        if args.memory_rows:
            murl = server.create_database("bench_memory")
            demo_db.install_schema(murl, vectors=False)
            with psycopg.connect(murl, autocommit=True) as conn:
                conn.execute("truncate public.query_performance_logs")
            print(f"generating {args.memory_rows:,} rows for the memory run ...", flush=True)
            generate(murl, 1, args.memory_rows, step="1 millisecond")
            out = subprocess.run(
                [sys.executable, __file__, "--memory-child", murl, str(work / "memory.duckdb")],
                capture_output=True, text=True, check=True,
            ).stdout.strip().splitlines()[-1]
            mem = json.loads(out)
            results["memory_rows"] = mem["rows_loaded"]
            results["memory_peak_rss_mib"] = mem["peak_rss_mib"]
            print(f"peak RSS extracting {mem['rows_loaded']:,} rows: {mem['peak_rss_mib']:.0f} MiB "
                  "(goal < 1024)", flush=True)
    finally:
        server.stop("immediate")
    out_dir = ROOT / "benchmarks" / "results"
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "extract.json").write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--memory-child":
        memory_child(sys.argv[2], sys.argv[3])
    else:
        main()
