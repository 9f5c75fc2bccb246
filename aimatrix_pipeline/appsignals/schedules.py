"""Schedule of the appsignals domain: one run per project per tick (AIMATRIX_APPSIGNALS_CRON)."""

from __future__ import annotations

from aimatrix_pipeline.appsignals.jobs import APPSIGNALS_JOB
from aimatrix_pipeline.settings import current_settings
from aimatrix_pipeline.shared.schedules import APPSIGNALS_PRIORITY, batched_schedule

APPSIGNALS_CRON = current_settings().schedules.appsignals

APPSIGNALS_SCHEDULE = batched_schedule(
    APPSIGNALS_JOB,
    APPSIGNALS_CRON,
    "load_app_signals",
    "Load each project's API logs, API counts and metrics and derive their tables "
    "(cron from AIMATRIX_APPSIGNALS_CRON, default every 15 minutes).",
    priority=APPSIGNALS_PRIORITY,
)
