"""The delivery job: deliver due notifications, then mirror alert state into the warehouse."""

from __future__ import annotations

import dagster as dg

from aimatrix_pipeline.alerts.assets import alert_events, notification_deliveries
from aimatrix_pipeline.shared.rule_checks import FLEET_FRESHNESS_CHECK

ALERT_DELIVERY_JOB_NAME = "alert_delivery_job"

alert_delivery_job = dg.define_asset_job(
    ALERT_DELIVERY_JOB_NAME,
    selection=dg.AssetSelection.assets(notification_deliveries, alert_events),
    description="Requested by the alert sensor: sends what the outbox holds, then refreshes alerts.*.",
    tags={"aimatrix/domain": "alerts"},
)

ALERT_FRESHNESS_JOB_NAME = "alert_freshness_job"

alert_freshness_job = dg.define_asset_job(
    ALERT_FRESHNESS_JOB_NAME,
    selection=dg.AssetSelection.checks(
        dg.AssetCheckKey(dg.AssetKey(["raw", "database_stats"]), FLEET_FRESHNESS_CHECK)),
    description="Runs only the fleet-wide extraction freshness check (no asset is materialized).",
    tags={"aimatrix/domain": "alerts"},
)
