"""A fleet of 20 projects through the real `dagster-daemon` and run queue, in batch runs: one source
is down (nothing listens on its port) and one is slow (a view its statistics read sleeps for a
minute). Every healthy project materializes on each statistics tick its shard's run serves, the broken two fail alone
(each run's failure names them and no other), `extraction_stopped` fires for them through the
signed webhook, and no source ever sees more of our sessions than its `max_connections`.

Eighteen healthy projects share six databases of the session's PG 18 (three per database, one
DSN variable each, so three projects share one source's connection cap of 2); sessions are
counted in pg_stat_activity by `application_name` all along. Statistics every minute in shards
of 10 (two range runs per tick), the freshness check every minute; the automation sensor is held
back (once a day) so the queue carries the extract runs the test is about.
"""

from __future__ import annotations

import os
import threading
import time
from collections import Counter

import dagster as dg
import psycopg
import pytest
import yaml

from aimatrix_pipeline.demo.local_postgres import free_port
from aimatrix_pipeline.resources.warehouse import WarehouseResource
from aimatrix_pipeline.shared.schedules import run_projects_of
from tests.alerts.daemon_flow import ROOT, AlertDaemon, SignedWebhookReceiver, wait_for
from tests.conftest import make_source_db

from .test_batch_runs import make_slow

pytestmark = [pytest.mark.slow, pytest.mark.timeout(4800)]

SOURCES = 6
HEALTHY = [f"h{i:02d}" for i in range(1, 19)]
DOWN, SLOW = "x-down", "x-slow"
CAP = 2
RULE = "extraction_stopped"
DEADLINE_S = 1500  # per phase; the queue of a loaded 2-core machine is slow
ENV = {
    "AIMATRIX_STATS_CRON": "* * * * *",
    "AIMATRIX_FRESHNESS_CRON": "* * * * *",
    "AIMATRIX_BATCH_SIZE": "10",
    # a run process's first projects also pay its imports while their session is open: on a loaded
    # 2-core machine that alone took over 20 s; the slow source's statement_timeout (30 s) or this
    # deadline ends it, whichever comes first
    "AIMATRIX_PROJECT_DEADLINE_S": "60",
    # everything else out of the way (once a year / once a day)
    "AIMATRIX_LOGS_CRON": "0 0 1 1 *",
    "AIMATRIX_APPSIGNALS_CRON": "0 0 1 1 *",
    "AIMATRIX_DASHBOARD_CRON": "0 0 1 1 *",
    "AIMATRIX_PLANS_CRON": "0 0 1 1 *",
    "AIMATRIX_AUTOMATION_INTERVAL_S": "86400",
    "AIMATRIX_ALERT_SENSOR_INTERVAL_S": "10",
}


class SessionCounter:
    """The most sessions named `aimatrix_pipeline` each database held at once, sampled all along."""

    def __init__(self, url: str):
        self.peak: dict[str, int] = {}
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(url,), daemon=True)
        self._thread.start()

    def _run(self, url: str) -> None:
        with psycopg.connect(url, autocommit=True) as conn:
            while not self._stop.is_set():
                for datname, n in conn.execute(
                        "select datname, count(*) from pg_stat_activity "
                        "where application_name = 'aimatrix_pipeline' group by datname").fetchall():
                    self.peak[datname] = max(self.peak.get(datname, 0), int(n))
                self.samples += 1
                time.sleep(0.02)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)


def _rules_file(path):
    doc = yaml.safe_load((ROOT / "alert_rules.yaml").read_text())
    doc["settings"]["group_interval"] = "0s"
    for rule in doc["rules"]:
        rule["channels"] = ["webhook"]
        if rule["id"] == "extraction_stale":
            # minutes (the fleet freshness check judges against it): a snapshot is stamped with its
            # tick, and on a loaded machine a shard's run lands minutes after its tick; the broken
            # projects have no snapshot at all, so they are stale whatever the threshold
            rule["threshold"] = 30
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def _ticks_served(instance) -> dict[str, set[str]]:
    """Tick (the snapshot_at the runs stamped) -> projects whose database_stats snapshot of it landed."""
    out: dict[str, set[str]] = {}
    for record in instance.fetch_materializations(dg.AssetKey(["raw", "database_stats"]), limit=1000).records:
        m = record.asset_materialization
        out.setdefault(m.metadata["snapshot_at"].value, set()).add(m.partition)
    return out


def _step_failures(instance) -> list[str]:
    texts = []
    for record in instance.get_run_records(filters=dg.RunsFilter(job_name="extract_statistics")):
        for event in instance.all_logs(record.dagster_run.run_id, of_type=dg.DagsterEventType.STEP_FAILURE):
            data = event.dagster_event.step_failure_data
            texts.append(data.user_failure_data.description if data.user_failure_data else data.error.message)
    return texts


