"""Unattended, as deployed: snapshot-based rules fire while the source is busy and resolve once it
goes quiet, through the real `dagster-daemon` (one session drives both rules).

The monitored cluster is the test's own (`max_connections` 30). Busy: 24 idle sessions (the
shipped `connection_utilisation_high`, > 0.8 of the usable connections) and one statement that
keeps running (`long_running_query`; its threshold lowered to 0.1 minute in the test's copy of
the shipped rules, so the test need not wait five minutes). Quiet: the statement is cancelled and
the sessions closed, so the next activity snapshot has NO row at all: the rule must judge that
empty snapshot (raw.snapshot_runs) and resolve, not the last busy one forever.

Schedules tick every minute, the sensors every 10 s; waits are bounded by deadlines (no timing
asserts); the daemon and everything it started are stopped at the end.
"""

from __future__ import annotations

import os
import threading

import psycopg
import pytest
import yaml

from aimatrix_pipeline.alerts.state import AlertStore
from tests.conftest import _base_dir

from .daemon_flow import AlertDaemon, ConnectionLoad, MonitoredPostgres, SignedWebhookReceiver, wait_for
from .test_daemon_e2e import FAST

pytestmark = [pytest.mark.slow, pytest.mark.timeout(4000)]

# Generous on purpose: on a loaded 2-core machine one statistics run can take minutes, and the
# every-minute schedule then queues runs behind it. A deadline only bounds a broken flow.
PHASE_DEADLINE_S = 1500
# every two minutes: a slow run does not leave a growing queue of statistics runs behind it
QUIET_FAST = {**FAST, "AIMATRIX_STATS_CRON": "*/2 * * * *"}

RULES = ("connection_utilisation_high", "long_running_query")


def _rules_file(path, root):
    doc = yaml.safe_load((root / "alert_rules.yaml").read_text())
    doc["settings"]["group_interval"] = "0s"
    for rule in doc["rules"]:
        if rule["id"] == "long_running_query":
            rule["threshold"] = 0.1  # minutes
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


class LongStatement:
    """One statement that runs until cancelled (application_name marks it as the test's)."""

    def __init__(self, dsn: str):
        self.conn = psycopg.connect(dsn, autocommit=True, application_name="e2e-long-running")
        self.pid = self.conn.info.backend_pid
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        try:
            self.conn.execute("select pg_sleep(36000)")
        except psycopg.Error:
            pass  # cancelled

    def stop(self, owner_dsn: str):
        with psycopg.connect(owner_dsn, autocommit=True) as c:
            c.execute("select pg_cancel_backend(%s)", [self.pid])
        self.thread.join(60)
        self.conn.close()


def test_snapshot_rules_fire_while_busy_and_resolve_when_the_source_goes_quiet(tmp_path, pg18):
    from .daemon_flow import ROOT

    dagster_db = f"dagster_quiet_e2e_{os.getpid()}"
    dagster_url = pg18.create_database(dagster_db).replace("postgresql://", "postgresql+psycopg2://", 1)
    source = MonitoredPostgres(_base_dir() / f"monitored-quiet-{tmp_path.name}").start()
    receiver = SignedWebhookReceiver()
    load = ConnectionLoad(source.owner_dsn)
    long = LongStatement(source.owner_dsn)
    daemon = AlertDaemon(tmp_path, dagster_pg_url=dagster_url, source_dsn=source.monitor_dsn,
                         webhook_url=receiver.url, env=QUIET_FAST,
                         rules_path=_rules_file(tmp_path / "alert_rules.yaml", ROOT))
    store = None
    leftovers: list[int] = []
    try:
        daemon.start()
        for rule in RULES:
            wait_for(lambda r=rule: receiver.deliveries(r, "firing"), PHASE_DEADLINE_S,
                     f"firing notification of {rule}", daemon)
        # the source goes quiet: no long statement, no extra sessions
        long.stop(source.owner_dsn)
        load.close()
        for rule in RULES:
            wait_for(lambda r=rule: receiver.deliveries(r, "resolved"), PHASE_DEADLINE_S,
                     f"resolve notification of {rule}", daemon)
        store = AlertStore(tmp_path / "alerts_outbox.sqlite")
        wait_for(lambda: not store.query("select 1 from outbox where status in ('pending', 'sending') limit 1"),
                 120, "the outbox to settle", daemon)
        fired = {r: receiver.deliveries(r, "firing") for r in RULES}
        resolved = {r: receiver.deliveries(r, "resolved") for r in RULES}
    finally:
        leftovers = daemon.stop()
        if store is not None:
            store.close()
        if long.thread.is_alive():
            long.stop(source.owner_dsn)
        load.close()
        receiver.close()
        source.stop()
        pg18.drop_database(dagster_db)

    for rule in RULES:
        assert len(fired[rule]) == 1, (rule, [d.body for d in fired[rule]])
        assert len(resolved[rule]) == 1, (rule, [d.body for d in resolved[rule]])
        assert fired[rule][0].at < resolved[rule][0].at
    (alert,) = fired["long_running_query"][0].alerts("long_running_query", "firing")
    assert "pg_sleep" in alert["message"]
    assert receiver.rejected == 0
    assert leftovers == []
