"""Refresh the dashboard page on a schedule (AIMATRIX_DASHBOARD_CRON, default every 15 minutes)."""

from __future__ import annotations

import dagster as dg

from aimatrix_pipeline.dashboard.assets import DASHBOARD_KEY
from aimatrix_pipeline.settings import current_settings

DASHBOARD_CRON = current_settings().schedules.dashboard

DASHBOARD_JOB = dg.define_asset_job("refresh_monitoring_dashboard", selection=[DASHBOARD_KEY])

DASHBOARD_SCHEDULE = dg.ScheduleDefinition(
    name="refresh_monitoring_dashboard",  # never the cron in the name (it keys history and on/off state)
    job=DASHBOARD_JOB,
    cron_schedule=DASHBOARD_CRON,
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Re-render the HTML monitoring dashboard from the warehouse (AIMATRIX_DASHBOARD_CRON).",
)
