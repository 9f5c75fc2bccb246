"""The alert sensor: finds new asset check evaluations, queues notifications and sends them.

A tick reads new check execution records (every check in the code location, other domains'
included, WARN and non-blocking too), applies them to the alert state machine, applies the passage
of time (held FIRINGs, reminders, silences ending), and then sends what is due itself, for at most
`AIMATRIX_ALERT_SENSOR_SEND_S` seconds (default 15). Why in the tick: a delivery run is a new
process that loads the code location before it sends, 20-60 s on a loaded two-core machine, the
largest fixed cost between a breached rule and the page (docs/alerts.md, "Latency"). The tick
sends through the same outbox as the run (per-channel lease, claim before the request, `sent`
after the 2xx), so neither path can send a row the other has sent or is sending. A request started
before the deadline finishes within the rules' `timeout`, so a slow Slack cannot push a tick past
Dagster's sensor timeout; what is left (a backlog, a paced PagerDuty burst, retries) and the
alerts.* mirror go to the delivery run the tick requests.

The authoritative cursor (last record id per check) lives in the alert state store, moved in the
same transaction as the transitions it caused; the sensor cursor mirrors it for visibility.
It ticks every `AIMATRIX_ALERT_SENSOR_INTERVAL_S` seconds (default 10: an idle tick costs about
0.1 s of CPU, client and PostgreSQL together, about 1 % of a core at that interval;
benchmarks/bench_alert_sensor_tick.py).
"""

from __future__ import annotations

import hashlib
import json

import dagster as dg
from dagster import SensorEvaluationContext

from aimatrix_pipeline.alerts import outbox
from aimatrix_pipeline.alerts.delivery import deliver
from aimatrix_pipeline.alerts.jobs import ALERT_DELIVERY_JOB_NAME, alert_delivery_job
from aimatrix_pipeline.alerts.scan import scan
from aimatrix_pipeline.alerts.state import AlertStateMachine, AlertStore, default_state_path
from aimatrix_pipeline.resources.settings_resource import SettingsResource
from aimatrix_pipeline.settings import current_settings
from aimatrix_pipeline.shared.rules import load_rules

ALERT_SENSOR_NAME = "alert_sensor"
MINIMUM_INTERVAL_S = current_settings().alert_sensor_interval_s


def _delivery_in_progress(instance: dg.DagsterInstance) -> bool:
    runs = instance.get_run_records(
        filters=dg.RunsFilter(job_name=ALERT_DELIVERY_JOB_NAME,
                              statuses=[dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED,
                                        dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED]),
        limit=1)
    return bool(runs)


def run_tick(instance: dg.DagsterInstance, check_keys, store: AlertStore, rules, project_names,
             environ=None) -> dict:
    """One sensor tick's decisions (usable without a sensor context: tests, benchmark)."""
    machine = AlertStateMachine(store, rules, environ)
    result = scan(instance, check_keys, store, machine, project_names)
    held_fired = machine.advance()
    ungrouped = tuple(c.name for c in rules.channels if c.type == "pagerduty")
    rows = outbox.due_rows(store, rules.settings.group_interval_s, ungrouped)
    due = outbox.due_summary(store, rules.settings.group_interval_s, ungrouped)
    return {"scan": result, "advanced": held_fired, "due": due, "due_rows": rows,
            "mirror_due": store.mirror_due(), "state_version": store.state_version()}


def send_in_tick(store: AlertStore, rules, budget_s: float, environ=None) -> dict:
    """Send due notifications within `budget_s` seconds; the counts, for the tick's log line.

    Returns zeros when the budget is 0 or nothing is due. What is still due afterwards is the
    delivery run's (`run_tick`'s figures are recomputed by the caller).
    """
    if budget_s <= 0:
        return {"messages": 0, "notifications": 0, "failed_attempts": 0}
    stats = deliver(store, rules, environ, deadline=store.clock.now() + budget_s)
    return {"messages": sum(s.messages_sent for s in stats.values()),
            "notifications": sum(s.notifications_sent for s in stats.values()),
            "failed_attempts": sum(s.attempts_failed for s in stats.values())}


@dg.sensor(
    name=ALERT_SENSOR_NAME,
    job=alert_delivery_job,
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=MINIMUM_INTERVAL_S,
    description="Turns asset check results (failures, recoveries, checks that could not run; WARN "
    "and non-blocking included) into alerts and requests a delivery run when notifications are due "
    "or alerts.* in the warehouse lags the alert state (open alerts show with no channel configured).",
)
def alert_sensor(context: SensorEvaluationContext, settings: SettingsResource):
    current = settings.get()
    rules = load_rules(current.rules_path())
    store = AlertStore(default_state_path(current))
    try:
        check_keys = list(context.repository_def.asset_graph.asset_check_keys)
        tick = run_tick(context.instance, check_keys, store, rules, current.project_names)
        context.update_cursor(json.dumps(tick["scan"].cursors, sort_keys=True))
        sent = {"messages": 0, "notifications": 0, "failed_attempts": 0}
        if tick["due"]["due"]:
            sent = send_in_tick(store, rules, current.alert_sensor_send_s)
            if sent["messages"] or sent["failed_attempts"]:
                context.log.info(f"sent {sent['messages']} messages ({sent['notifications']} notifications) "
                                 f"in the tick; {sent['failed_attempts']} attempts failed")
            ungrouped = tuple(c.name for c in rules.channels if c.type == "pagerduty")
            tick = {**tick, "due": outbox.due_summary(store, rules.settings.group_interval_s, ungrouped),
                    "due_rows": outbox.due_rows(store, rules.settings.group_interval_s, ungrouped),
                    "mirror_due": store.mirror_due(), "state_version": store.state_version()}
        due = tick["due"]
        # Alert state the warehouse does not show yet (open alerts with no channel configured)
        # also needs the run: its second asset mirrors the state into alerts.*, which the
        # dashboard and the catalog read. Delivery is a no-op then.
        # Sent or failed rows changed alerts.notification_deliveries: the run's mirror refreshes it.
        if not due["due"] and not tick["mirror_due"] and not (sent["messages"] or sent["failed_attempts"]):
            return dg.SkipReason(f"{tick['scan'].evaluations} new evaluations; nothing to deliver")
        if _delivery_in_progress(context.instance):
            return dg.SkipReason(f"{due['due']} notifications due; a delivery run is already in progress")
        digest = hashlib.sha256(json.dumps([tick["due_rows"], tick["state_version"]]).encode()).hexdigest()[:16]
        # A run key Dagster has seen is never requested again; a delivery run that failed to launch
        # (e.g. a code server timing out under load) would hold its notifications back until the
        # key changes. So the key changes every minute; `_delivery_in_progress` prevents doubles.
        bucket = int(store.clock.now() // 60)
        return dg.RunRequest(run_key=f"deliver-{digest}-{bucket}",
                             tags={"aimatrix/notifications_due": str(due["due"])})
    finally:
        store.close()
