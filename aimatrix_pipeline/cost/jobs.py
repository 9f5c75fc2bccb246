"""Jobs of the cost domain: price each finished day, refresh the running month's report."""

from __future__ import annotations

import dagster as dg

from aimatrix_pipeline.cost.assets import (
    cost_breakdown_daily,
    monthly_cost_report,
    price_book,
    query_cost_daily,
    usage_daily,
)
from aimatrix_pipeline.cost.partitions import DAILY_PARTITIONS, MONTHLY_PARTITIONS

COST_DAILY_JOB = dg.define_asset_job(
    "cost_daily",
    # the price book first: the pricing reads it (and its one writer is the price_book asset)
    selection=dg.AssetSelection.assets(usage_daily, price_book, cost_breakdown_daily, query_cost_daily),
    partitions_def=DAILY_PARTITIONS,
    description="Extract a day's billing usage for every project, price it, and attribute compute "
    "cost to queries. Backfilling a range runs once over the whole range.",
)

COST_MONTHLY_JOB = dg.define_asset_job(
    "cost_monthly_report",
    selection=dg.AssetSelection.assets(price_book, monthly_cost_report),
    partitions_def=MONTHLY_PARTITIONS,
    description="Build a month's invoice per organization (and the budget check).",
)
