"""Schedule of the appsignals domain: one run per shard of projects per tick (AIMATRIX_APPSIGNALS_CRON).

A project that fails its API logs leaves the step of the derived tables skipped in that run; the
automation sensor derives them for the healthy projects of the shard from their new materializations."""

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
