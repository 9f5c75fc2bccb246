"""Unattended, as deployed: the real `dagster-daemon` turns a breached shipped rule into one signed
webhook notification, and its clearing into one resolve. Nobody launches anything.

The monitored Postgres is a cluster of the test's own with `max_connections` 30; holding 24 idle
sessions breaches the shipped `connection_utilisation_high` rule (> 0.8 of the usable
connections), closing them clears it. Schedules tick every minute (`AIMATRIX_STATS_CRON`), the
alert sensor every 10 s (`AIMATRIX_ALERT_SENSOR_INTERVAL_S`), the automation sensor every 60 s
(`AIMATRIX_AUTOMATION_INTERVAL_S`: the extract runs derive their analytics themselves); Dagster's storage is PostgreSQL (the session's PG 18 through
dagster-postgres, the repository's dagster.yaml). Rules: the shipped alert_rules.yaml with
`group_interval: 0s`, so the resolve does not wait five minutes behind the firing message.

"Exactly once" is asserted after the alert sensor has applied a LATER evaluation with the same
outcome (the repeat must not notify again) and the outbox holds nothing undelivered. Waits are
bounded by deadlines; the daemon, its code servers and run workers are killed at the end.
"""

from __future__ import annotations

import os
import time

import dagster as dg
import pytest

from aimatrix_pipeline.alerts.state import AlertStore
from tests.conftest import _base_dir

from .daemon_flow import (
    RULE_ID,
    AlertDaemon,
    ConnectionLoad,
    MonitoredPostgres,
    SignedWebhookReceiver,
    rules_file,
    wait_for,
)

pytestmark = [pytest.mark.slow, pytest.mark.timeout(3000)]

CHECK = dg.AssetCheckKey(dg.AssetKey(["raw", "database_stats"]), RULE_ID)
CHECK_STR = f"raw/database_stats:{RULE_ID}"
FAST = {
    "AIMATRIX_STATS_CRON": "* * * * *",
    # the other schedules stay out of the way (once a year), so runs do not queue behind them
    "AIMATRIX_LOGS_CRON": "0 0 1 1 *",
    "AIMATRIX_APPSIGNALS_CRON": "0 0 1 1 *",
    "AIMATRIX_DASHBOARD_CRON": "0 0 1 1 *",
    # the extract runs derive their analytics themselves: the automation sensor only picks up what
    # a failed step held up, so it keeps its default interval (each of its ticks evaluates every
    # asset's condition: CPU the daemon tests spent every 10 s)
    "AIMATRIX_AUTOMATION_INTERVAL_S": "60",
    "AIMATRIX_ALERT_SENSOR_INTERVAL_S": "10",
}
PHASE_DEADLINE_S = 600  # per phase; on an idle 2-core machine a phase takes about 2-3 minutes


def _evaluations(instance, passed: bool) -> list:
    records = instance.event_log_storage.get_asset_check_execution_history(CHECK, limit=100)
    return sorted((r for r in records
                   if isinstance(r.evaluation, dg.AssetCheckEvaluation) and r.evaluation.passed is passed),
                  key=lambda r: r.id)


def _applied_a_later_one(instance, store: AlertStore, passed: bool, after_id: int):
    """The id of an evaluation with this outcome after `after_id`, once the alert sensor applied it."""
    later = [r for r in _evaluations(instance, passed) if r.id > after_id]
    if later and (store.cursor_for(CHECK_STR) or 0) >= later[0].id:
        return later[0].id
    return None


def _outbox_settled(store: AlertStore) -> bool:
    return not store.query("select 1 from outbox where status in ('pending', 'sending') limit 1")


def test_a_breached_shipped_rule_notifies_once_and_resolves_once_through_the_daemon(tmp_path, pg18):
    dagster_db = f"dagster_daemon_e2e_{os.getpid()}"
    # psycopg2 named explicitly: psycopg 3 binds server-side and breaks dagster's NOTIFY
    dagster_url = pg18.create_database(dagster_db).replace("postgresql://", "postgresql+psycopg2://", 1)
    source = MonitoredPostgres(_base_dir() / f"monitored-{tmp_path.name}").start()
    receiver = SignedWebhookReceiver()
    load = ConnectionLoad(source.owner_dsn)  # the condition is there before the daemon starts
    daemon = AlertDaemon(tmp_path, dagster_pg_url=dagster_url, source_dsn=source.monitor_dsn,
                         webhook_url=receiver.url, env=FAST,
                         rules_path=rules_file(tmp_path / "alert_rules.yaml", group_interval="0s"))
    instance = store = None
    leftovers: list[int] = []
    try:
        assert source.client_backends() > 0.8 * 27
        daemon.start()
        instance = daemon.instance()
        store = AlertStore(tmp_path / "alerts_outbox.sqlite")

        fired = wait_for(lambda: receiver.deliveries(RULE_ID, "firing"), PHASE_DEADLINE_S,
                         "signed firing notification", daemon)
        first_fail = _evaluations(instance, passed=False)[0]
        wait_for(lambda: _applied_a_later_one(instance, store, False, first_fail.id), PHASE_DEADLINE_S,
                 "a repeated failing evaluation applied by the alert sensor", daemon)

        load.close()
        cleared_at = time.time()
        resolved = wait_for(lambda: receiver.deliveries(RULE_ID, "resolved"), PHASE_DEADLINE_S,
                            "signed resolve notification", daemon)
        first_pass = _evaluations(instance, passed=True)[0]
        wait_for(lambda: _applied_a_later_one(instance, store, True, first_pass.id), PHASE_DEADLINE_S,
                 "a repeated passing evaluation applied by the alert sensor", daemon)
        wait_for(lambda: _outbox_settled(store), 120, "the outbox to settle", daemon)

        fired = receiver.deliveries(RULE_ID, "firing")
        resolved = receiver.deliveries(RULE_ID, "resolved")
        runs = [r.dagster_run for r in instance.get_run_records()]
        check_run = instance.get_run_by_id(first_fail.run_id)
    finally:
        leftovers = daemon.stop()
        if store is not None:
            store.close()
        if instance is not None:
            instance.dispose()
        load.close()
        receiver.close()
        source.stop()
        pg18.drop_database(dagster_db)

    assert len(fired) == 1, [d.body for d in fired]
    assert len(resolved) == 1, [d.body for d in resolved]
    assert fired[0].at < cleared_at < resolved[0].at
    (alert,) = fired[0].alerts(RULE_ID, "firing")
    assert alert["project"] == "default" and alert["severity"] == "high"
    assert resolved[0].alerts(RULE_ID, "resolved")[0]["fingerprint"] == alert["fingerprint"]
    assert receiver.rejected == 0
    # the rule was judged inside the statistics run that took the snapshot (no analytics hop)
    assert check_run.job_name == "extract_statistics"
    # nobody launched anything: every run came from a schedule or a sensor
    assert runs and all(r.tags.get("dagster/schedule_name") or r.tags.get("dagster/sensor_name") for r in runs)
    assert leftovers == []
