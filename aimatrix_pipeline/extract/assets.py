"""Extract assets (group `extract`): one asset per raw table family, one partition per project.

A run carries a range of projects (a scheduled shard, or one project by hand); each asset works
through them with shared/batch.py, so every project is still its own partition with its own
metadata and checks, and a project that fails fails only its own partition. Each asset is independent, so a failure in one (a view the role may not read, a missing
extension) fails only that asset while the others in the same run still materialize. All of them
write through the warehouse pool (one writer at a time) and report row counts and column schemas.
"""


import time
from datetime import datetime, timedelta, timezone
from typing import Optional

import dagster as dg

from aimatrix_pipeline.extract import app_logs, plans, snapshots
from aimatrix_pipeline.extract.source_errors import SourceQueryError
from aimatrix_pipeline.resources import WAREHOUSE_POOL
from aimatrix_pipeline.resources.settings_resource import SettingsResource
from aimatrix_pipeline.resources.source_postgres import SourcePostgresResource, SourceUnavailable
from aimatrix_pipeline.resources.warehouse import WarehouseResource
from aimatrix_pipeline.shared.batch import ProjectLog, ProjectResult, materialize, run_projects, with_notes
from aimatrix_pipeline.shared.errors import CONFIG_ERRORS, SOURCE_ERRORS, WAREHOUSE_ERRORS
from aimatrix_pipeline.shared.partitions import PROJECTS_PARTITIONS, SETTINGS
from aimatrix_pipeline.shared.rule_checks import separate_rule_evaluations
from aimatrix_pipeline.shared.schedules import scheduled_time
from aimatrix_pipeline.shared.tables import writes

GROUP = "extract"
OWNERS = ["team:data-platform"]
KINDS = {"postgres", "duckdb"}


class SnapshotConfig(dg.Config):
    """Run config for snapshot assets."""

    snapshot_at: Optional[str] = None
    """ISO timestamp to store the snapshot under. Default: the schedule tick's time (so a retried
    tick replaces its own snapshot), or now for manual runs."""


class AppLogConfig(dg.Config):
    """Run config for incremental log assets."""

    overlap_minutes: float = 10.0
    """Compare the ids stamped this many minutes before the high-water mark with the warehouse to catch late commits."""
    max_text_bytes: int = 100_000
    """Rows with a longer text are quarantined instead of loaded."""
    log_schema: Optional[str] = None
    """Schema of the application's log tables in the monitored database. Default: the project's
    `app_logs.schema` in the projects file (`public`)."""
    clock_skew_minutes: Optional[float] = None
    """Rows stamped more than this after the source's clock are quarantined as rows from the
    future. Default: the project's `app_logs.clock_skew_minutes` (5)."""


def resolve_snapshot_at(context: dg.AssetExecutionContext, config: SnapshotConfig) -> datetime:
    raw = config.snapshot_at or scheduled_time(context.run.tags)
    if raw:
        value = datetime.fromisoformat(raw)
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    return datetime.now(timezone.utc).replace(microsecond=0)


# What an extract run can meet in normal operation; each fails its project with the error's text.
EXPECTED = (SourceQueryError, *SOURCE_ERRORS, *WAREHOUSE_ERRORS, *CONFIG_ERRORS)


NO_FUTURE_ROWS_CHECK = "no_rows_from_the_future"
# An app-log load logs its progress once it has read this many rows (a small incremental load
# says its counts in the step's summary only: every log line is an event the instance stores).
_PROGRESS_ROWS = 50_000


def _raw_asset(name: str, table: str, description: str, kind: str, check_specs=None, also: tuple[str, ...] = ()):
    """The decorator every extract asset shares: raw/<name>, one partition per project, one pool."""
    return dg.asset(
        check_specs=check_specs,
        name=name,
        key_prefix=["raw"],
        group_name=GROUP,
        partitions_def=PROJECTS_PARTITIONS,
        kinds=KINDS,
        owners=OWNERS,
        pool=WAREHOUSE_POOL,
        # a scheduled run carries a range of projects (shared/batch.py): one step works through them
        backfill_policy=dg.BackfillPolicy.single_run(),
        description=description,
        metadata=writes(f"raw.{table}", *(f"raw.{t}" for t in also)),
        tags={"aimatrix/kind": kind},
    )


