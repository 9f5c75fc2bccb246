"""Assets of the alerts group: the delivery pass and the alerts.* warehouse mirror.

Two assets rather than one so that sending never waits for the warehouse: a failed mirror write
never blocks or undoes a delivery. Neither asset joins the `duckdb_warehouse` pool: dagster.yaml
enforces pools per RUN, so one pooled step would hold the whole delivery run in the queue behind
every statistics and analytics run (minutes at a 1-minute cadence; pages must not wait for that).
`alerts/alert_events` takes its turn on the warehouse file lock instead, after the pass has sent.
"""


import dagster as dg
from dagster import AssetExecutionContext

from aimatrix_pipeline.alerts.delivery import deliver
from aimatrix_pipeline.alerts.mirror import mirror_to_warehouse
from aimatrix_pipeline.alerts.outbox import due_summary
from aimatrix_pipeline.alerts.state import AlertStore, default_state_path
from aimatrix_pipeline.resources.settings_resource import SettingsResource
from aimatrix_pipeline.resources.warehouse import WarehouseResource
from aimatrix_pipeline.shared.rules import load_rules
from aimatrix_pipeline.shared.tables import writes

NOTIFICATION_DELIVERIES_KEY = dg.AssetKey(["alerts", "notification_deliveries"])
ALERT_EVENTS_KEY = dg.AssetKey(["alerts", "alert_events"])

ALERT_EVENTS_SCHEMA = dg.TableSchema(columns=[
    dg.TableColumn("id", "varchar", description="incident id, stable"),
    dg.TableColumn("rule_id", "varchar"),
    dg.TableColumn("fingerprint", "varchar", description="(project, check, partition), <= 255 chars"),
    dg.TableColumn("title", "varchar"),
    dg.TableColumn("message", "varchar"),
    dg.TableColumn("severity", "varchar", description="low | medium | high | critical"),
    dg.TableColumn("status", "varchar", description="pending | firing | resolved | normal"),
    dg.TableColumn("fired_at", "timestamptz"),
    dg.TableColumn("resolved_at", "timestamptz"),
    dg.TableColumn("resolved_by", "varchar"),
    dg.TableColumn("resolve_notes", "varchar"),
    dg.TableColumn("metrics", "json"),
    dg.TableColumn("project", "varchar"),
    dg.TableColumn("check_key", "varchar"),
    dg.TableColumn("partition_key", "varchar"),
    dg.TableColumn("kind", "varchar", description="data | could_not_evaluate"),
    dg.TableColumn("detected_at", "timestamptz"),
    dg.TableColumn("notified", "boolean"),
    dg.TableColumn("channels", "varchar[]"),
    dg.TableColumn("updated_at", "timestamptz"),
])


@dg.asset(
    key=NOTIFICATION_DELIVERIES_KEY,
    group_name="alerts",
    owners=["team:data-platform"],
    kinds={"python", "sqlite"},
    description="One delivery pass over the alert outbox (SQLite next to the warehouse): every "
    "channel in its own worker, retries with Retry-After / capped jittered backoff, permanent "
    "errors recorded. Materialized by alert_delivery_job, which the alert sensor requests.",
)
def notification_deliveries(context: AssetExecutionContext, settings: SettingsResource) -> dg.MaterializeResult:
    current = settings.get()
    rules = load_rules(current.rules_path())
    store = AlertStore(default_state_path(current))
    try:
        stats = deliver(store, rules)
        summary = due_summary(store)
        pending = sum(r["n"] for r in summary["by_channel"] if r["status"] in ("pending", "sending"))
        failed = sum(r["n"] for r in summary["by_channel"] if r["status"] == "failed")
        sent = store.query("select count(*) from outbox where status = 'sent'")[0][0]
    finally:
        store.close()
    for name, s in stats.items():
        context.log.info(f"{name}: {s.messages_sent} messages ({s.notifications_sent} notifications) sent, "
                         f"{s.attempts_failed} failed attempts")
    return dg.MaterializeResult(metadata={
        "dagster/row_count": int(sent + pending + failed),
        "sent_total": int(sent),
        "pending": int(pending),
        "failed_permanently": int(failed),
        "messages_sent_this_pass": sum(s.messages_sent for s in stats.values()),
        "notifications_sent_this_pass": sum(s.notifications_sent for s in stats.values()),
    })


@dg.asset(
    key=ALERT_EVENTS_KEY,
    deps=[NOTIFICATION_DELIVERIES_KEY],
    group_name="alerts",
    owners=["team:data-platform"],
    kinds={"duckdb"},
    description="alerts.alert_events (every alert incident with its status, who "
    "resolved it and the metric values), plus alerts.alert_event_history and "
    "alerts.notification_deliveries, mirrored from the alert state store.",
    metadata=writes("alerts.alert_events", "alerts.alert_event_history", "alerts.notification_deliveries"),
)
def alert_events(context: AssetExecutionContext, warehouse: WarehouseResource,
                 settings: SettingsResource) -> dg.MaterializeResult:
    store = AlertStore(default_state_path(settings.get()))
    try:
        counts = mirror_to_warehouse(store, warehouse)
    finally:
        store.close()
    return dg.MaterializeResult(metadata={
        "dagster/row_count": counts["alert_events"],
        "dagster/column_schema": ALERT_EVENTS_SCHEMA,
        "open_alerts": counts["open_alerts"],
        "history_rows": counts["alert_event_history"],
        "delivery_rows": counts["notification_deliveries"],
    })
