"""Schedules of the extract domain: every tick requests one run per monitored project.

Intervals come from the environment (`AIMATRIX_STATS_CRON`, `AIMATRIX_LOGS_CRON`) so operators can
tune observer cost without a code change. The schedule shape (one run per project, tagged
`aimatrix/project`) is shared with appsignals: shared/schedules.py.
"""

from __future__ import annotations

import os

from aimatrix_pipeline.extract.jobs import EXTRACT_APP_LOGS_JOB, EXTRACT_STATISTICS_JOB
from aimatrix_pipeline.shared.schedules import per_project_schedule

STATS_CRON = os.environ.get("AIMATRIX_STATS_CRON", "*/5 * * * *")
LOGS_CRON = os.environ.get("AIMATRIX_LOGS_CRON", "*/2 * * * *")

STATISTICS_SCHEDULE = per_project_schedule(
    EXTRACT_STATISTICS_JOB,
    STATS_CRON,
    "snapshot_statistics_every_5_minutes" if STATS_CRON == "*/5 * * * *" else "snapshot_statistics",
    "Snapshot each project's pg_stat_* statistics (cron from AIMATRIX_STATS_CRON).",
)
APP_LOGS_SCHEDULE = per_project_schedule(
    EXTRACT_APP_LOGS_JOB,
    LOGS_CRON,
    "load_app_logs_every_2_minutes" if LOGS_CRON == "*/2 * * * *" else "load_app_logs",
    "Load each project's new app-log rows (cron from AIMATRIX_LOGS_CRON).",
)
