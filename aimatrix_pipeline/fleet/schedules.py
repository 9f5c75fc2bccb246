"""Retention runs once a day (AIMATRIX_RETENTION_CRON, default 03:17 UTC, off the 5-minute grid)."""

from __future__ import annotations

import os

import dagster as dg

from aimatrix_pipeline.fleet.jobs import SNAPSHOT_RETENTION_JOB

RETENTION_CRON = os.environ.get("AIMATRIX_RETENTION_CRON", "17 3 * * *")

RETENTION_SCHEDULE = dg.ScheduleDefinition(
    name="snapshot_retention_daily",
    job=SNAPSHOT_RETENTION_JOB,
    cron_schedule=RETENTION_CRON,
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Apply the snapshot retention policy to the whole warehouse (cron from AIMATRIX_RETENTION_CRON).",
)
