"""Benchmark: how many project runs one machine gets through, with the real daemon and run queue.

Where bench_fleet_tick.py measures the work of a tick, this measures what Dagster makes of it on
one machine: the repository's dagster.yaml (PostgreSQL storage, run queue, the single
`duckdb_warehouse` pool slot at run granularity), `dagster-daemon run` on the code location, the
statistics schedule ticking every minute for --projects monitored databases (app-log schedule
effectively off), for --minutes minutes. Runs are real processes (default run launcher).
Everything the daemon does in that time counts, including analytics runs its automation launches.

Reported: statistics runs requested, finished and still queued; finished runs per minute (the
machine's throughput through the warehouse slot); the mean run duration; and how many projects
that throughput sustains at a 5-minute statistics cadence (throughput x 5, before other jobs).

Usage: python benchmarks/bench_fleet_queue.py [--projects 50] [--minutes 4] [--statements 300]
Results: benchmarks/results/fleet_queue.json
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from fleet_common import setup_database
from workdir import workdir

from aimatrix_pipeline.demo.local_postgres import SERVER_SETTINGS, LocalPostgres


def _stop_leftovers(work: Path) -> None:
    """Code servers the daemon started in their own session outlive it; they name our work dir."""
    import psutil

    for proc in psutil.process_iter(["pid", "cmdline"]):
        try:
            if proc.pid != os.getpid() and str(work) in " ".join(proc.info["cmdline"] or []):
                proc.kill()
        except psutil.Error:
            pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--projects", type=int, default=50)
    parser.add_argument("--minutes", type=float, default=4.0)
    parser.add_argument("--statements", type=int, default=300)
    parser.add_argument("--dbs-per-cluster", type=int, default=10)
    parser.add_argument("--pool-limit", type=int, default=0,
                        help="override concurrency.pools.default_limit of the copied dagster.yaml (0: as is)")
    parser.add_argument("--workdir", default=None)
    args = parser.parse_args()

    work = workdir(args.workdir, "aimatrix-queue-")
    settings = dict(SERVER_SETTINGS, **{"pg_stat_statements.max": "10000", "shared_buffers": "32MB"})
    storage = LocalPostgres(work / "pg-dagster", settings=settings)
    clusters = [LocalPostgres(work / f"pg{i}", settings=settings)
                for i in range(math.ceil(args.projects / args.dbs_per_cluster))]
    daemon = None
    env = dict(os.environ)
    for key in ("DAGSTER_HOME", "SUPABASE_DB_URL"):
        env.pop(key, None)
    try:
        for c in [storage, *clusters]:
            c.start()
        dagster_url = storage.create_database("dagster").replace("postgresql://", "postgresql+psycopg2://", 1)

        def make(i: int) -> str:
            url = clusters[i // args.dbs_per_cluster].create_database(f"queue_{i:03d}")
            setup_database(url, args.statements)
            env[f"BENCH_QUEUE_{i:03d}_DB_URL"] = url
            return f"  - {{name: project-{i:03d}, organization: org-{i % 5}, db_url_env: BENCH_QUEUE_{i:03d}_DB_URL}}"

        with ThreadPoolExecutor(4) as pool:
            lines = list(pool.map(make, range(args.projects)))
        orgs = "".join(f"  - {{slug: org-{i}}}\n" for i in range(5))
        (work / "projects.yaml").write_text("organizations:\n" + orgs + "projects:\n" + "\n".join(lines) + "\n")
        home = work / "dagster_home"
        home.mkdir(exist_ok=True)
        shutil.copy(ROOT / "dagster.yaml", home / "dagster.yaml")
        if args.pool_limit:
            import yaml

            doc = yaml.safe_load((home / "dagster.yaml").read_text())
            doc["concurrency"]["pools"]["default_limit"] = args.pool_limit
            (home / "dagster.yaml").write_text(yaml.safe_dump(doc))
        env.update({
            "DAGSTER_HOME": str(home),
            "DAGSTER_PG_URL": dagster_url,
            "AIMATRIX_PROJECTS_FILE": str(work / "projects.yaml"),
            "AIMATRIX_WAREHOUSE": str(work / "warehouse.duckdb"),
            "AIMATRIX_STATS_CRON": "* * * * *",
            "AIMATRIX_LOGS_CRON": "0 0 1 1 *",
        })
        print(f"{args.projects} databases ready; daemon runs for {args.minutes:.0f} min", flush=True)
        with open(work / "daemon.log", "w") as log:
            started = time.time()
            daemon = subprocess.Popen(
                [str(Path(sys.executable).with_name("dagster-daemon")), "run", "-m", "aimatrix_pipeline.definitions"],
                env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )
            time.sleep(args.minutes * 60)
            stopped = time.time()
            os.killpg(daemon.pid, signal.SIGTERM)
            daemon.wait(60)
            daemon = None

        os.environ.update({k: env[k] for k in ("DAGSTER_HOME", "DAGSTER_PG_URL")})
        import dagster as dg

        instance = dg.DagsterInstance.get()
        records = instance.get_run_records()
        by_job = Counter((r.dagster_run.job_name, r.dagster_run.status.value) for r in records)
        stats = [r for r in records if r.dagster_run.job_name == "extract_statistics"]
        finished = [r for r in stats if r.end_time and r.dagster_run.status.value in ("SUCCESS", "FAILURE")]
        durations = [r.end_time - r.start_time for r in finished if r.start_time]
        window_min = (stopped - started) / 60
        first_start = min((r.start_time for r in finished if r.start_time), default=stopped)
        busy_min = (max((r.end_time for r in finished), default=stopped) - first_start) / 60
        per_minute = len(finished) / busy_min if busy_min > 0 else 0.0
        instance.dispose()
    finally:
        if daemon is not None:
            os.killpg(daemon.pid, signal.SIGKILL)
        for c in [*clusters, storage]:
            try:
                c.stop("immediate")
            except Exception as exc:  # noqa: BLE001 - report and stop the others
                print(f"could not stop {c.data_dir}: {exc}", file=sys.stderr)
        _stop_leftovers(work)

    results = {
        "projects": args.projects, "minutes": window_min, "pool_limit": args.pool_limit or "as configured",
        "runs_by_job_and_status": {f"{j}:{s}": n for (j, s), n in sorted(by_job.items())},
        "statistics_runs_requested": len(stats),
        "statistics_runs_finished": len(finished),
        "statistics_runs_succeeded": sum(1 for r in finished if r.dagster_run.status.value == "SUCCESS"),
        "finished_per_minute": per_minute,
        "mean_run_seconds": sum(durations) / len(durations) if durations else None,
        "projects_sustained_at_5_min": per_minute * 5,
        "load_average": os.getloadavg(),
    }
    out = ROOT / "benchmarks" / "results" / "fleet_queue.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    print(json.dumps(results["runs_by_job_and_status"], indent=1))
    print(f"{'statistics runs requested / finished / succeeded':52s}{len(stats):>6} / {len(finished)} / "
          f"{results['statistics_runs_succeeded']}")
    print(f"{'finished statistics runs per minute':52s}{per_minute:>10.1f}")
    print(f"{'mean run duration, s':52s}{results['mean_run_seconds'] or 0:>10.1f}")
    print(f"{'projects sustained at a 5-minute cadence (stats only)':52s}{per_minute * 5:>10.0f}")
    print(f"load average {os.getloadavg()}")


if __name__ == "__main__":
    main()
