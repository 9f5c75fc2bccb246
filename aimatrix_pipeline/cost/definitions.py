"""Definitions of the cost domain (usage extraction, price book, cost tables, budget check)."""

import dagster as dg

from aimatrix_pipeline.cost.assets import COST_ASSETS, USAGE_ASSETS
from aimatrix_pipeline.cost.checks import COST_CHECKS
from aimatrix_pipeline.cost.jobs import COST_DAILY_JOB, COST_MONTHLY_JOB, USAGE_DAILY_JOB
from aimatrix_pipeline.cost.schedules import COST_SCHEDULES
from aimatrix_pipeline.cost.sensors import COST_SENSORS

defs = dg.Definitions(
    assets=[*USAGE_ASSETS, *COST_ASSETS],
    asset_checks=COST_CHECKS,
    jobs=[USAGE_DAILY_JOB, COST_DAILY_JOB, COST_MONTHLY_JOB],
    schedules=COST_SCHEDULES,
    sensors=COST_SENSORS,
)
