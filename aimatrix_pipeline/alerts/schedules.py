"""Schedules of the alerts domain: the fleet-wide extraction freshness check.

Checks attached to assets run when the asset materializes; "extraction stopped" is exactly the
case where nothing materializes, so that one check runs on its own clock.
"""

from __future__ import annotations

import dagster as dg

from aimatrix_pipeline.alerts.jobs import alert_freshness_job
from aimatrix_pipeline.settings import current_settings

# AIMATRIX_FRESHNESS_CRON, default every 30 minutes
FRESHNESS_CRON = current_settings().schedules.freshness

alert_freshness_schedule = dg.ScheduleDefinition(
    name="alert_freshness_schedule",
    job=alert_freshness_job,
    cron_schedule=FRESHNESS_CRON,
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Is every configured project's extraction recent enough? (AIMATRIX_FRESHNESS_CRON)",
)