def build_snapshot_asset(spec: snapshots.SnapshotSpec) -> dg.AssetsDefinition:
    @_raw_asset(spec.name, spec.table, spec.description, "snapshot", also=spec.extra_tables)
    def _snapshot(
        context: dg.AssetExecutionContext,
        config: SnapshotConfig,
        source: SourcePostgresResource,
        warehouse: WarehouseResource,
        settings: SettingsResource,
    ):
        current = settings.get()  # built when the run starts: the projects file as it is now
        snapshot_at = resolve_snapshot_at(context, config)

        def work(name: str, log: ProjectLog) -> ProjectResult:
            project = current.project(name)
            started = time.monotonic()
            result = snapshots.take_snapshot(spec.name, source, warehouse, project, snapshot_at)
            meta = warehouse.table_metadata(
                f"raw.{spec.table}",
                result.rows[spec.table],
                project=project.name,
                snapshot_at=snapshot_at.isoformat(),
                seconds=round(time.monotonic() - started, 3),
                **{f"rows/{t}": n for t, n in result.rows.items()},
            )
            with_notes(meta, result.notes, log)
            log.summary(f"snapshot {snapshot_at.isoformat()}: {result.rows}")
            return ProjectResult(meta)

        yield from _batch(context, current, warehouse, work)

    return _snapshot


def _batch(context: dg.AssetExecutionContext, current, warehouse: WarehouseResource, work):
    """Run `work` for every project of the run (shared/batch.py) and emit its events."""
    outcomes = run_projects(context, work, EXPECTED, workers=current.batch_workers,
                            deadline_s=current.project_deadline_s, give_up_on=(SourceUnavailable,), warehouse=warehouse)
    yield from materialize(context, outcomes, lambda p: separate_rule_evaluations(context, warehouse, p))


def _future_rows_check(result: app_logs.LoadResult, project: str) -> dg.AssetCheckResult:
    """Fails (WARN: the rows are kept in quarantine, the extract goes on) while the source holds
    rows stamped past its own clock plus the tolerance, so someone fixes the writer's clock."""
    return dg.AssetCheckResult(
        check_name=NO_FUTURE_ROWS_CHECK,
        passed=result.rows_from_future == 0,
        severity=dg.AssetCheckSeverity.WARN,
        description=(f"{result.rows_from_future} row(s) of {result.source} stamped after the source's clock "
                     "(beyond the clock-skew tolerance) or -infinity: quarantined, see raw.quarantine "
                     "where reason in ('future_created_at', 'infinite_created_at')")
        if result.rows_from_future else None,
        metadata={"project": project, "rows_from_the_future": result.rows_from_future,
                  "source_status": result.source_status},
    )


def build_app_log_asset(spec: app_logs.LogTableSpec) -> dg.AssetsDefinition:
    check_specs = [dg.AssetCheckSpec(
        NO_FUTURE_ROWS_CHECK, asset=dg.AssetKey(["raw", spec.name]), partitions_def=PROJECTS_PARTITIONS,
        description="No row of the source log is stamped after the source's clock (plus the clock-skew "
        "tolerance) or at -infinity; such rows are quarantined and would otherwise freeze the extract.",
    )]

    # a query log's shapes go to raw.query_texts
    @_raw_asset(spec.name, spec.name, spec.description, "incremental", check_specs,
                also=("query_texts",) if spec.shape_column else ())
    def _app_log(
        context: dg.AssetExecutionContext,
        config: AppLogConfig,
        source: SourcePostgresResource,
        warehouse: WarehouseResource,
        settings: SettingsResource,
    ):
        current = settings.get()
        clock_skew = None if config.clock_skew_minutes is None else timedelta(minutes=config.clock_skew_minutes)

        def work(name: str, log: ProjectLog) -> ProjectResult:
            project = current.project(name)
            started = time.monotonic()

            def progress(r: app_logs.LoadResult) -> None:
                text = f"{spec.name}: {r.rows_read:,} rows read, {r.rows_loaded:,} loaded, {r.rows_quarantined:,} quarantined"
                log.summary(text)
                if r.rows_read >= _PROGRESS_ROWS:  # a big load says how far it got as it goes
                    log.info(text)

            result = app_logs.extract_app_log(
                spec.name,
                source,
                warehouse,
                project,
                overlap=timedelta(minutes=config.overlap_minutes),
                max_text_bytes=config.max_text_bytes,
                log_schema=config.log_schema,
                on_batch=progress,
                clock_skew=clock_skew,
            )
            checks = [_future_rows_check(result, project.name)]
            source_meta = {
                "source": result.source or "none",
                "source_status": result.source_status,
            }
            if result.source_note:
                source_meta["source_note"] = result.source_note
                log.summary(f"{spec.name}: {result.source_note}")
            if result.source_status != app_logs.SOURCE_PRESENT:
                # Not a failure: the run stays green and downstream assets do not wait on this one.
                return ProjectResult(warehouse.table_metadata(f"raw.{spec.name}", 0, project=project.name,
                                                              **source_meta), checks)
            if result.columns_absent:
                source_meta["columns_absent"] = ", ".join(result.columns_absent)
            if result.rows_from_future:
                log.warning(
                    f"{result.rows_from_future} {spec.name} row(s) stamped after the source's clock "
                    f"({result.source_clock.isoformat() if result.source_clock else '?'}) quarantined"
                )
            if result.mark_repaired:
                log.warning(f"{spec.name}: the stored high-water mark was past the source's "
                            "clock; reloaded the project's rows")
            if result.rows_quarantined:
                log.warning(
                    f"{result.rows_quarantined} {spec.name} row(s) quarantined: "
                    f"see raw.quarantine where source_table = '{spec.name}'"
                )
            meta = warehouse.table_metadata(
                f"raw.{spec.name}",
                result.rows_loaded,
                project=project.name,
                rows_read=result.rows_read,
                rows_quarantined=result.rows_quarantined,
                new_query_shapes=result.new_texts,
                initial_load=result.initial_load,
                high_water_mark=result.high_water_mark.isoformat() if result.high_water_mark else "none",
                source_clock=result.source_clock.isoformat() if result.source_clock else "none",
                rows_from_the_future=result.rows_from_future,
                rows_deferred=result.rows_deferred,
                seconds=round(time.monotonic() - started, 3),
                **source_meta,
            )
            return ProjectResult(meta, checks)

        yield from _batch(context, current, warehouse, work)

    return _app_log


