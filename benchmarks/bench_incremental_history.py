"""Benchmark: incremental app-log extraction and derivation after 1 % new rows, on a long history.

An embedded PG 18 database gets --rows rows of query_performance_logs (default 10,000,000; the
generator of bench_extract.py: 5,000 query shapes with varying literals). Then, against one
warehouse:
  1. full build: initial extraction of every row, then every analytics derivation of the project;
  2. 1 % new rows (after the last one), then the same again: the incremental extraction (high-water
     mark with overlap) and the derivations.
Reported: each step's time and the incremental time as a fraction of the full build, for the
extraction, the derivations and both together.

Usage: python benchmarks/bench_incremental_history.py [--rows 10000000] [--new-fraction 0.01]
Results: benchmarks/results/incremental_history.json
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

from bench_extract import generate
from workdir import workdir

from aimatrix_pipeline.analytics import derive
from aimatrix_pipeline.demo import database as demo_db
from aimatrix_pipeline.demo.local_postgres import LocalPostgres
from aimatrix_pipeline.extract import app_logs
from aimatrix_pipeline.resources.source_postgres import SourcePostgresResource
from aimatrix_pipeline.resources.warehouse import WarehouseResource
from aimatrix_pipeline.settings import Project

START = datetime(2026, 1, 1, tzinfo=UTC)
STEP_MS = 10  # one row every 10 ms: 10 M rows span ~28 hours, inside the 30-day summary window


def build(source, wh, project, as_of) -> dict:
    t = time.perf_counter()
    result = app_logs.extract_app_log("query_performance_logs", source, wh, project)
    extract_s = time.perf_counter() - t
    t = time.perf_counter()
    with wh.transaction() as conn:
        counts = derive.derive_all(conn, derive.base_params(project.name, as_of=as_of))
    derive_s = time.perf_counter() - t
    return {"extract_s": extract_s, "derive_s": derive_s, "total_s": extract_s + derive_s,
            "rows_loaded": result.rows_loaded, "rows_read": result.rows_read,
            "slow_queries_summary_rows": counts.get("slow_queries_summary")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--new-fraction", type=float, default=0.01)
    parser.add_argument("--workdir", default=None)
    args = parser.parse_args()

    work = workdir(args.workdir, "aimatrix-history-")
    server = LocalPostgres(work / "pg").start()
    results: dict = {"rows": args.rows, "load_average_start": os.getloadavg()}
    try:
        url = server.create_database("history")
        demo_db.install_schema(url, vectors=False)
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("truncate public.query_performance_logs")
        t = time.perf_counter()
        generate(url, 1, args.rows, start=START.isoformat(), step=f"{STEP_MS} milliseconds")
        print(f"generated {args.rows:,} rows in {time.perf_counter() - t:.0f}s", flush=True)
        os.environ["BENCH_HISTORY_DB_URL"] = url
        project = Project("history", "o", "BENCH_HISTORY_DB_URL")
        source = SourcePostgresResource(statement_timeout_ms=0, slot_dir=str(work / "slots"))
        wh = WarehouseResource(path=str(work / "warehouse.duckdb"))

        new = max(1, int(args.rows * args.new_fraction))
        end = START + timedelta(milliseconds=STEP_MS * (args.rows + new))
        as_of = end + timedelta(hours=1)
        full = build(source, wh, project, as_of)
        print(f"full build: extract {full['extract_s']:.1f}s + derive {full['derive_s']:.1f}s", flush=True)
        generate(url, args.rows + 1, args.rows + new, start=START.isoformat(), step=f"{STEP_MS} milliseconds")
        incr = build(source, wh, project, as_of)
        print(f"after {new:,} new rows: extract {incr['extract_s']:.1f}s + derive {incr['derive_s']:.1f}s", flush=True)
    finally:
        server.stop("immediate")

    results.update({
        "new_rows": new, "full": full, "incremental": incr,
        "extract_fraction": incr["extract_s"] / full["extract_s"],
        "derive_fraction": incr["derive_s"] / full["derive_s"],
        "total_fraction": incr["total_s"] / full["total_s"],
        "load_average_end": os.getloadavg(),
    })
    out = ROOT / "benchmarks" / "results" / "incremental_history.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2, default=str))
    print()
    print(f"{'':24s}{'full s':>10s}{'after 1 % s':>13s}{'fraction':>10s}")
    for key, label in (("extract_s", "extraction"), ("derive_s", "derivations"), ("total_s", "both")):
        print(f"{label:24s}{full[key]:>10.1f}{incr[key]:>13.1f}{incr[key] / full[key]:>10.1%}")
    print(f"history {args.rows:,} rows, {new:,} new; load average {results['load_average_start']} -> "
          f"{results['load_average_end']}")


if __name__ == "__main__":
    main()
