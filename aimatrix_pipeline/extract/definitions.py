"""Definitions of the extract domain."""

import dagster as dg

from aimatrix_pipeline.extract.assets import ALL_ASSETS
from aimatrix_pipeline.extract.jobs import (
    CAPTURE_QUERY_PLANS_JOB,
    EXTRACT_APP_LOGS_JOB,
    EXTRACT_STATISTICS_JOB,
)
from aimatrix_pipeline.extract.schedules import APP_LOGS_SCHEDULE, PLANS_SCHEDULE, STATISTICS_SCHEDULE

defs = dg.Definitions(
    assets=ALL_ASSETS,
    jobs=[EXTRACT_STATISTICS_JOB, EXTRACT_APP_LOGS_JOB, CAPTURE_QUERY_PLANS_JOB],
    schedules=[STATISTICS_SCHEDULE, APP_LOGS_SCHEDULE, PLANS_SCHEDULE],
)
