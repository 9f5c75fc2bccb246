"""Definitions of the extract domain (and the index advice, which plans on the monitored database)."""

import dagster as dg

from aimatrix_pipeline.extract.assets import ALL_ASSETS
from aimatrix_pipeline.extract.index_advice.assets import ASSETS as INDEX_ADVICE_ASSETS
from aimatrix_pipeline.extract.index_advice.jobs import INDEX_ADVICE_JOB
from aimatrix_pipeline.extract.index_advice.schedules import INDEX_ADVICE_SCHEDULE
from aimatrix_pipeline.extract.jobs import (
    CAPTURE_QUERY_PLANS_JOB,
    EXTRACT_APP_LOGS_JOB,
    EXTRACT_STATISTICS_JOB,
)
from aimatrix_pipeline.extract.schedules import APP_LOGS_SCHEDULE, PLANS_SCHEDULE, STATISTICS_SCHEDULE

defs = dg.Definitions(
    assets=[*ALL_ASSETS, *INDEX_ADVICE_ASSETS],
    jobs=[EXTRACT_STATISTICS_JOB, EXTRACT_APP_LOGS_JOB, CAPTURE_QUERY_PLANS_JOB, INDEX_ADVICE_JOB],
    schedules=[STATISTICS_SCHEDULE, APP_LOGS_SCHEDULE, PLANS_SCHEDULE, INDEX_ADVICE_SCHEDULE],
)