class PlanCaptureConfig(dg.Config):
    """Run config for the plan capture (defaults: the AIMATRIX_PLAN_CAPTURE_* settings)."""

    captured_at: Optional[str] = None
    """ISO timestamp to store the capture under. Default: the schedule tick's time, or now."""
    top: Optional[int] = None
    """How many statements to explain. Default: AIMATRIX_PLAN_CAPTURE_TOP (50)."""
    window_hours: Optional[float] = None
    """Window of deltas that ranks the statements. Default: AIMATRIX_PLAN_CAPTURE_WINDOW_HOURS (24)."""
    timeout_ms: Optional[int] = None
    """statement_timeout and lock_timeout of each EXPLAIN. Default: AIMATRIX_PLAN_CAPTURE_TIMEOUT_MS."""


@dg.asset(
    name="query_plans",
    key_prefix=["raw"],
    group_name=GROUP,
    partitions_def=PROJECTS_PARTITIONS,
    kinds=KINDS,
    owners=OWNERS,
    pool=WAREHOUSE_POOL,
    backfill_policy=dg.BackfillPolicy.single_run(),
    # lineage only: the statements to explain are ranked from the deltas already derived
    deps=[dg.AssetKey(["analytics", "pg_stat_statements_deltas"])],
    description="Plan history: the generic plan (EXPLAIN, never ANALYZE) and plan hash of the project's "
    "top statements by total time in the last window of pg_stat_statements deltas, on the "
    "capture_query_plans cadence. A statement the monitoring role may not explain is a row with "
    "its status (permission_denied, ...), not a failure. The plans show in this asset's metadata.",
    metadata=writes(f"raw.{plans.TABLE}"),
    tags={"aimatrix/kind": "snapshot"},
)
def query_plans(
    context: dg.AssetExecutionContext,
    config: PlanCaptureConfig,
    source: SourcePostgresResource,
    warehouse: WarehouseResource,
    settings: SettingsResource,
):
    current = settings.get()
    defaults = current.plan_capture
    captured_at = resolve_snapshot_at(context, SnapshotConfig(snapshot_at=config.captured_at))

    def work(name: str, log: ProjectLog) -> ProjectResult:
        project = current.project(name)
        started = time.monotonic()
        result = plans.capture_plans(
            source, warehouse, project, captured_at,
            top=config.top or defaults.top,
            window_hours=config.window_hours or defaults.window_hours,
            timeout_ms=config.timeout_ms or defaults.timeout_ms,
        )
        meta = warehouse.table_metadata(
            f"raw.{plans.TABLE}", result.rows, project=project.name,
            captured_at=captured_at.isoformat(), seconds=round(time.monotonic() - started, 3),
            seconds_on_source=round(result.seconds_on_source, 3),
            plans_changed=len(result.changed),
            **{f"status/{s}": result.statuses.get(s, 0) for s in plans.STATUSES},
        )
        meta["plans"] = dg.MetadataValue.md(plans.markdown(result))
        with_notes(meta, result.notes, log)
        log.summary(f"plans {captured_at.isoformat()}: {result.statuses}, {len(result.changed)} changed")
        return ProjectResult(meta)

    yield from _batch(context, current, warehouse, work)


SNAPSHOT_ASSETS = [build_snapshot_asset(spec) for spec in snapshots.SPECS.values()]
APP_LOG_ASSETS = [build_app_log_asset(spec) for spec in app_logs.LOG_TABLES.values()]
PLAN_ASSETS = [query_plans]
ALL_ASSETS = SNAPSHOT_ASSETS + APP_LOG_ASSETS + PLAN_ASSETS

__all__ = ["ALL_ASSETS", "APP_LOG_ASSETS", "PLAN_ASSETS", "SNAPSHOT_ASSETS", "SETTINGS"]
