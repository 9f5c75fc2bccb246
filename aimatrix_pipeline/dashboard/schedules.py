"""Refresh the dashboard page on a schedule (AIMATRIX_DASHBOARD_CRON, default every 15 minutes)."""

from __future__ import annotations

import os

import dagster as dg

from aimatrix_pipeline.dashboard.assets import DASHBOARD_KEY

DASHBOARD_CRON = os.environ.get("AIMATRIX_DASHBOARD_CRON", "*/15 * * * *")

DASHBOARD_JOB = dg.define_asset_job("refresh_monitoring_dashboard", selection=[DASHBOARD_KEY])

DASHBOARD_SCHEDULE = dg.ScheduleDefinition(
    name="refresh_monitoring_dashboard_every_15_minutes" if DASHBOARD_CRON == "*/15 * * * *"
    else "refresh_monitoring_dashboard",
    job=DASHBOARD_JOB,
    cron_schedule=DASHBOARD_CRON,
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Re-render the HTML monitoring dashboard from the warehouse (AIMATRIX_DASHBOARD_CRON).",
)
