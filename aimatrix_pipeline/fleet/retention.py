"""Retention and downsampling of raw snapshots, so the warehouse grows with the kept resolution.

Every statistics tick writes one snapshot per project (every 5 minutes: 288 a day). Kept forever
that is ~105,000 snapshots per project a year, each a few hundred pg_stat_statements rows. The
policy keeps every snapshot for `full_days`, the last snapshot of each UTC hour up to
`hourly_days`, and the last of each UTC day after that. Cumulative counters stay exact between
kept snapshots (see sql/warehouse/retention/*.sql), so derived tables keep their totals; what is
lost is resolution (hourly, then daily) and point-in-time samples (raw.activity) between them.

App-log tables are events, not snapshots; they are only pruned when `app_log_days` is set.
All deletes of one pass run in one warehouse transaction: a failure removes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from aimatrix_pipeline.resources.warehouse import WarehouseResource
from aimatrix_pipeline.settings import (
    MAX_RETENTION_DAYS,
    ConfigError,
    Settings,
    current_settings,
    load_settings,
)
from aimatrix_pipeline.sql_files import load_sql

DEFAULT_FULL_DAYS = 7
DEFAULT_HOURLY_DAYS = 90
MAX_DAYS = MAX_RETENTION_DAYS  # a hundred years: more is a typo, and overflows date arithmetic

PG_STAT_STATEMENTS_TABLES = ("pg_stat_statements_snapshots", "pg_stat_statements_info")
"""Downsampled together, with reset/eviction boundaries pinned (pg_stat_statements.drop.sql)."""

SNAPSHOT_TABLES = (
    "table_stats",
    "index_stats",
    "database_stats",
    "server_settings",
    "activity",
    "foreign_keys",
    "sequences",
    "vector_indexes",
    "api_schemas",
    "relation_security",
    "policies",
    "functions",
    "extensions",
    "not_valid_constraints",
    "replication_slots",
    "bloat",
    "snapshot_runs",
)
"""Other raw snapshot tables: last snapshot per bucket (snapshots.drop.sql)."""

APP_LOG_TABLES = ("query_performance_logs", "vector_query_logs", "embedding_generation_logs", "error_events")


@dataclass(frozen=True)
class RetentionPolicy:
    full_days: int = DEFAULT_FULL_DAYS
    hourly_days: int = DEFAULT_HOURLY_DAYS
    app_log_days: int | None = None  # None: keep app logs forever

    def __post_init__(self) -> None:
        if self.full_days < 0:
            raise ConfigError("retention: full_days must be >= 0")
        if self.hourly_days < self.full_days:
            raise ConfigError(
                f"retention: hourly_days ({self.hourly_days}) must be >= full_days ({self.full_days})"
            )
        if self.app_log_days is not None and self.app_log_days < 1:
            raise ConfigError("retention: app_log_days must be >= 1 (or unset to keep app logs)")

    def cutoffs(self, now: datetime) -> dict[str, datetime]:
        """Cutoffs aligned to bucket edges (UTC hour for the full tier, UTC day for the hourly)."""
        now = now.astimezone(UTC)
        full = (now - timedelta(days=self.full_days)).replace(minute=0, second=0, microsecond=0)
        hourly = (now - timedelta(days=self.hourly_days)).replace(hour=0, minute=0, second=0, microsecond=0)
        out = {"full_cutoff": full, "hourly_cutoff": min(hourly, full)}
        if self.app_log_days is not None:
            out["app_log_cutoff"] = now - timedelta(days=self.app_log_days)
        return out


def policy_from_env(env: Mapping[str, str] | None = None, **overrides) -> RetentionPolicy:
    """Policy from the settings built from `env` (default: the current settings), then run config."""
    return policy_from_settings(current_settings() if env is None else load_settings(env), **overrides)


def policy_from_settings(settings: Settings, **overrides) -> RetentionPolicy:
    """Policy from AIMATRIX_RETENTION_FULL_DAYS / _HOURLY_DAYS / _APP_LOG_DAYS, then run config."""
    days = settings.retention
    values = {"full_days": days.full_days, "hourly_days": days.hourly_days, "app_log_days": days.app_log_days}
    values.update({k: v for k, v in overrides.items() if v is not None})
    if values["full_days"] is None:
        values["full_days"] = DEFAULT_FULL_DAYS
    if values["hourly_days"] is None:
        values["hourly_days"] = DEFAULT_HOURLY_DAYS
    return RetentionPolicy(**values)


@dataclass
class RetentionResult:
    rows_removed: dict[str, int] = field(default_factory=dict)
    rows_kept: dict[str, int] = field(default_factory=dict)
    cutoffs: dict[str, datetime] = field(default_factory=dict)
    warehouse_bytes: int = 0

    @property
    def total_removed(self) -> int:
        return sum(self.rows_removed.values())

    @property
    def total_kept(self) -> int:
        return sum(self.rows_kept.values())


def _sql(name: str, table: str) -> str:
    return load_sql(f"warehouse/retention/{name}").replace("__TABLE__", table).strip().rstrip(";")


def _delete_snapshots(conn, table: str, drop_sql: str, params: dict) -> int:
    conn.execute(f"create or replace temp table _retention_drop as ({drop_sql})", params)
    removed = conn.execute(
        f"delete from raw.{table} t using _retention_drop d "
        "where t.project = d.project and t.snapshot_at = d.snapshot_at"
    ).fetchone()[0]
    conn.execute("drop table _retention_drop")
    return int(removed)


def apply_retention(conn, policy: RetentionPolicy, now: datetime) -> RetentionResult:
    """Delete what the policy drops; the caller holds the transaction."""
    cutoffs = policy.cutoffs(now)
    tiers = {k: cutoffs[k] for k in ("full_cutoff", "hourly_cutoff")}
    result = RetentionResult(cutoffs=cutoffs)

    # pg_stat_statements: one drop set for both tables, computed before either is touched
    drop_sql = load_sql("warehouse/retention/pg_stat_statements.drop.sql").strip().rstrip(";")
    conn.execute(f"create or replace temp table _retention_drop as ({drop_sql})", tiers)
    for table in PG_STAT_STATEMENTS_TABLES:
        result.rows_removed[table] = int(
            conn.execute(
                f"delete from raw.{table} t using _retention_drop d "
                "where t.project = d.project and t.snapshot_at = d.snapshot_at"
            ).fetchone()[0]
        )
    conn.execute("drop table _retention_drop")

    for table in SNAPSHOT_TABLES:
        result.rows_removed[table] = _delete_snapshots(conn, table, _sql("snapshots.drop.sql", table), tiers)

    if policy.app_log_days is not None:
        for table in APP_LOG_TABLES:
            removed = conn.execute(
                _sql("app_logs.drop.sql", table), {"app_log_cutoff": cutoffs["app_log_cutoff"]}
            ).fetchone()[0]
            result.rows_removed[table] = int(removed)

    for table in PG_STAT_STATEMENTS_TABLES + SNAPSHOT_TABLES:
        result.rows_kept[table] = int(conn.execute(f"select count(*) from raw.{table}").fetchone()[0])
    return result


def run_retention(warehouse: WarehouseResource, policy: RetentionPolicy, now: datetime | None = None) -> RetentionResult:
    """One retention pass in one transaction, then a checkpoint so freed blocks are reusable."""
    now = now or datetime.now(UTC)
    with warehouse.transaction() as conn:
        result = apply_retention(conn, policy, now)
    with warehouse.writer() as conn:
        conn.execute("checkpoint")
    result.warehouse_bytes = warehouse_bytes(warehouse)
    return result


def warehouse_bytes(warehouse: WarehouseResource) -> int:
    """Size on disk of the warehouse file (plus its WAL, if one is pending)."""
    total = 0
    for path in (warehouse.file, warehouse.file.with_name(warehouse.file.name + ".wal")):
        if path.exists():
            total += path.stat().st_size
    return total
