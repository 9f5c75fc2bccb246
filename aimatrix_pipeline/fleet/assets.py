"""The retention asset: thins raw snapshots fleet-wide according to the retention policy.

Not partitioned: one pass covers every project in the warehouse, including projects removed from
the projects file (their history is kept, at the same reduced resolution as everyone's), and its
deletes run in one transaction. It writes raw.*, so it joins the warehouse pool like the extracts.
"""


import time
from datetime import UTC, datetime

import dagster as dg

from aimatrix_pipeline.fleet import retention
from aimatrix_pipeline.metadata import table_metadata
from aimatrix_pipeline.resources import WAREHOUSE_POOL
from aimatrix_pipeline.resources.settings_resource import SettingsResource
from aimatrix_pipeline.resources.warehouse import WarehouseResource

GROUP = "extract"
OWNERS = ["team:data-platform"]
RETENTION_KEY = dg.AssetKey(["raw", "snapshot_retention"])


class RetentionConfig(dg.Config):
    """Run config; unset fields come from AIMATRIX_RETENTION_* or the defaults (7 / 90 / keep)."""

    full_days: int | None = None
    """Keep every snapshot this many days (default 7, AIMATRIX_RETENTION_FULL_DAYS)."""
    hourly_days: int | None = None
    """Then the last snapshot of each UTC hour up to this age (default 90,
    AIMATRIX_RETENTION_HOURLY_DAYS); older: the last of each UTC day."""
    app_log_days: int | None = None
    """Delete app-log rows older than this (default: keep them, AIMATRIX_RETENTION_APP_LOG_DAYS)."""
    now: str | None = None
    """ISO timestamp to apply the policy as of (default: now); for replays and tests."""


@dg.asset(
    key=RETENTION_KEY,
    group_name=GROUP,
    kinds={"duckdb", "sql"},
    owners=OWNERS,
    pool=WAREHOUSE_POOL,
    description=(
        "Retention and downsampling of the raw snapshot tables, fleet-wide: every snapshot for "
        "full_days, the last of each UTC hour up to hourly_days, the last of each UTC day after "
        "that (pg_stat_statements reset/eviction boundaries are kept, so derived totals stay exact)."
    ),
    metadata={"dagster/table_name": "raw.pg_stat_statements_snapshots"},
)
def snapshot_retention(config: RetentionConfig, warehouse: WarehouseResource,
                       settings: SettingsResource) -> dg.MaterializeResult:
    policy = retention.policy_from_settings(
        settings.get(), full_days=config.full_days, hourly_days=config.hourly_days, app_log_days=config.app_log_days
    )
    now = datetime.fromisoformat(config.now) if config.now else datetime.now(UTC)
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    started = time.monotonic()
    result = retention.run_retention(warehouse, policy, now=now)
    with warehouse.reader() as conn:
        meta = table_metadata(
            conn,
            "raw.pg_stat_statements_snapshots",
            result.rows_kept["pg_stat_statements_snapshots"],
            rows_removed=result.total_removed,
            rows_kept_all_snapshot_tables=result.total_kept,
            warehouse_bytes=result.warehouse_bytes,
            warehouse_mib=round(result.warehouse_bytes / 2**20, 1),
            full_days=policy.full_days,
            hourly_days=policy.hourly_days,
            app_log_days=policy.app_log_days if policy.app_log_days is not None else "keep",
            full_cutoff=result.cutoffs["full_cutoff"].isoformat(),
            hourly_cutoff=result.cutoffs["hourly_cutoff"].isoformat(),
            seconds=round(time.monotonic() - started, 3),
            **{f"rows_removed/{t}": n for t, n in result.rows_removed.items()},
        )
    return dg.MaterializeResult(metadata=meta)
