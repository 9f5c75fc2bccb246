"""Sensors of the cost domain: price a day's usage once its extract has succeeded.

Why a sensor and not one run: the usage extract waits on Supabase's APIs and holds no warehouse
pool slot (jobs.py); the pricing steps are pooled, and dagster.yaml enforces pools per run, so
the two run apart. This sensor launches the cost_daily run for exactly the days of each usage_daily
run that succeeded (a partition, or the range of a single-run backfill), keyed by that run so each
extract is priced once. A failed extract is not priced, as when both were steps of one run.
"""

from __future__ import annotations

import dagster as dg

from aimatrix_pipeline.cost.jobs import COST_DAILY_JOB, USAGE_DAILY_JOB

PARTITION_TAG = "dagster/partition"
RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"
EXTRACT_RUN_TAG = "aimatrix/usage_run"


@dg.run_status_sensor(
    name="price_extracted_usage",
    run_status=dg.DagsterRunStatus.SUCCESS,
    monitored_jobs=[USAGE_DAILY_JOB],
    request_job=COST_DAILY_JOB,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="After each successful usage_daily run, prices the same days (the cost_daily run).",
)
def price_extracted_usage(context: dg.RunStatusSensorContext):
    run = context.dagster_run
    tags = {EXTRACT_RUN_TAG: run.run_id}
    partition = run.tags.get(PARTITION_TAG)
    if partition:
        return dg.RunRequest(run_key=f"priced_after@{run.run_id}", partition_key=partition, tags=tags)
    first, last = run.tags.get(RANGE_START_TAG), run.tags.get(RANGE_END_TAG)
    if first and last:
        return dg.RunRequest(run_key=f"priced_after@{run.run_id}",
                             tags={**tags, RANGE_START_TAG: first, RANGE_END_TAG: last})
    return dg.SkipReason(f"usage_daily run {run.run_id} names no day or range of days to price")


COST_SENSORS = [price_extracted_usage]
