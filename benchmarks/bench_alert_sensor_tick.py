"""Benchmark: what an alert sensor tick costs when nothing is new, with a fleet's check history.

Why: the sensor interval is a trade between alert latency (a tick every I seconds adds up to I to
every page) and the daemon's CPU (every tick pays for its scan whether or not anything happened).
A shorter default interval is only worth it if an idle tick is cheap at fleet size.

What it does: a Dagster instance on PostgreSQL storage (an embedded PostgreSQL 18, as
dagster.yaml deploys it), the real code location's asset check keys, and --history evaluations
per (check, project) for --projects projects written into the event log. One tick applies them
(first sight); then --ticks idle ticks (`run_tick`, the sensor's decisions: the scan of every
check, the state machine's time-based pass, the outbox queries) are measured: wall time, this
process's CPU, and the PostgreSQL server's CPU. The CPU share of one core at an interval I is
(client + server CPU per tick) / I, reported for 10 s and 30 s. Baseline of the same run: the
same idle ticks with the scan reading a full page (500 records) of every check first, as it did
before the small first page. Last, the whole sensor function as the daemon's code server calls it
(settings, the rules file, opening the state store, the tick) with nothing new.

Usage: python benchmarks/bench_alert_sensor_tick.py [--projects 200] [--history 3] [--ticks 20] [--checks N]
Results: benchmarks/results/alert_sensor_tick.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import dagster as dg  # noqa: E402
from dagster._core.events import DagsterEvent, DagsterEventType  # noqa: E402
from fleet_common import server_cpu_seconds  # noqa: E402
from workdir import workdir  # noqa: E402

from aimatrix_pipeline.alerts import scan  # noqa: E402
from aimatrix_pipeline.alerts.sensors import alert_sensor, run_tick  # noqa: E402
from aimatrix_pipeline.alerts.state import AlertStore  # noqa: E402
from aimatrix_pipeline.demo.local_postgres import LocalPostgres  # noqa: E402
from aimatrix_pipeline.resources.settings_resource import SettingsResource  # noqa: E402
from aimatrix_pipeline.shared.rules import load_rules  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--projects", type=int, default=200)
    parser.add_argument("--history", type=int, default=3, help="evaluations per (check, project)")
    parser.add_argument("--ticks", type=int, default=20)
    parser.add_argument("--checks", type=int, default=0,
                        help="write history for this many of the partitioned checks only (0: all); every "
                        "tick still scans every check")
    parser.add_argument("--workdir", default=None)
    args = parser.parse_args()

    from aimatrix_pipeline.definitions import defs

    check_keys = [k for k in defs.get_repository_def().asset_graph.asset_check_keys]
    partitioned = sorted((k for k in check_keys if k.asset_key.path[0] in ("raw", "analytics")), key=str)
    partitioned = partitioned[:args.checks] if args.checks else partitioned
    projects = [f"p{i:03d}" for i in range(args.projects)]
    rules = load_rules()
    work = workdir(args.workdir, "aimatrix-alert-tick-")
    pg = LocalPostgres(work / "pg-dagster")
    pg.start()
    try:
        url = pg.create_database("dagster").replace("postgresql://", "postgresql+psycopg2://", 1)
        overrides = {"storage": {"postgres": {"postgres_url": url}}}
        (work / "home").mkdir(exist_ok=True)
        with dg.instance_for_test(overrides=overrides, temp_dir=str(work / "home")) as instance:
            t0 = time.perf_counter()
            for _ in range(args.history):
                for key in partitioned:
                    for p in projects:
                        ev = dg.AssetCheckEvaluation(asset_key=key.asset_key, check_name=key.name, passed=True,
                                                     metadata={"value": 0.1, "project": p}, partition=p)
                        instance.report_dagster_event(
                            run_id=uuid.uuid4().hex,
                            dagster_event=DagsterEvent(
                                event_type_value=DagsterEventType.ASSET_CHECK_EVALUATION.value,
                                event_specific_data=ev, job_name="__bench_checks__"))
            written = args.history * len(partitioned) * len(projects)
            print(f"{written} evaluations written in {time.perf_counter() - t0:.0f} s", flush=True)
            store = AlertStore(work / "alerts_outbox.sqlite")
            variants = {}
            try:
                first = run_tick(instance, check_keys, store, rules, projects)
                # the baseline of the same run: the scan as it was, a full page first
                for name, first_page in (("full_page_first", scan.PAGE), ("small_first_page", scan.FIRST_PAGE)):
                    scan.FIRST_PAGE = first_page
                    walls, cpus, servers = [], [], []
                    for _ in range(args.ticks):
                        w, c, s = time.perf_counter(), time.process_time(), server_cpu_seconds(pg.data_dir)
                        tick = run_tick(instance, check_keys, store, rules, projects)
                        walls.append(time.perf_counter() - w)
                        cpus.append(time.process_time() - c)
                        servers.append(server_cpu_seconds(pg.data_dir) - s)
                        assert tick["scan"].evaluations == 0
                    per_tick = statistics.median(cpus) + statistics.median(servers)
                    variants[name] = {
                        "first_page": first_page,
                        "idle_tick_wall_s_median": statistics.median(walls),
                        "idle_tick_client_cpu_s_median": statistics.median(cpus),
                        "idle_tick_server_cpu_s_median": statistics.median(servers),
                        "core_share_at_10s": per_tick / 10,
                        "core_share_at_30s": per_tick / 30,
                    }
                # the whole sensor function as the daemon's code server calls it: settings, the
                # rules file, opening the state store, the tick (small first page)
                os.environ["AIMATRIX_ALERT_STATE"] = str(work / "alerts_outbox.sqlite")
                ctx = dg.build_sensor_context(instance=instance, repository_def=defs.get_repository_def(),
                                              resources={"settings": SettingsResource()})
                walls, cpus, servers = [], [], []
                for _ in range(args.ticks):
                    w, c, s = time.perf_counter(), time.process_time(), server_cpu_seconds(pg.data_dir)
                    outcome = alert_sensor(ctx)
                    walls.append(time.perf_counter() - w)
                    cpus.append(time.process_time() - c)
                    servers.append(server_cpu_seconds(pg.data_dir) - s)
                    assert isinstance(outcome, dg.SkipReason), outcome
                per_tick = statistics.median(cpus) + statistics.median(servers)
                variants["whole_sensor_evaluation"] = {
                    "first_page": scan.FIRST_PAGE,
                    "idle_tick_wall_s_median": statistics.median(walls),
                    "idle_tick_client_cpu_s_median": statistics.median(cpus),
                    "idle_tick_server_cpu_s_median": statistics.median(servers),
                    "core_share_at_10s": per_tick / 10,
                    "core_share_at_30s": per_tick / 30,
                }
            finally:
                store.close()
    finally:
        pg.stop("immediate")

    def cpu(v):
        return v["idle_tick_client_cpu_s_median"] + v["idle_tick_server_cpu_s_median"]

    results = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.python_version()}",
        "projects": args.projects,
        "check_keys": len(check_keys),
        "checks_with_history": len(partitioned),
        "evaluations_in_history": written,
        "first_tick_evaluations": first["scan"].evaluations,
        "variants": variants,
        "cpu_ratio_small_vs_full_page": cpu(variants["small_first_page"]) / max(cpu(variants["full_page_first"]), 1e-9),
        "load_average": os.getloadavg(),
    }
    out = ROOT / "benchmarks" / "results" / "alert_sensor_tick.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
