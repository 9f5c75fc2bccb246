"""Definitions of the dashboard domain (resources are bound at the top level)."""

import dagster as dg

from aimatrix_pipeline.dashboard.assets import monitoring_dashboard
from aimatrix_pipeline.dashboard.schedules import DASHBOARD_JOB, DASHBOARD_SCHEDULE

defs = dg.Definitions(assets=[monitoring_dashboard], jobs=[DASHBOARD_JOB], schedules=[DASHBOARD_SCHEDULE])
