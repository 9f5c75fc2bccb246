"""Schedules of the alerts domain: the fleet-wide extraction freshness check.

Checks attached to assets run when the asset materializes; "extraction stopped" is exactly the
case where nothing materializes, so that one check runs on its own clock.
"""

from __future__ import annotations

import dagster as dg

from aimatrix_pipeline.alerts.jobs import alert_freshness_job

FRESHNESS_CRON = "*/30 * * * *"

alert_freshness_schedule = dg.ScheduleDefinition(
    name="alert_freshness_schedule",
    job=alert_freshness_job,
    cron_schedule=FRESHNESS_CRON,
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Every 30 minutes: is every configured project's extraction recent enough?",
)
