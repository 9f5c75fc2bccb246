"""Time partitions for usage and cost: UTC days and calendar months (Supabase billing cycles).

`AIMATRIX_COST_START_DATE` (YYYY-MM-DD, default 2025-01-01) is the first day that can be
backfilled. The daily partitions end yesterday (a day is priced once it is over); the monthly ones
include the running month, whose report carries the month-end projection.
"""

from __future__ import annotations

import datetime as dt

import dagster as dg

from aimatrix_pipeline.settings import current_settings

START_DATE = current_settings().cost_start_date
START_MONTH = dt.date.fromisoformat(START_DATE).replace(day=1).isoformat()

DAILY_PARTITIONS = dg.DailyPartitionsDefinition(start_date=START_DATE, timezone="UTC")
MONTHLY_PARTITIONS = dg.MonthlyPartitionsDefinition(start_date=START_MONTH, timezone="UTC", end_offset=1)


def day_range(context: dg.AssetExecutionContext) -> tuple[dt.date, dt.date]:
    """The run's days, first and last inclusive (a single-run backfill covers a whole range)."""
    window = context.partition_time_window
    return window.start.date(), (window.end - dt.timedelta(days=1)).date()


def month_range(context: dg.AssetExecutionContext) -> tuple[dt.date, dt.date]:
    """First days of the run's first and last months."""
    window = context.partition_time_window
    last = (window.end - dt.timedelta(days=1)).date().replace(day=1)
    return window.start.date().replace(day=1), last
