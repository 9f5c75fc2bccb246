"""Definitions of the cost domain (usage extraction, price book, cost tables, budget check)."""

import dagster as dg

from aimatrix_pipeline.cost.assets import COST_ASSETS, USAGE_ASSETS
from aimatrix_pipeline.cost.checks import COST_CHECKS

defs = dg.Definitions(assets=[*USAGE_ASSETS, *COST_ASSETS], asset_checks=COST_CHECKS)
