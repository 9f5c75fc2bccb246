"""The retention asset: thins raw snapshots fleet-wide according to the retention policy.

Not partitioned: one pass covers every project in the warehouse, including projects removed from
the projects file (their history is kept, at the same reduced resolution as everyone's), and its
deletes run in one transaction. It deletes from raw.*, so it joins the warehouse pool like the
extracts; the tables stay their extract assets' own (it reports to them as observations).
"""


import time
from datetime import UTC, datetime

import dagster as dg

from aimatrix_pipeline.fleet import retention
from aimatrix_pipeline.resources import WAREHOUSE_POOL
from aimatrix_pipeline.resources.settings_resource import SettingsResource
from aimatrix_pipeline.resources.warehouse import WarehouseResource
from aimatrix_pipeline.shared.tables import WRITES_KEY

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
        "that (pg_stat_statements reset/eviction boundaries are kept, so derived totals stay exact). "
        "Owns no table: what it removed from each raw table is recorded as an observation of the "
        "asset that owns the table."
    ),
    metadata={WRITES_KEY: dg.MetadataValue.json([])},
)
def snapshot_retention(context: dg.AssetExecutionContext, config: RetentionConfig, warehouse: WarehouseResource,
                       settings: SettingsResource) -> dg.MaterializeResult:
    policy = retention.policy_from_settings(
        settings.get(), full_days=config.full_days, hourly_days=config.hourly_days, app_log_days=config.app_log_days
    )
    now = datetime.fromisoformat(config.now) if config.now else datetime.now(UTC)
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    started = time.monotonic()
    result = retention.run_retention(warehouse, policy, now=now)
    for observation in _observations(result):
        context.log_event(observation)
    return dg.MaterializeResult(metadata={
        "rows_removed": result.total_removed,
        "rows_kept_all_snapshot_tables": result.total_kept,
        "warehouse_bytes": result.warehouse_bytes,
        "warehouse_mib": round(result.warehouse_bytes / 2**20, 1),
        "full_days": policy.full_days,
        "hourly_days": policy.hourly_days,
        "app_log_days": policy.app_log_days if policy.app_log_days is not None else "keep",
        "full_cutoff": result.cutoffs["full_cutoff"].isoformat(),
        "hourly_cutoff": result.cutoffs["hourly_cutoff"].isoformat(),
        "seconds": round(time.monotonic() - started, 3),
        **{f"rows_removed/{t}": n for t, n in result.rows_removed.items()},
    })


# raw table -> the extract asset that owns it (None: shared state). Retention knows the raw tables
# by name anyway; tests/test_table_ownership.py checks this map against the assets' declarations.
TABLE_OWNERS: dict[str, str | None] = {
    "pg_stat_statements_snapshots": "pg_stat_statements", "pg_stat_statements_info": "pg_stat_statements",
    "table_stats": "table_stats", "index_stats": "index_stats", "database_stats": "database_stats",
    "server_settings": "database_stats", "activity": "activity", "foreign_keys": "foreign_keys",
    "sequences": "sequences", "vector_indexes": "vector_indexes", "api_schemas": "security",
    "relation_security": "security", "policies": "security", "functions": "security", "extensions": "security",
    "not_valid_constraints": "not_valid_constraints", "replication_slots": "replication_slots", "bloat": "bloat",
    "snapshot_runs": None,
    "query_performance_logs": "query_performance_logs", "vector_query_logs": "vector_query_logs",
    "embedding_generation_logs": "embedding_generation_logs", "error_events": "error_events",
}
# the owner's main table (its `dagster/table_name`), whose kept rows become the observed row count
MAIN_TABLES = frozenset({"pg_stat_statements_snapshots", "relation_security"}
                        | {t for t, owner in TABLE_OWNERS.items() if t == owner})


def _observations(result: retention.RetentionResult) -> list[dg.AssetObservation]:
    """One observation per owning asset of the tables retention touched: rows removed and kept
    per table (and `dagster/row_count` of its main table), so the owner's history shows that its
    table shrank and why."""
    by_key: dict[dg.AssetKey, dict] = {}
    for table in sorted(set(result.rows_removed) | set(result.rows_kept)):
        owner = TABLE_OWNERS.get(table)
        if owner is None:
            continue
        meta = by_key.setdefault(dg.AssetKey(["raw", owner]),
                                 {"aimatrix/observed_by": RETENTION_KEY.to_user_string()})
        if table in result.rows_removed:
            meta[f"rows_removed/{table}"] = result.rows_removed[table]
        if table in result.rows_kept:
            meta[f"rows_kept/{table}"] = result.rows_kept[table]
            if table in MAIN_TABLES:
                meta["dagster/row_count"] = result.rows_kept[table]
    return [dg.AssetObservation(asset_key=key, metadata=meta)
            for key, meta in sorted(by_key.items(), key=lambda kv: kv[0].to_user_string())]
