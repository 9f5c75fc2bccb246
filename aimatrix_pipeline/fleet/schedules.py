"""Retention runs once a day (AIMATRIX_RETENTION_CRON, default 03:17 UTC, off the 5-minute grid)."""

from __future__ import annotations

import dagster as dg

from aimatrix_pipeline.fleet.jobs import SNAPSHOT_RETENTION_JOB
from aimatrix_pipeline.settings import current_settings

RETENTION_CRON = current_settings().schedules.retention

RETENTION_SCHEDULE = dg.ScheduleDefinition(
    name="snapshot_retention",  # never the cron in the name: a new cron must keep the schedule's history
    job=SNAPSHOT_RETENTION_JOB,
    cron_schedule=RETENTION_CRON,
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Apply the snapshot retention policy to the whole warehouse (cron from AIMATRIX_RETENTION_CRON).",
)
