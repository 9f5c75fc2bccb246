"""Benchmark: how long from a condition appearing in the monitored database to the receiver's 2xx.

The real flow, unattended: `dagster-daemon run` on the code location (the repository's
dagster.yaml, Dagster storage on PostgreSQL), a monitored PostgreSQL cluster of its own, and a
signed-webhook receiver on 127.0.0.1 that answers 204 to correctly signed requests. The condition
is the shipped `connection_utilisation_high` rule: 24 idle sessions on a cluster with
`max_connections` 30 breach it, closing them clears it. Each repetition, once the previous alert
has resolved and a fresh passing evaluation was applied, opens the sessions at a random moment
(the phase against the cron grid is part of the latency) and measures

* fire: sessions opened -> the receiver accepts the firing notification,
* resolve: sessions closed (right after the firing arrived) -> the receiver accepts the resolve.

Cadences: `--cadence default` keeps the shipped intervals (statistics every 5 min, automation
sensor 60 s, alert sensor 10 s); `--cadence 1min` runs the statistics schedule every minute and
both sensors every 10 s. The other schedules are pushed out of the way in both cases. The rules
are the shipped file with `group_interval` and `suppression_window` set to 0 s so a repetition's
messages are not held back by the previous one's (in production they add up to 5 min when the
same project got a message, or the same alert fired, within the last 5 min).

Fleet: `--fleet N` watches N projects (a projects file: the monitored cluster as `monitored`, and
N - 1 more databases of --statements statements each on a second cluster), so the latency is
measured with the whole fleet's runs in the same queue. Goals (reported as met or not, on the
slowest repetition): at 1-minute cadences at most 90 s; at the defaults at most one statistics
cadence (300 s) plus 60 s.

Usage: python benchmarks/bench_alert_latency.py [--cadence 1min|default] [--repetitions 3] [--fleet 200]
           [--statements 100]
Results: benchmarks/results/alert_latency_<cadence>[_fleet<N>].json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import dagster as dg
from workdir import workdir

from aimatrix_pipeline.alerts.state import AlertStore
from aimatrix_pipeline.demo.local_postgres import LocalPostgres
from tests.alerts.daemon_flow import (
    RULE_ID,
    AlertDaemon,
    ConnectionLoad,
    MonitoredPostgres,
    SignedWebhookReceiver,
    rules_file,
    wait_for,
)

CHECK = dg.AssetCheckKey(dg.AssetKey(["raw", "database_stats"]), RULE_ID)
CHECK_STR = f"raw/database_stats:{RULE_ID}"
OFF = "0 0 1 1 *"
CADENCES = {
    "1min": {"AIMATRIX_STATS_CRON": "* * * * *", "AIMATRIX_AUTOMATION_INTERVAL_S": "10",
             "AIMATRIX_ALERT_SENSOR_INTERVAL_S": "10"},
    "default": {},
}
GOAL_S = {"1min": 90.0, "default": 300.0 + 60.0}


def _newest_passing_applied(instance, store: AlertStore, after: float) -> bool:
    """A passing evaluation created after `after` has been applied by the alert sensor."""
    records = instance.event_log_storage.get_asset_check_execution_history(CHECK, limit=20)
    passing = [r for r in records if isinstance(r.evaluation, dg.AssetCheckEvaluation)
               and r.evaluation.passed and r.create_timestamp > after]
    return bool(passing) and (store.cursor_for(CHECK_STR) or 0) >= min(r.id for r in passing)


def _first_evaluation(instance, passed: bool, after: float):
    records = instance.event_log_storage.get_asset_check_execution_history(CHECK, limit=100)
    # by the evaluation's own time: the record is created when the run plans the check, which may
    # be before the condition appeared (the run was already under way and took the snapshot after)
    found = sorted((r for r in records if isinstance(r.evaluation, dg.AssetCheckEvaluation)
                    and r.evaluation.passed is passed and _evaluated_at(r) >= after), key=lambda r: r.id)
    return found[0] if found else None


def _evaluated_at(record) -> float:
    return record.event.timestamp if record.event else record.create_timestamp


def _run_times(record) -> tuple[float, float | None, float | None]:
    return record.create_timestamp.timestamp(), record.start_time, record.end_time


def breakdown(instance, store: AlertStore, began: float, delivery, passed: bool) -> dict:
    try:
        return _breakdown(instance, store, began, delivery, passed)
    except Exception as exc:  # a profile that cannot be read must not lose the measured latency
        return {"error": f"{type(exc).__name__}: {exc}"}


def _breakdown(instance, store: AlertStore, began: float, delivery, passed: bool) -> dict:
    """Where the seconds went, from the event log, the run records and the outbox.

    `began`: the condition appeared (fire) or cleared (resolve); `delivery`: the receiver's 2xx.
    Stages, in order (each `<stage>_s` is seconds; a missing timestamp gives None):
      tick_wait: until the schedule created the statistics run (the phase against the cron grid;
        negative when the run was already queued or running when the condition appeared);
      stats_queue_start: created -> RUN_START (queue, pool slot, a process loading the code location);
      stats_to_check: RUN_START -> the rule's evaluation, when the statistics run evaluates it;
      stats_run / automation_tick / analytics_queue_start / analytics_to_check: the same with the
        automation sensor's analytics run in between, when the rule is judged there;
      sensor_apply: the evaluation -> the alert sensor queued the notification (outbox row);
      send: queued -> sent (a tick's own send, or a delivery run's launch and pass);
    and `sent_by`: "alert sensor tick" or "delivery run".
    """
    record = _first_evaluation(instance, passed, began)
    if record is None:
        return {"error": "no evaluation found"}
    evaluated = _evaluated_at(record)
    run = instance.get_run_record_by_id(record.run_id)
    out: dict = {"judged_by_job": run.dagster_run.job_name if run else None}

    def gap(a, b):
        return None if a is None or b is None else round(b - a, 1)

    if run is not None and run.dagster_run.job_name == "extract_statistics":
        created, started, _ = _run_times(run)
        out.update(tick_wait_s=gap(began, created), stats_queue_start_s=gap(created, started),
                   stats_to_check_s=gap(started, evaluated))
    elif run is not None:
        a_created, a_started, _ = _run_times(run)
        stats = [r for r in instance.get_run_records(
            filters=dg.RunsFilter(job_name="extract_statistics", statuses=[dg.DagsterRunStatus.SUCCESS]), limit=50)
            if r.end_time and r.end_time <= a_created]
        s = max(stats, key=lambda r: r.end_time) if stats else None
        s_created, s_started, s_ended = _run_times(s) if s else (None, None, None)
        out.update(tick_wait_s=gap(began, s_created), stats_queue_start_s=gap(s_created, s_started),
                   stats_run_s=gap(s_started, s_ended), automation_tick_s=gap(s_ended, a_created),
                   analytics_queue_start_s=gap(a_created, a_started), analytics_to_check_s=gap(a_started, evaluated))
    event_ids = [a.get("event_id") for a in delivery.body.get("alerts", [])]
    rows = store.query("select created_at, sent_at from outbox where channel = 'webhook' and event_id in "
                       f"({','.join('?' * len(event_ids))})", tuple(event_ids)) if event_ids else []
    if rows:
        queued, sent = min(r["created_at"] for r in rows), max(r["sent_at"] or 0 for r in rows) or None
        out.update(sensor_apply_s=gap(evaluated, queued), send_s=gap(queued, sent))
        runs = instance.get_run_records(filters=dg.RunsFilter(job_name="alert_delivery_job"), limit=200)
        by_run = [r for r in runs if r.start_time and sent and queued <= r.start_time <= sent]
        out["sent_by"] = "delivery run" if by_run else "alert sensor tick"
    out["total_s"] = round(delivery.at - began, 1)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cadence", choices=sorted(CADENCES), default="1min")
    parser.add_argument("--repetitions", type=int, default=3)
    parser.add_argument("--phase-timeout", type=float, default=1200.0, help="seconds per fire/resolve wait")
    parser.add_argument("--fleet", type=int, default=1, help="projects watched (1: single-database mode)")
    parser.add_argument("--statements", type=int, default=100, help="statements per extra fleet database")
    parser.add_argument("--workdir", default=None)
    args = parser.parse_args()

    work = workdir(args.workdir, "aimatrix-alert-latency-")
    storage = LocalPostgres(work / "pg-dagster")
    source = MonitoredPostgres(work / "pg-monitored")
    receiver = SignedWebhookReceiver()
    env = {"AIMATRIX_LOGS_CRON": OFF, "AIMATRIX_APPSIGNALS_CRON": OFF, "AIMATRIX_DASHBOARD_CRON": OFF,
           **CADENCES[args.cadence]}
    fleet = LocalPostgres(work / "pg-fleet") if args.fleet > 1 else None
    daemon = instance = store = load = None
    reps = []
    rng = random.Random(1)
    try:
        storage.start()
        if fleet is not None:
            from concurrent.futures import ThreadPoolExecutor

            from fleet_common import setup_database

            fleet.start()

            def make(i: int) -> str:
                url = fleet.create_database(f"fleet_{i:03d}")
                setup_database(url, args.statements)
                env[f"BENCH_ALERT_FLEET_{i:03d}_DB_URL"] = url
                return f"  - {{name: fleet-{i:03d}, organization: org, db_url_env: BENCH_ALERT_FLEET_{i:03d}_DB_URL}}"

            with ThreadPoolExecutor(4) as pool:
                lines = list(pool.map(make, range(args.fleet - 1)))
            (work / "projects.yaml").write_text(
                "organizations:\n  - {slug: org}\nprojects:\n"
                "  - {name: monitored, organization: org, db_url_env: SUPABASE_DB_URL}\n" + "\n".join(lines) + "\n")
            env["AIMATRIX_PROJECTS_FILE"] = str(work / "projects.yaml")
        url = storage.create_database("dagster").replace("postgresql://", "postgresql+psycopg2://", 1)
        source.start()
        rules = rules_file(work / "alert_rules.yaml", group_interval="0s", suppression_window="0s")
        daemon = AlertDaemon(work, dagster_pg_url=url, source_dsn=source.monitor_dsn, webhook_url=receiver.url,
                             rules_path=rules, env=env).start()
        started = time.time()
        instance = daemon.instance()
        store = AlertStore(work / "alerts_outbox.sqlite")
        print(f"daemon started ({args.cadence} cadence); waiting for a first passing evaluation", flush=True)
        wait_for(lambda: _newest_passing_applied(instance, store, started), args.phase_timeout,
                 "a first passing evaluation", daemon, poll_s=1.0)
        for i in range(args.repetitions):
            time.sleep(rng.uniform(0, 60))  # a random phase against the cron grid
            n_fired = len(receiver.deliveries(RULE_ID, "firing"))
            n_resolved = len(receiver.deliveries(RULE_ID, "resolved"))
            load = ConnectionLoad(source.owner_dsn)
            appeared = time.time()
            fired = wait_for(lambda n=n_fired: receiver.deliveries(RULE_ID, "firing")[n:], args.phase_timeout,
                             "the firing notification", daemon, poll_s=0.5)[0]
            load.close()
            cleared = time.time()
            resolved = wait_for(lambda n=n_resolved: receiver.deliveries(RULE_ID, "resolved")[n:],
                                args.phase_timeout, "the resolve notification", daemon, poll_s=0.5)[0]
            reps.append({"fire_s": fired.at - appeared, "resolve_s": resolved.at - cleared,
                         "appeared_at": appeared, "cleared_at": cleared,
                         "fire_breakdown": breakdown(instance, store, appeared, fired, passed=False),
                         "resolve_breakdown": breakdown(instance, store, cleared, resolved, passed=True)})
            print(f"repetition {i + 1}: fire {reps[-1]['fire_s']:.0f} s, resolve {reps[-1]['resolve_s']:.0f} s",
                  flush=True)
            print(f"  fire: {reps[-1]['fire_breakdown']}\n  resolve: {reps[-1]['resolve_breakdown']}", flush=True)
            wait_for(lambda t=resolved.at: _newest_passing_applied(instance, store, t), args.phase_timeout,
                     "a passing evaluation after the resolve", daemon, poll_s=1.0)
        runs = [r.dagster_run for r in instance.get_run_records()]
    finally:
        if load is not None:
            load.close()
        leftovers = daemon.stop() if daemon is not None else []
        if store is not None:
            store.close()
        if instance is not None:
            instance.dispose()
        receiver.close()
        source.stop()
        if fleet is not None:
            fleet.stop("immediate")
        storage.stop("immediate")

    def summary(key: str) -> dict:
        values = [r[key] for r in reps]
        return {"median_s": statistics.median(values), "min_s": min(values), "max_s": max(values)}

    def stages(kind: str) -> dict:
        """Median seconds per stage over the repetitions (the profile of the flow)."""
        keys = sorted({k for r in reps for k in r[kind] if k.endswith("_s")})
        return {k: statistics.median([r[kind][k] for r in reps if r[kind].get(k) is not None] or [0]) for k in keys}

    results = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.python_version()}",
        "cadence": args.cadence,
        "fleet_projects": args.fleet,
        "settings": {k: v for k, v in env.items() if not k.endswith("_DB_URL")},
        "goal_s": GOAL_S[args.cadence],
        "fire_within_goal": bool(reps) and max(r["fire_s"] for r in reps) <= GOAL_S[args.cadence],
        "repetitions": reps,
        "fire": summary("fire_s"),
        "resolve": summary("resolve_s"),
        "fire_stages_median": stages("fire_breakdown"),
        "resolve_stages_median": stages("resolve_breakdown"),
        "runs_by_job": {j: sum(1 for r in runs if r.job_name == j) for j in sorted({r.job_name for r in runs})},
        "failed_runs": sum(1 for r in runs if r.status == dg.DagsterRunStatus.FAILURE),
        "leftover_processes": leftovers,
        "load_average": os.getloadavg(),
    }
    suffix = f"_fleet{args.fleet}" if args.fleet > 1 else ""
    out = ROOT / "benchmarks" / "results" / f"alert_latency_{args.cadence}{suffix}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    print(json.dumps({k: results[k] for k in ("cadence", "fleet_projects", "fire", "resolve", "goal_s",
                                              "fire_within_goal", "failed_runs", "fire_stages_median",
                                              "resolve_stages_median")}, indent=1))


if __name__ == "__main__":
    main()
