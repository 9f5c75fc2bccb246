"""Unattended, as deployed: shipped rules fire while the source is busy and resolve once it goes
quiet, through the real `dagster-daemon`. Two daemon sessions (the daemon start and the first runs
are the expensive part): the first drives the seven rules of the table below at once; the second,
`extraction_stopped`, whose cause is the opposite of a busy source (extraction stops, then resumes;
see that test's docstring).

The monitored cluster is the test's own (`max_connections` 30). Busy, then quiet:

| rule | driven by (busy) | quiet | test's copy of the rule |
| --- | --- | --- | --- |
| `connection_utilisation_high` | 23 idle sessions + the two below (> 0.8 of 27 usable) | sessions closed | shipped |
| `long_running_query` | one `pg_sleep` statement that keeps running | statement cancelled: the next activity snapshot has NO row (raw.snapshot_runs) | threshold 0.1 min |
| `slow_query_avg` | every few seconds a 1.5 s statement (pg_stat_statements) that logs a 10 s query (app log): the hour's mean > 1000 ms | the statements stop: the newest interval counts only the monitoring role's own calls and the log load brings no row (no data) | shipped |
| `error_rate_spike` | an application error every few seconds (`public.error_events`): all in the last hour, 24x the 24 h mean | inserts stop: the next log load finds no error | shipped |
| `embedding_error_rate_high` | an embedding generation that failed every few seconds (`public.embedding_generation_logs`) | inserts stop: the next load finds no generation | shipped |
| `vector_p95_slow` | a 500 ms vector query logged every few seconds (`public.vector_query_logs`) | inserts stop: the next load brings no vector query (no data) | shipped |
| `query_log_keys_present` | a query log row every few seconds (`public.query_performance_logs`) | inserts stop: the next load brings no row (no data) | threshold -1: a real source cannot deliver a keyless row (a NULL query_hash is quarantined, text_hash is computed), so "0 keyless rows" of a load that brought rows is the breach |

Every rule's channels are `[webhook]` in the test's copy (the shipped `query_log_keys_present`
goes to Slack only); `group_interval` is 0 s so a resolve does not wait behind a firing message.

Not driven through the daemon (their unit tests are in tests/alerts/test_rules_and_checks.py and
tests/test_check_failures.py):
* `cache_hit_ratio_low`: the ratio is cumulative since the last statistics reset, so a quiet source
  does not move it (judging the newest interval needs delta columns in analytics.database_health).
* `extraction_stale`: its check runs with raw/database_stats, i.e. only when an extraction ran,
  right after it (age about 0); a stopped extraction is `extraction_stopped`, driven below.
* `pg_stat_statements_keys_present`: the monitoring role reads every key (pg_read_all_stats).
* `statement_deltas_non_negative`: the deltas classify every counter drop as a reset.
* `projected_cost_over_budget`: the monthly cost report (plan, price book, budget), daily cron.

Schedules: statistics every 2 minutes, app logs every 2 minutes; sensors every 10 s. Waits are
bounded by generous deadlines (no timing asserts); the daemon and everything it started are
stopped at the end.
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
QUIET_FAST = {**FAST, "AIMATRIX_STATS_CRON": "*/2 * * * *", "AIMATRIX_LOGS_CRON": "*/2 * * * *"}

RULES = ("connection_utilisation_high", "long_running_query", "error_rate_spike", "embedding_error_rate_high",
         "query_log_keys_present", "slow_query_avg", "vector_p95_slow")
# 23 held + the long statement + the application writer = 25 superuser sessions: above 0.8 of the
# 27 usable connections, with two slots left for the monitoring role's extracts
HELD_SESSIONS = 23


def _rules_file(path, root):
    doc = yaml.safe_load((root / "alert_rules.yaml").read_text())
    doc["settings"]["group_interval"] = "0s"
    for rule in doc["rules"]:
        rule["channels"] = ["webhook"]
        if rule["id"] == "long_running_query":
            rule["threshold"] = 0.1  # minutes
        if rule["id"] == "query_log_keys_present":
            rule["threshold"] = -1  # a load that brought rows breaches; an empty load is no data
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


class Application:
    """The application while busy: every few seconds a slow statement (1.5 s) that writes an error
    event, a failed embedding generation, a query log row of a 10 s query and a 500 ms vector query, on one connection;
    `stop` ends it (the source goes quiet)."""

    def __init__(self, dsn: str):
        self.conn = psycopg.connect(dsn, autocommit=True, application_name="e2e-app")
        self.inserted = 0
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self._stop.is_set():
            # one statement that takes 1.5 s (pg_stat_statements) and logs a 10 s query (app log)
            self.conn.execute(
                "with e as (insert into public.error_events (name, message, severity) "
                "values ('CheckoutFailed', 'payment provider timed out', 'error') returning 1), "
                "g as (insert into public.embedding_generation_logs (model, token_count, generation_time_ms, error) "
                "values ('text-embedding-3-small', 12, 40, 'rate limited') returning 1), "
                "q as (insert into public.query_performance_logs (query_hash, query_text, execution_time_ms, "
                "rows_returned, rows_examined, created_at) values (md5(random()::text), "
                "'select id from orders where id = 42', 10000, 1, 1, now()) returning 1), "
                "v as (insert into public.vector_query_logs (query_type, table_name, similarity_threshold, "
                "vector_dimension, query_time_ms, result_count, index_used) "
                "values ('similarity', 'documents', 0.8, 384, 500, 10, false) returning 1) "
                "select pg_sleep(1.5) from e, g, q, v")
            self.inserted += 1
            self._stop.wait(3)

    def stop(self):
        self._stop.set()
        self.thread.join(60)
        self.conn.close()


def test_snapshot_rules_fire_while_busy_and_resolve_when_the_source_goes_quiet(tmp_path, pg18):
    from .daemon_flow import ROOT

    dagster_db = f"dagster_quiet_e2e_{os.getpid()}"
    dagster_url = pg18.create_database(dagster_db).replace("postgresql://", "postgresql+psycopg2://", 1)
    source = MonitoredPostgres(_base_dir() / f"monitored-quiet-{tmp_path.name}").start()
    receiver = SignedWebhookReceiver()
    load = ConnectionLoad(source.owner_dsn, HELD_SESSIONS)
    long = LongStatement(source.owner_dsn)
    app = Application(source.owner_dsn)
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
        # the source goes quiet: no application writes, no long statement, no extra sessions
        app.stop()
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
        if app.thread.is_alive():
            app.stop()
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
    (alert,) = fired["error_rate_spike"][0].alerts("error_rate_spike", "firing")
    assert "errors in the last hour" in alert["message"]
    assert app.inserted > 0
    assert receiver.rejected == 0
    assert leftovers == []


# --- the second session: extraction itself stops, then resumes -----------------------------------

STATS_SCHEDULE = "snapshot_statistics"


def _schedule(daemon: AlertDaemon, action: str, name: str) -> None:
    """`dagster schedule stop|start NAME` on the daemon's instance: what an operator does."""
    import subprocess
    import sys
    from pathlib import Path

    done = subprocess.run([str(Path(sys.executable).with_name("dagster")), "schedule", action, name,
                           "-m", "aimatrix_pipeline.definitions"],
                          env=daemon.env, cwd=daemon.work, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, (done.stdout[-2000:], done.stderr[-4000:])


def _freshness_rules_file(path, root):
    doc = yaml.safe_load((root / "alert_rules.yaml").read_text())
    doc["settings"]["group_interval"] = "0s"
    for rule in doc["rules"]:
        rule["channels"] = ["webhook"]
        if rule["id"] == "extraction_stale":
            rule["threshold"] = 3  # minutes (the fleet freshness check judges against it)
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def test_extraction_stopped_fires_when_extraction_stops_and_resolves_when_it_resumes(tmp_path, pg18):
    """`extraction_stopped` (the fleet check `raw/database_stats:all_projects_extracted_recently`,
    run by `alert_freshness_schedule`, here every minute through AIMATRIX_FRESHNESS_CRON): the
    statistics schedule (every minute) is stopped with `dagster schedule stop`, as an operator or
    a broken deployment would; no extraction for more than 3 minutes (`extraction_stale`'s
    threshold lowered from 90 in the test's copy) fires it; `dagster schedule start` resumes
    extraction and the next freshness evaluation resolves it.

    Before the first extraction lands the project is "never extracted", which may fire (and then
    resolve) on its own: only what follows the stop is counted, exactly once each.
    """
    import dagster as dg

    from .daemon_flow import ROOT

    rule = "extraction_stopped"
    dagster_db = f"dagster_fresh_e2e_{os.getpid()}"
    dagster_url = pg18.create_database(dagster_db).replace("postgresql://", "postgresql+psycopg2://", 1)
    source = MonitoredPostgres(_base_dir() / f"monitored-fresh-{tmp_path.name}").start()
    receiver = SignedWebhookReceiver()
    daemon = AlertDaemon(tmp_path, dagster_pg_url=dagster_url, source_dsn=source.monitor_dsn,
                         webhook_url=receiver.url,
                         env={**FAST, "AIMATRIX_STATS_CRON": "* * * * *", "AIMATRIX_FRESHNESS_CRON": "* * * * *"},
                         rules_path=_freshness_rules_file(tmp_path / "alert_rules.yaml", ROOT))
    store = instance = None
    leftovers: list[int] = []
    try:
        daemon.start()
        instance = daemon.instance()
        check = dg.AssetCheckKey(dg.AssetKey(["raw", "database_stats"]), "all_projects_extracted_recently")
        store = wait_for(lambda: (tmp_path / "alerts_outbox.sqlite").exists()
                         and AlertStore(tmp_path / "alerts_outbox.sqlite"), PHASE_DEADLINE_S, "the alert state", daemon)

        def a_pass_was_applied() -> bool:
            records = instance.event_log_storage.get_asset_check_execution_history(check, limit=20)
            ids = [r.id for r in records if isinstance(r.evaluation, dg.AssetCheckEvaluation) and r.evaluation.passed]
            return bool(ids) and (store.cursor_for(f"raw/database_stats:{check.name}") or 0) >= max(ids)

        # extraction runs and the alert sensor has applied a passing freshness evaluation; a "never
        # extracted" alert from before the first extraction has been resolved and delivered
        wait_for(a_pass_was_applied, PHASE_DEADLINE_S, "a passing freshness evaluation", daemon)
        wait_for(lambda: len(receiver.deliveries(rule, "resolved")) >= len(receiver.deliveries(rule, "firing")),
                 PHASE_DEADLINE_S, "no open extraction_stopped alert", daemon)
        before = (len(receiver.deliveries(rule, "firing")), len(receiver.deliveries(rule, "resolved")))
        _schedule(daemon, "stop", STATS_SCHEDULE)
        wait_for(lambda: len(receiver.deliveries(rule, "firing")) > before[0], PHASE_DEADLINE_S,
                 "firing notification of extraction_stopped", daemon)
        _schedule(daemon, "start", STATS_SCHEDULE)
        wait_for(lambda: len(receiver.deliveries(rule, "resolved")) > before[1], PHASE_DEADLINE_S,
                 "resolve notification of extraction_stopped", daemon)
        wait_for(lambda: not store.query("select 1 from outbox where status in ('pending', 'sending') limit 1"),
                 120, "the outbox to settle", daemon)
        fired = receiver.deliveries(rule, "firing")[before[0]:]
        resolved = receiver.deliveries(rule, "resolved")[before[1]:]
    finally:
        leftovers = daemon.stop()
        if store is not None:
            store.close()
        if instance is not None:
            instance.dispose()
        receiver.close()
        source.stop()
        pg18.drop_database(dagster_db)

    assert len(fired) == 1, [d.body for d in fired]
    assert len(resolved) == 1, [d.body for d in resolved]
    assert fired[0].at < resolved[0].at
    (alert,) = fired[0].alerts(rule, "firing")
    assert "not extracted within" in alert["message"]
    assert receiver.rejected == 0
    assert leftovers == []
