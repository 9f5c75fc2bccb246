"""Schedules of the extract domain: every tick requests one run per shard of projects.

Intervals come from the settings (`AIMATRIX_STATS_CRON`, `AIMATRIX_LOGS_CRON`) so operators can
tune observer cost without a code change. A schedule's name never depends on its cron: Dagster
keys a schedule's tick history and its on/off state by name, so a new interval must not orphan
them. Each run carries a range of `AIMATRIX_BATCH_SIZE` consecutive projects and the tag
`aimatrix/shard`, which dagster.yaml's tag concurrency limits use to cap how many runs of the
same projects go at once (shared/schedules.py; shared/batch.py works through the range).

Not `dg.build_schedule_from_partitioned_job`: for static partitions it requests every partition
with the same static tags, so runs could not carry their own shard's tags and priority.
"""

from __future__ import annotations

from aimatrix_pipeline.extract.jobs import (
    CAPTURE_QUERY_PLANS_JOB,
    EXTRACT_APP_LOGS_JOB,
    EXTRACT_STATISTICS_JOB,
)
from aimatrix_pipeline.settings import current_settings
from aimatrix_pipeline.shared.schedules import APP_LOGS_PRIORITY, STATISTICS_PRIORITY, batched_schedule

STATS_CRON = current_settings().schedules.statistics
LOGS_CRON = current_settings().schedules.app_logs
PLANS_CRON = current_settings().schedules.plans

STATISTICS_SCHEDULE = batched_schedule(
    EXTRACT_STATISTICS_JOB,
    STATS_CRON,
    "snapshot_statistics",
    "Snapshot each project's pg_stat_* statistics (cron from AIMATRIX_STATS_CRON).",
    priority=STATISTICS_PRIORITY,
)
APP_LOGS_SCHEDULE = batched_schedule(
    EXTRACT_APP_LOGS_JOB,
    LOGS_CRON,
    "load_app_logs",
    "Load each project's new app-log rows (cron from AIMATRIX_LOGS_CRON).",
    priority=APP_LOGS_PRIORITY,
)
PLANS_SCHEDULE = batched_schedule(
    CAPTURE_QUERY_PLANS_JOB,
    PLANS_CRON,
    "capture_query_plans",
    "Capture the generic plans of each project's top statements (cron from AIMATRIX_PLANS_CRON).",
)
