"""Assets of the appsignals domain, one partition per monitored project (the extract partitions).

Extract (group `extract`): raw/api_request_logs, raw/api_counts, raw/project_metrics.
Analytics (group `analytics`): analytics/api_latency_summary (also writes the API findings,
analytics.api_recommendations, with its checks), analytics/realtime_health.

A project without `ref`, or a deployment without SUPABASE_ACCESS_TOKEN / service role key,
materializes with 0 rows and a `notes` entry saying why: API signals are optional, the database
signals are not. A 401 is a configuration error and fails the project's partition with a clear
message. A run carries a range of projects (shared/batch.py): each project is its own partition.
"""


import time
from datetime import UTC, datetime, timedelta

import dagster as dg

from aimatrix_pipeline.appsignals import api_counts, api_logs, derive, metrics
from aimatrix_pipeline.appsignals import checks as checks_mod
from aimatrix_pipeline.metadata import table_metadata
from aimatrix_pipeline.resources import WAREHOUSE_POOL
from aimatrix_pipeline.resources.settings_resource import SettingsResource
from aimatrix_pipeline.resources.supabase_api import SupabaseApiResource
from aimatrix_pipeline.resources.warehouse import WarehouseResource
from aimatrix_pipeline.settings import current_settings
from aimatrix_pipeline.shared.batch import ProjectLog, ProjectResult, materialize, run_projects, with_notes
from aimatrix_pipeline.shared.errors import API_ERRORS, CONFIG_ERRORS, WAREHOUSE_ERRORS
from aimatrix_pipeline.shared.partitions import PROJECTS_PARTITIONS
from aimatrix_pipeline.shared.schedules import scheduled_time
from aimatrix_pipeline.shared.tables import writes

OWNERS = ["team:data-platform"]

API_REQUEST_LOGS = dg.AssetKey(["raw", "api_request_logs"])
API_COUNTS = dg.AssetKey(["raw", "api_counts"])
PROJECT_METRICS = dg.AssetKey(["raw", "project_metrics"])
API_LATENCY_SUMMARY = dg.AssetKey(["analytics", "api_latency_summary"])
REALTIME_HEALTH = dg.AssetKey(["analytics", "realtime_health"])


class ApiLogsConfig(dg.Config):
    """Run config of raw/api_request_logs."""

    window_minutes: int = 60
    """Size of one logs.all request window (1 to 1440 minutes; the API allows at most 24 hours)."""
    initial_lookback_hours: int = 24
    """How far back the first load of a project reads."""
    overlap_minutes: int = 10
    """Re-read this much before the high-water mark: edge logs can arrive late."""
    row_limit: int = 1000
    """Rows per request; a window that returns this many is split and read again."""
    max_windows: int = 168
    """Windows read per run at most (a long outage catches up over several runs)."""


class ApiCountsConfig(dg.Config):
    interval: str = "1day"
    """usage.api-counts interval: 15min, 30min, 1hr, 3hr, 1day, 3day or 7day."""


class MetricsConfig(dg.Config):
    scraped_at: str | None = None
    """ISO timestamp to store the scrape under. Default: the schedule tick (a retried tick replaces
    its own samples), or now."""


class ApiSummaryConfig(dg.Config):
    recompute_hours: int = 48
    """Summary hours recomputed per run (late logs older than this are not re-summarized)."""
    p95_ms_threshold: float = 1000.0
    error_rate_5xx_threshold: float = 0.05
    min_requests: int = 20
    window_hours: int = 24
    """Findings and checks look at this many hours of requests."""


# What an API or metrics load can meet in normal operation; each fails its project with its text.
EXPECTED = (*API_ERRORS, metrics.MetricsUnavailable, *WAREHOUSE_ERRORS, *CONFIG_ERRORS)


