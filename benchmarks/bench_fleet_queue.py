"""Benchmark: how many projects one machine carries, with the real daemon and run queue.

Where bench_fleet_tick.py measures the work of a tick, this measures what Dagster makes of it on
one machine: the repository's dagster.yaml (PostgreSQL storage, run queue with its priorities, the
single `duckdb_warehouse` pool slot at run granularity), `dagster-daemon run` on the code
location, the statistics schedule on --stats-cron and the app-log schedule on --logs-cron (off by
default) for each fleet size in --sizes, --minutes each. Runs are real processes (default run
launcher) and batched as deployed: each tick requests one run per shard of --batch-size
consecutive projects (AIMATRIX_BATCH_SIZE; 1 gives the old one-run-per-project shape, to compare).
Everything the daemon does in that time counts, including analytics runs its automation launches
(the extract runs derive their analytics themselves; the sensor derives what a failed step held up).

Reported per fleet size: runs finished per minute (all jobs and statistics alone); project-ticks
per minute (statistics snapshots that landed, one per project and tick, counted from the
raw/database_stats materializations, so the healthy projects of a failed batch count too; app-log
project-ticks likewise; derived project-ticks from analytics/database_health); the backlog over
time (runs queued, and the projects they carry, sampled every --sample-s seconds); the machine's
CPU share over the window (all processes, from /proc/stat: the machine is usually shared, so read
it with the load average beside it); the worst lag from a
tick to its project's statistics materialization, and the age of the oldest tick still unserved at
the end; statistics runs requested, finished and still queued; and how many projects the
statistics throughput sustains at a 5-minute cadence.

Usage: python benchmarks/bench_fleet_queue.py [--sizes 16,50,100,200] [--minutes 4] [--batch-size 16]
           [--stats-cron "* * * * *"] [--logs-cron "0 0 1 1 *"] [--statements 300]
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
from aimatrix_pipeline.shared.schedules import run_projects_of


def _stop_leftovers(work: Path) -> None:
    """Code servers the daemon started in their own session outlive it; they name our work dir."""
    import psutil

    for proc in psutil.process_iter(["pid", "cmdline"]):
        try:
            if proc.pid != os.getpid() and str(work) in " ".join(proc.info["cmdline"] or []):
                proc.kill()
        except psutil.Error:
            pass


def _cpu_busy() -> tuple[float, float]:
    """(busy, total) jiffies of the whole machine from /proc/stat."""
    fields = [float(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0.0)
    return sum(fields) - idle, sum(fields)


def _parse_time(text: str | None) -> float | None:
    from datetime import datetime

    try:
        return datetime.fromisoformat(text).timestamp() if text else None
    except ValueError:
        return None


def _tick(record) -> str | None:
    """The tick a scheduled run serves (the daemon's hidden tag)."""
    return record.dagster_run.tags.get(".dagster/scheduled_execution_time")


def _landed(instance, key, tick_field: str | None) -> list[tuple[str, float, float]]:
    """(project, tick, stored at) of every materialization of `key`, the tick read from the
    metadata field `tick_field` (or the time it was stored)."""
    out, cursor = [], None
    while True:  # the event log hands out at most 10,000 records per call
        page = instance.fetch_materializations(key, limit=10_000, cursor=cursor)
        for record in page.records:
            m = record.asset_materialization
            at = record.timestamp
            tick = _parse_time(m.metadata[tick_field].value) if tick_field and tick_field in m.metadata else at
            if tick is not None:
                out.append((m.partition, tick, at))
        if not page.has_more:
            return out
        cursor = page.cursor


def run_size(args, projects: int, work: Path) -> dict:
    """One fleet size: fresh clusters, storage and warehouse; the daemon for --minutes."""
    settings = dict(SERVER_SETTINGS, **{"pg_stat_statements.max": "10000", "shared_buffers": "32MB"})
    storage = LocalPostgres(work / "pg-dagster", settings=settings)
    clusters = [LocalPostgres(work / f"pg{i}", settings=settings)
                for i in range(math.ceil(projects / args.dbs_per_cluster))]
    daemon = None
    env = dict(os.environ)
    for key in ("DAGSTER_HOME", "SUPABASE_DB_URL"):
        env.pop(key, None)
    backlog: list[tuple[float, int]] = []
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
            lines = list(pool.map(make, range(projects)))
        keys = [f"project-{i:03d}" for i in range(projects)]
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
            "AIMATRIX_STATS_CRON": args.stats_cron,
            "AIMATRIX_LOGS_CRON": args.logs_cron,
            **({"AIMATRIX_BATCH_SIZE": str(args.batch_size)} if args.batch_size else {}),
        })
        os.environ.update({k: env[k] for k in ("DAGSTER_HOME", "DAGSTER_PG_URL")})
        import dagster as dg

        instance = dg.DagsterInstance.get()
        print(f"{projects} databases ready; daemon runs for {args.minutes:g} min", flush=True)
        with open(work / "daemon.log", "w") as log:
            started = time.time()
            cpu_start = _cpu_busy()
            daemon = subprocess.Popen(
                [str(Path(sys.executable).with_name("dagster-daemon")), "run", "-m", "aimatrix_pipeline.definitions"],
                env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )
            while time.time() < started + args.minutes * 60:
                time.sleep(min(args.sample_s, max(0.0, started + args.minutes * 60 - time.time())))
                queued = instance.get_runs(dg.RunsFilter(statuses=[dg.DagsterRunStatus.QUEUED]))
                carried = sum(len(run_projects_of(r.tags, keys)) for r in queued)
                backlog.append((round(time.time() - started), len(queued), carried))
            stopped = time.time()
            cpu_end = _cpu_busy()
            os.killpg(daemon.pid, signal.SIGTERM)
            daemon.wait(60)
            daemon = None

        records = instance.get_run_records()
        by_job = Counter((r.dagster_run.job_name, r.dagster_run.status.value) for r in records)
        done = [r for r in records if r.end_time and r.dagster_run.status.value in ("SUCCESS", "FAILURE")]
        stats = [r for r in records if r.dagster_run.job_name == "extract_statistics"]
        done_ids = {r.dagster_run.run_id for r in done}
        finished = [r for r in stats if r.dagster_run.run_id in done_ids]
        succeeded = [r for r in finished if r.dagster_run.status.value == "SUCCESS"]
        waiting = [r for r in stats if r.dagster_run.status.value in ("QUEUED", "NOT_STARTED")]
        durations = [r.end_time - r.start_time for r in finished if r.start_time]
        # per project: every statistics snapshot that landed, stamped with its tick
        landed = _landed(instance, dg.AssetKey(["raw", "database_stats"]), "snapshot_at")
        lags = [at - tick for _, tick, at in landed if started <= tick <= stopped]
        app_log_ticks = _landed(instance, dg.AssetKey(["raw", "query_performance_logs"]), None)
        # the analytics derived from the statistics (in the extract run, or by the automation sensor)
        derived = _landed(instance, dg.AssetKey(["analytics", "database_health"]), None)
        derived_in = [at for _, _, at in derived if started <= at <= stopped]
        unserved = [stopped - t for r in waiting
                    if (t := _parse_time(_tick(r))) is not None]
        window_min = (stopped - started) / 60
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

    busy, total = cpu_end[0] - cpu_start[0], cpu_end[1] - cpu_start[1]
    return {
        "projects": projects, "minutes": window_min, "stats_cron": args.stats_cron, "logs_cron": args.logs_cron,
        "pool_limit": args.pool_limit or "as configured",
        "runs_by_job_and_status": {f"{j}:{s}": n for (j, s), n in sorted(by_job.items())},
        "runs_finished_per_minute": len(done) / window_min,
        "statistics_runs_requested": len(stats),
        "statistics_runs_finished": len(finished),
        "statistics_runs_succeeded": len(succeeded),
        "statistics_runs_still_queued": len(waiting),
        "statistics_finished_per_minute": len(finished) / window_min,
        "batch_size": args.batch_size or "the setting's default",
        "project_ticks_per_minute": len([1 for _, tick, _ in landed if started <= tick <= stopped]) / window_min,
        "app_log_project_ticks_per_minute": len([1 for _, _, at in app_log_ticks if started <= at <= stopped])
        / window_min,
        "derived_project_ticks_per_minute": len(derived_in) / window_min,
        "backlog_queued_runs": backlog,
        "cpu_share": busy / total if total else None,
        "worst_tick_to_materialization_s": max(lags, default=None),
        "oldest_unserved_tick_s": max(unserved, default=None),
        "mean_run_seconds": sum(durations) / len(durations) if durations else None,
        "projects_sustained_at_5_min": len([1 for _, tick, _ in landed if started <= tick <= stopped])
        / window_min * 5,
        "load_average": os.getloadavg(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="", help="fleet sizes, e.g. 16,50,100,200 (default: --projects)")
    parser.add_argument("--projects", type=int, default=50)
    parser.add_argument("--minutes", type=float, default=4.0)
    parser.add_argument("--stats-cron", default="* * * * *")
    parser.add_argument("--logs-cron", default="0 0 1 1 *", help="default: effectively off")
    parser.add_argument("--batch-size", type=int, default=0,
                        help="projects per scheduled run (AIMATRIX_BATCH_SIZE; 0: the setting's default)")
    parser.add_argument("--sample-s", type=float, default=15.0, help="backlog sampling interval")
    parser.add_argument("--statements", type=int, default=300)
    parser.add_argument("--dbs-per-cluster", type=int, default=10)
    parser.add_argument("--pool-limit", type=int, default=0,
                        help="override concurrency.pools.default_limit of the copied dagster.yaml (0: as is)")
    parser.add_argument("--workdir", default=None)
    args = parser.parse_args()

    sizes = [int(x) for x in args.sizes.split(",") if x.strip()] or [args.projects]
    results = {"load_average_start": os.getloadavg(), "sizes": {}}
    for n in sizes:
        work = workdir(args.workdir and f"{args.workdir}/{n}", f"aimatrix-queue-{n}-")
        r = results["sizes"][str(n)] = run_size(args, n, work)
        print(json.dumps(r["runs_by_job_and_status"], indent=1))
        print(f"{'projects':52s}{n:>10}")
        print(f"{'runs finished per minute (all jobs)':52s}{r['runs_finished_per_minute']:>10.1f}")
        print(f"{'statistics runs requested / finished / succeeded / queued':52s}{r['statistics_runs_requested']:>6} / "
              f"{r['statistics_runs_finished']} / {r['statistics_runs_succeeded']} / {r['statistics_runs_still_queued']}")
        print(f"{'project-ticks per minute (statistics)':52s}{r['project_ticks_per_minute']:>10.1f}")
        print(f"{'app-log project-ticks per minute':52s}{r['app_log_project_ticks_per_minute']:>10.1f}")
        print(f"{'derived project-ticks per minute (database health)':52s}"
              f"{r['derived_project_ticks_per_minute']:>10.1f}")
        print(f"{'backlog (s: queued runs/projects they carry)':52s}"
              f"{' '.join(f'{t}:{q}/{c}' for t, q, c in r['backlog_queued_runs'])}")
        print(f"{'CPU share of the machine (all processes)':52s}{(r['cpu_share'] or 0):>10.0%}")
        print(f"{'worst tick -> materialization, s':52s}{r['worst_tick_to_materialization_s'] or 0:>10.0f}")
        print(f"{'oldest unserved tick at the end, s':52s}{r['oldest_unserved_tick_s'] or 0:>10.0f}")
        print(f"{'mean run duration, s':52s}{r['mean_run_seconds'] or 0:>10.1f}")
        print(f"{'projects sustained at a 5-minute cadence (stats)':52s}{r['projects_sustained_at_5_min']:>10.0f}")
        print(f"load average {r['load_average']}", flush=True)
    out = ROOT / "benchmarks" / "results" / "fleet_queue.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