def test_a_fleet_of_twenty_with_one_down_and_one_slow_source_through_the_daemon(tmp_path, pg18):
    dagster_db = f"dagster_fleet_e2e_{os.getpid()}"
    dagster_url = pg18.create_database(dagster_db).replace("postgresql://", "postgresql+psycopg2://", 1)
    dbs = [make_source_db(pg18, "fleet_src") for _ in range(SOURCES)]
    slow = make_source_db(pg18, "fleet_slow")
    make_slow(slow)
    env = {f"FLEET_SRC{i}_DB_URL": db.url for i, db in enumerate(dbs)}
    env["FLEET_SLOW_DB_URL"] = slow.url
    env["FLEET_DOWN_DB_URL"] = f"postgresql://postgres:never-used@127.0.0.1:{free_port()}/gone"
    lines = ["organizations:", "  - {slug: org-a, plan: pro}", "projects:"]
    lines += [f"  - {{name: {p}, organization: org-a, db_url_env: FLEET_SRC{i % SOURCES}_DB_URL, "
              f"max_connections: {CAP}}}" for i, p in enumerate(HEALTHY)]
    lines += [f"  - {{name: {DOWN}, organization: org-a, db_url_env: FLEET_DOWN_DB_URL}}",
              f"  - {{name: {SLOW}, organization: org-a, db_url_env: FLEET_SLOW_DB_URL}}"]
    (tmp_path / "projects.yaml").write_text("\n".join(lines) + "\n")
    with WarehouseResource(path=str(tmp_path / "warehouse.duckdb")).writer():
        pass  # the schema exists, as after any first run: the project deadlines time the work
    receiver = SignedWebhookReceiver()
    counter = SessionCounter(dbs[0].url)
    daemon = AlertDaemon(tmp_path, dagster_pg_url=dagster_url, source_dsn=dbs[0].url, webhook_url=receiver.url,
                         rules_path=_rules_file(tmp_path / "alert_rules.yaml"),
                         env={**ENV, **env, "AIMATRIX_PROJECTS_FILE": str(tmp_path / "projects.yaml")})
    instance = None
    leftovers: list[int] = []
    try:
        daemon.start()
        instance = daemon.instance()

        def every_shard_served_twice():
            records = instance.get_run_records(filters=dg.RunsFilter(job_name="extract_statistics"))
            status = Counter(r.dagster_run.status.value for r in records)
            print(f"{time.strftime('%H:%M:%S')} extract_statistics runs: {dict(status)}", flush=True)
            finished = Counter(r.dagster_run.tags.get("aimatrix/shard") for r in records
                               if r.dagster_run.status in (dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE))
            return finished if len(finished) >= 2 and min(finished.values()) >= 2 else None

        # under load a tick whose shard is still queued is skipped for that shard (by design), so
        # "each tick" is each tick a run served: every run carried its healthy projects through
        wait_for(every_shard_served_twice, DEADLINE_S, "two finished statistics runs of each shard", daemon)

        def stopped_fired():
            return receiver.deliveries(RULE, "firing")

        fired = wait_for(stopped_fired, DEADLINE_S, "a firing extraction_stopped notification", daemon)
        check = dg.AssetCheckKey(dg.AssetKey(["raw", "database_stats"]), "all_projects_extracted_recently")

        def latest_names_the_broken_ones():
            records = instance.event_log_storage.get_asset_check_execution_history(check, limit=5)
            done = [r for r in records if isinstance(r.evaluation, dg.AssetCheckEvaluation)]
            if not done:
                return None
            newest = max(done, key=lambda r: r.id).evaluation
            stale = newest.metadata["stale_projects"].value
            return newest if set(stale.split(", ")) == {DOWN, SLOW} else None

        freshness = wait_for(latest_names_the_broken_ones, DEADLINE_S,
                             "a freshness evaluation naming only the broken projects", daemon)
        served = _ticks_served(instance)
        failures = _step_failures(instance)
        runs = [r.dagster_run for r in instance.get_run_records(
            filters=dg.RunsFilter(job_name="extract_statistics"))]
        finished = [r for r in runs if r.status in (dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE)]
    finally:
        counter.stop()
        leftovers = daemon.stop()
        if instance is not None:
            instance.dispose()
        receiver.close()
        for db in [*dbs, slow]:
            pg18.drop_database(db.name)
        pg18.drop_database(dagster_db)

    # every finished run materialized every healthy project it carried, stamped with its tick; the
    # broken ones never materialized
    keys = [*HEALTHY, DOWN, SLOW]
    assert len(finished) >= 4
    for run in finished:
        tick = run.tags[".dagster/scheduled_execution_time"]
        carried = set(run_projects_of(run.tags, keys))
        assert carried and (carried & set(HEALTHY)) <= served.get(tick, set()), (tick, carried)
    assert all(len([t for t, ps in served.items() if p in ps]) >= 2 for p in HEALTHY)  # two ticks each
    assert not any({DOWN, SLOW} & projects for projects in served.values())
    # the runs are batches: shards of 10 consecutive projects, never one run per project
    assert runs and all(r.tags.get("aimatrix/shard", "").count("..") == 1 for r in runs)
    assert any(r.tags.get("dagster/asset_partition_range_start") for r in runs)
    # every step failure names a broken project, never a healthy one
    assert failures
    for text in failures:
        assert DOWN in text or SLOW in text, text
        assert not any(f"{p}:" in text for p in HEALTHY), text
    assert any(f"{SLOW}: " in text for text in failures) and any(f"{DOWN}: " in text for text in failures)
    # the alert that watches them fired through the signed webhook
    assert fired and receiver.rejected == 0
    assert not freshness.passed
    # no source ever saw more of our sessions than its cap (the counter did sample all along)
    assert counter.samples > 100
    assert counter.peak, "no session of ours was ever seen"
    assert max(counter.peak.values()) <= CAP, counter.peak
    assert leftovers == []