def _batch(context: dg.AssetExecutionContext, current, work, warehouse: WarehouseResource):
    """Run `work` for every project of the run (shared/batch.py) and emit its events."""
    outcomes = run_projects(context, work, EXPECTED, workers=current.batch_workers,
                            deadline_s=current.project_deadline_s, warehouse=warehouse)
    yield from materialize(context, outcomes)


@dg.asset(
    key=API_REQUEST_LOGS,
    group_name="extract",
    partitions_def=PROJECTS_PARTITIONS,
    kinds={"supabase", "duckdb"},
    owners=OWNERS,
    pool=WAREHOUSE_POOL,
    backfill_policy=dg.BackfillPolicy.single_run(),
    description="API requests (path, method, status, response time, timestamp) from the project's edge "
    "logs through the Management API (logs.all), incrementally by minute-aligned time window with a "
    "high-water mark in raw.extract_state; malformed rows go to raw.quarantine.",
    metadata={"dagster/table_name": "raw.api_request_logs"},
    tags={"aimatrix/kind": "incremental"},
)
def api_request_logs(context: dg.AssetExecutionContext, config: ApiLogsConfig, supabase_api: SupabaseApiResource,
                     warehouse: WarehouseResource, settings: SettingsResource):
    current = settings.get()

    def work(name: str, log: ProjectLog) -> ProjectResult:
        project = current.project(name)
        started = time.monotonic()
        result = api_logs.extract_api_logs(
            supabase_api, warehouse, project,
            window=timedelta(minutes=max(1, min(config.window_minutes, 1440))),
            initial_lookback=timedelta(hours=config.initial_lookback_hours),
            overlap=timedelta(minutes=config.overlap_minutes),
            row_limit=config.row_limit, max_windows=config.max_windows,
        )
        meta = warehouse.table_metadata(
            "raw.api_request_logs", result.rows_loaded, project=project.name,
            rows_quarantined=result.rows_quarantined, windows=result.windows, api_requests=result.requests_made,
            high_water_mark=result.high_water_mark.isoformat() if result.high_water_mark else "none",
            skipped=result.skipped, seconds=round(time.monotonic() - started, 3),
        )
        return ProjectResult(with_notes(meta, result.notes, log))

    yield from _batch(context, current, work, warehouse)


@dg.asset(
    key=API_COUNTS,
    group_name="extract",
    partitions_def=PROJECTS_PARTITIONS,
    kinds={"supabase", "duckdb"},
    owners=OWNERS,
    pool=WAREHOUSE_POOL,
    backfill_policy=dg.BackfillPolicy.single_run(),
    description="The Management API's usage.api-counts series: REST, auth, storage and realtime request "
    "counts per bucket (replaced per bucket on each load).",
    metadata={"dagster/table_name": "raw.api_counts"},
)
def api_counts_asset(context: dg.AssetExecutionContext, config: ApiCountsConfig, supabase_api: SupabaseApiResource,
                     warehouse: WarehouseResource, settings: SettingsResource):
    current = settings.get()

    def work(name: str, log: ProjectLog) -> ProjectResult:
        project = current.project(name)
        result = api_counts.extract_api_counts(supabase_api, warehouse, project, config.interval)
        meta = warehouse.table_metadata("raw.api_counts", result.rows_loaded, project=project.name,
                                        rows_quarantined=result.rows_quarantined, skipped=result.skipped)
        return ProjectResult(with_notes(meta, result.notes, log))

    yield from _batch(context, current, work, warehouse)


