"""Price the running month so far in one go: what the demo does when it starts.

Why: the schedules price one finished day at a time (02:15 UTC) and rebuild the month's report
after (02:45), so a fresh start shows no cost until the next night, and the report of a month
whose earlier days were never extracted is incomplete. This runs two in-process runs on the
given instance (recorded in its run history like any other): usage, price book and daily cost
for the 1st of the month through yesterday as one single-run backfill, then the month's report.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import dagster as dg

from aimatrix_pipeline.cost.assets import DAILY_KEY, MONTHLY_KEY, PRICE_BOOK_KEY, USAGE_KEY
from aimatrix_pipeline.cost.partitions import START_DATE

RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"


def month_to_date_days(today: dt.date) -> tuple[dt.date, dt.date] | None:
    """First and last finished day of today's month (None on the 1st: nothing finished yet)."""
    first = max(today.replace(day=1), dt.date.fromisoformat(START_DATE))
    last = today - dt.timedelta(days=1)
    return (first, last) if last >= first else None


def price_month_to_date(instance: dg.DagsterInstance, say: Callable[[str], None] = print,
                        today: dt.date | None = None, tags: dict[str, str] | None = None) -> bool:
    """Materialize the month's usage and cost so far, then its report; True when both succeeded."""
    from aimatrix_pipeline.definitions import defs

    today = today or dt.datetime.now(dt.UTC).date()
    month = today.replace(day=1)
    assets_defs = list(defs.resolve_asset_graph().assets_defs)  # resources already bound
    ok = True
    days = month_to_date_days(today)
    if days:
        say(f"pricing {days[0]}..{days[1]} (this month so far) ...")
        result = dg.materialize(
            assets_defs, instance=instance, raise_on_error=False,
            selection=dg.AssetSelection.assets(USAGE_KEY, PRICE_BOOK_KEY, DAILY_KEY),
            tags={**(tags or {}), RANGE_START_TAG: days[0].isoformat(), RANGE_END_TAG: days[1].isoformat()},
        )
        ok = result.success
        if not ok:
            say(f"  run {result.run_id} FAILED: the month's cost so far is incomplete")
    result = dg.materialize(
        assets_defs, instance=instance, raise_on_error=False, partition_key=month.isoformat(),
        selection=dg.AssetSelection.assets(PRICE_BOOK_KEY, MONTHLY_KEY), tags=tags or {},
    )
    if not result.success:
        say(f"  run {result.run_id} FAILED: no cost report for {month:%Y-%m}")
    return ok and result.success
