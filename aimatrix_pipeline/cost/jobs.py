"""Jobs of the cost domain: extract a finished day's usage, price it, refresh the running month's report.

Extracting and pricing are two jobs, not one: dagster.yaml enforces the warehouse pool per run
(`granularity: run`), so a run holds the pool's one slot from launch to end if any of its steps
is pooled. The usage extract waits on Supabase's APIs (up to its budget) and is not pooled; in a
run with the pooled pricing steps it would keep every other warehouse run queued while it waits.
Alone in its run it holds no slot; the pricing run follows it (sensors.py).
"""

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

USAGE_DAILY_JOB = dg.define_asset_job(
    "usage_daily",
    selection=dg.AssetSelection.assets(usage_daily),
    partitions_def=DAILY_PARTITIONS,
    description="Extract a day's billing usage for every project (no warehouse pool slot while it "
    "waits on the network); a successful run is followed by the day's cost_daily run.",
)

COST_DAILY_JOB = dg.define_asset_job(
    "cost_daily",
    # the price book first: the pricing reads it (and its one writer is the price_book asset)
    selection=dg.AssetSelection.assets(price_book, cost_breakdown_daily, query_cost_daily),
    partitions_def=DAILY_PARTITIONS,
    description="Price a day's extracted usage for every project and attribute compute cost to "
    "queries. Launched after each successful usage_daily run; backfilling a range runs once over "
    "the whole range.",
)

COST_MONTHLY_JOB = dg.define_asset_job(
    "cost_monthly_report",
    selection=dg.AssetSelection.assets(price_book, monthly_cost_report),
    partitions_def=MONTHLY_PARTITIONS,
    description="Build a month's invoice per organization (and the budget check).",
)