@dg.asset(
    key=PROJECT_METRICS,
    group_name="extract",
    partitions_def=PROJECTS_PARTITIONS,
    kinds={"prometheus", "duckdb"},
    owners=OWNERS,
    pool=WAREHOUSE_POOL,
    backfill_policy=dg.BackfillPolicy.single_run(),
    description="Every sample of the project's Prometheus metrics endpoint (Realtime, CPU, memory, disk, "
    "network, Postgres), one scrape per run; URL and key env var configurable per project.",
    metadata={"dagster/table_name": "raw.project_metrics"},
)
def project_metrics(context: dg.AssetExecutionContext, config: MetricsConfig,
                    warehouse: WarehouseResource, settings: SettingsResource):
    current = settings.get()
    raw_at = config.scraped_at or scheduled_time(context.run.tags)
    scraped_at = None
    if raw_at:
        scraped_at = datetime.fromisoformat(raw_at)
        scraped_at = scraped_at if scraped_at.tzinfo else scraped_at.replace(tzinfo=UTC)

    def work(name: str, log: ProjectLog) -> ProjectResult:
        project = current.project(name)
        result = metrics.scrape_metrics(warehouse, project, scraped_at)
        meta = warehouse.table_metadata("raw.project_metrics", result.samples, project=project.name,
                                        rows_quarantined=result.rows_quarantined, skipped=result.skipped)
        return ProjectResult(with_notes(meta, result.notes, log))

    yield from _batch(context, current, work, warehouse)


@dg.asset(
    key=API_LATENCY_SUMMARY,
    group_name="analytics",
    partitions_def=PROJECTS_PARTITIONS,
    deps=[API_REQUEST_LOGS],
    kinds={"duckdb", "sql"},
    owners=OWNERS,
    pool=WAREHOUSE_POOL,
    backfill_policy=dg.BackfillPolicy.single_run(),
    description="Per project, service (rest, auth, storage, realtime, functions), method, endpoint pattern "
    "(ids and literals collapsed) and UTC hour: requests, 4xx/5xx errors, mean/p50/p95/p99/max response "
    "time. Also writes analytics.api_recommendations: the slowest and the most failing endpoints.",
    metadata=writes("analytics.api_latency_summary", "analytics.api_recommendations"),
    check_specs=checks_mod.CHECK_SPECS,
    automation_condition=dg.AutomationCondition.eager(),
)
def api_latency_summary(context: dg.AssetExecutionContext, config: ApiSummaryConfig,
                        warehouse: WarehouseResource):
    now = datetime.now(UTC)
    thresholds = derive.ApiThresholds(config.p95_ms_threshold, config.error_rate_5xx_threshold,
                                      config.min_requests, config.window_hours)

    def work(project: str, log: ProjectLog) -> ProjectResult:
        with warehouse.transaction() as conn:
            rows = derive.derive_api_latency_summary(conn, project, derive.summary_since(now, config.recompute_hours))
            findings = derive.derive_api_recommendations(conn, project, now, thresholds)
            meta = table_metadata(conn, "analytics.api_latency_summary", rows, project=project,
                                  **{"rows/api_recommendations": findings})
            results = checks_mod.evaluate(conn, project)
        return ProjectResult(meta, results)

    yield from _batch(context, current_settings(), work, warehouse)


@dg.asset(
    key=REALTIME_HEALTH,
    group_name="analytics",
    partitions_def=PROJECTS_PARTITIONS,
    deps=[PROJECT_METRICS],
    kinds={"duckdb", "sql"},
    owners=OWNERS,
    pool=WAREHOUSE_POOL,
    backfill_policy=dg.BackfillPolicy.single_run(),
    description="Realtime connections, Postgres Changes subscriptions and messages per second per metrics scrape.",
    metadata={"dagster/table_name": "analytics.realtime_health"},
    automation_condition=dg.AutomationCondition.eager(),
)
def realtime_health(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
    def work(project: str, log: ProjectLog) -> ProjectResult:
        with warehouse.transaction() as conn:
            rows = derive.derive_realtime_health(conn, project)
            return ProjectResult(table_metadata(conn, "analytics.realtime_health", rows, project=project))

    yield from _batch(context, current_settings(), work, warehouse)


EXTRACT_ASSETS = [api_request_logs, api_counts_asset, project_metrics]
ANALYTICS_ASSETS = [api_latency_summary, realtime_health]
ALL_ASSETS = EXTRACT_ASSETS + ANALYTICS_ASSETS
