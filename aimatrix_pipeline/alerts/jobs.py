"""The alerts domain's jobs: delivery, and the two extraction-freshness checks run on their own clock."""

from __future__ import annotations

import dagster as dg

from aimatrix_pipeline.alerts.assets import alert_events, notification_deliveries
from aimatrix_pipeline.shared.rule_checks import FLEET_FRESHNESS_CHECK, FRESHNESS_RULE_ID

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

ALERT_STALENESS_JOB_NAME = "alert_staleness_job"

# The per-project `extraction_stale` rule judges time: evaluated only right after an extraction
# (its other home, the statistics job) it would always see an age of about 0. This job runs it on
# the freshness clock, one run per shard of projects, without materializing anything. A job that
# selects only checks has no partitions definition in Dagster 1.13 (it is dropped when the job
# resolves), so each run names its projects with tags: the partition-range tags
# (`dagster/asset_partition_range_start/end`) for a shard, `dagster/partition` (PARTITION_TAG) for
# one project. The check then sees those keys in `context.partition_keys` and records each
# project's evaluation under its own partition, the same partition as those of the statistics runs
# (one alert per project, whichever run judged it).
PARTITION_TAG = "dagster/partition"

alert_staleness_job = dg.define_asset_job(
    ALERT_STALENESS_JOB_NAME,
    selection=dg.AssetSelection.checks(
        dg.AssetCheckKey(dg.AssetKey(["raw", "database_stats"]), FRESHNESS_RULE_ID)),
    executor_def=dg.in_process_executor,
    description="Runs only the per-project extraction_stale check (no asset is materialized).",
    tags={"aimatrix/domain": "alerts"},
)
