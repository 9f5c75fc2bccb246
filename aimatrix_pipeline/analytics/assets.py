"""Analytics assets (group `analytics`): analytics.* tables derived from raw.* inside DuckDB.

One asset per table family, partitioned by project like the extract. For each project it runs
its SQL file(s) from `sql/warehouse/analytics/` and replaces that project's rows in one warehouse
transaction (delete-then-insert), so a re-run never doubles and a failure leaves the previous
rows. Thresholds come from the `settings` resource, built when a run starts, so a change of
thresholds.yaml or `AIMATRIX_ANALYTICS_*` applies to the next run without reloading the code
location.

A run carries a range of projects (`BackfillPolicy.single_run()`): when an extract shard lands,
the automation sensor asks for every project of it at once and the backfill it emits launches ONE
run over the range, not one run (a process that loads the code location, ~2-3 s of CPU) per
project. Each step works through the range with shared/batch.py: every project is materialized as
its own partition with its own metadata and check evaluations, and a project whose derivation
raises fails its own partition only (its transaction is rolled back, the others are stored). A
failed step still stops its downstream steps in that run, for every project of the range
(Dagster's step semantics); `AUTOMATION_CONDITION` has the automation sensor derive them on a
later tick. One project at a time: every derivation is work on the one warehouse,
whose writer lock admits one transaction at a time, so threads would only queue for it.
"""


import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Optional

import dagster as dg

from aimatrix_pipeline.analytics import checks, derive
from aimatrix_pipeline.metadata import table_metadata
from aimatrix_pipeline.resources import WAREHOUSE_POOL
from aimatrix_pipeline.resources.settings_resource import SettingsResource
from aimatrix_pipeline.resources.warehouse import WarehouseResource
from aimatrix_pipeline.settings import ConfigError, Settings, current_settings
from aimatrix_pipeline.shared.batch import ProjectLog, ProjectResult, materialize, run_projects
from aimatrix_pipeline.shared.errors import CONFIG_ERRORS, WAREHOUSE_ERRORS
from aimatrix_pipeline.shared.partitions import PROJECTS_PARTITIONS
from aimatrix_pipeline.shared.previews import preview_metadata
from aimatrix_pipeline.shared.rule_checks import AssetRuleChecks
from aimatrix_pipeline.shared.rules import load_rules
from aimatrix_pipeline.shared.tables import writes

GROUP = "analytics"
OWNERS = ["team:data-platform"]
KINDS = {"duckdb", "sql"}
# The alert rules on these tables are the assets' own check specs (see shared/rule_checks.py: so that
# they run in every run that materializes the asset, the automation sensor's included).
RULES = load_rules()
# What a derivation can meet in normal operation (a busy or damaged warehouse, a row the SQL cannot
# take, a configuration mistake); each fails its own project with the error's text. Anything else
# is a bug: it fails its project too, with its traceback in the run's log.
EXPECTED = (*WAREHOUSE_ERRORS, *CONFIG_ERRORS)
# Projects a step derives at once (see the module docstring: one warehouse writer at a time).
WORKERS = 1


def _automation_condition() -> dg.AutomationCondition:
    """`eager()`, and: derive a project whose parent was updated while it was not (its step was
    skipped because another step of a range run failed), once.

    Why: `eager()` ignores a parent's update made by a run that also targeted the child (the child
    was expected to run there), and its trigger is reset on the tick after the request even when
    the parents' updates arrive by then: a range run that finishes within one sensor interval and
    skipped a step (a step upstream failed for ANY project of the range) would keep every project
    of the shard without, say, recommendations until the next extract, and again after it. Here
    the trigger is "a parent was updated and this asset was not", held until this asset is updated
    or requested after it, and it waits, like `eager()`, for the runs to end and every parent to
    exist. A child that materialized in the same run is updated itself (on that tick or while it
    was still in progress), so nothing is asked for twice; a child whose own step fails is asked
    for again at most once per parent update."""
    ac = dg.AutomationCondition
    parent_updated_without_me = (ac.any_deps_match(ac.newly_updated()) & ~ac.newly_updated()).with_label(
        "a parent updated, this asset not")
    handled = ((ac.newly_requested() & ~parent_updated_without_me) | ac.newly_updated()
               | ac.initial_evaluation()).with_label("requested or updated since")
    held_up = (parent_updated_without_me.since(handled) & ~ac.any_deps_missing()
               & ~ac.any_deps_in_progress() & ~ac.in_progress()).with_label("held up in a parent's run")
    return (ac.eager() | held_up).with_label("eager, or held up in a parent's run")


AUTOMATION_CONDITION = _automation_condition()


def raw(name: str) -> dg.AssetKey:
    return dg.AssetKey(["raw", name])


def analytics(name: str) -> dg.AssetKey:
    return dg.AssetKey(["analytics", name])


@dataclass(frozen=True)
class AnalyticsSpec:
    """One asset: the analytics tables it replaces (in order) and what it reads."""

    name: str
    tables: tuple[str, ...]
    deps: tuple[dg.AssetKey, ...]
    description: str
    extra: dict = field(default_factory=dict)


SPECS: tuple[AnalyticsSpec, ...] = (
    AnalyticsSpec(
        "pg_stat_statements_deltas",
        ("pg_stat_statements_intervals", "pg_stat_statements_deltas"),
        (raw("pg_stat_statements"),),
        "Interval deltas of pg_stat_statements per (dbid, userid, queryid, toplevel), reset-aware: a "
        "changed stats_reset, a counter going down, a newer stats_since or a server restart starts "
        "a new baseline, so no delta is ever negative or doubled. Also writes "
        "analytics.pg_stat_statements_intervals (how each interval was read, evictions).",
    ),
    AnalyticsSpec(
        "slow_queries_summary",
        ("slow_queries_summary",),
        (analytics("pg_stat_statements_deltas"), raw("query_performance_logs")),
        "Per fingerprint and hour: calls, total/mean/max time, rows, share of the hour's time and "
        "(app logs) p50/p95/p99, from pg_stat_statements deltas and the app's query logs. Query "
        "text is literal-free.",
    ),
    AnalyticsSpec(
        "plan_changes",
        ("plan_changes",),
        (raw("query_plans"), analytics("pg_stat_statements_deltas")),
        "Plan history: every change of a top statement's generic plan (raw.query_plans hash), with the "
        "indexes it stopped or started using and the statement's mean time before and after the change "
        "(pg_stat_statements deltas).",
    ),
    AnalyticsSpec(
        "index_impact",
        ("index_impact",),
        (raw("index_stats"), raw("query_plans"), analytics("pg_stat_statements_deltas")),
        "The closed loop: each index built after monitoring began (by `aimatrix-pipeline apply` or by "
        "anyone) with the statements it was meant to help (plans that use it or scan its table), their "
        "mean time before and after it, and its scans: the verified saving.",
    ),
    AnalyticsSpec(
        "query_regressions",
        ("query_regressions",),
        (analytics("pg_stat_statements_deltas"), raw("query_performance_logs"), analytics("plan_changes")),
        "Week over week: statements whose mean or total time grew past the regression thresholds, with "
        "the plan change that coincides with the regression as its cause.",
    ),
    AnalyticsSpec(
        "database_health",
        ("database_health",),
        (raw("database_stats"), raw("activity"), raw("sequences")),
        "Per snapshot: connection utilisation, cache hit ratios, commits/rollbacks, deadlocks, "
        "size, long-running and blocked queries, XID age and sequence usage.",
    ),
    AnalyticsSpec(
        "table_health",
        ("table_health",),
        (raw("table_stats"), raw("database_stats")),
        "Per table and snapshot: size and growth, dead tuples, whether autovacuum is due (server "
        "settings and per-table reloptions), last vacuum/analyze, seq vs index scans.",
    ),
    AnalyticsSpec(
        "vector_health",
        ("vector_health",),
        (raw("vector_indexes"), raw("vector_query_logs")),
        "Per pgvector column and ANN index: method, opclass, parameters, rows, size, recommended "
        "IVFFlat lists, and query latency/index use/similarity thresholds from vector_query_logs.",
    ),
    AnalyticsSpec(
        "embedding_stats",
        ("embedding_stats",),
        (raw("embedding_generation_logs"),),
        "Embedding generations per day and model: count, tokens, time, errors, averages, error "
        "rate and estimated cost.",
    ),
    AnalyticsSpec(
        "error_stats",
        ("error_stats",),
        (raw("error_events"),),
        "Application errors over 1 h, 24 h and 7 d: totals, by type and severity, rate and rank "
        "(top errors = type rank <= 10).",
    ),
    AnalyticsSpec(
        "optimization_recommendations",
        ("optimization_recommendations",),
        (
            analytics("slow_queries_summary"), analytics("table_health"), analytics("database_health"),
            analytics("vector_health"), raw("index_stats"), raw("foreign_keys"), raw("table_stats"),
            raw("database_stats"), raw("activity"), raw("security"), raw("sequences"),
            raw("not_valid_constraints"), raw("replication_slots"), raw("bloat"),
        ),
        "One row per finding (slow queries, unused/duplicate/invalid indexes, unindexed foreign "
        "keys, missing primary keys, seq-scan-heavy tables, overdue vacuum, cache, connections, "
        "pgvector, and security: row level security, policies, SECURITY DEFINER views and "
        "functions, search_path, extensions and what the Data API exposes; sequence exhaustion, "
        "table and index bloat, NOT VALID constraints, replication slots), with a stable id and "
        "first_seen, impact/effort scores and paste-safe remediation SQL. Sorted by impact.",
    ),
)


def _compute_size(settings: Settings, project_name: str) -> str:
    try:
        return settings.project(project_name).compute_size
    except ConfigError:  # an unknown project (or a broken projects file) only loses the compute-size rule
        return ""


def run_spec(spec: AnalyticsSpec, warehouse: WarehouseResource, project: str,
             as_of: Optional[datetime] = None, settings: Optional[Settings] = None) -> tuple[dict, dict, list]:
    """Replace the spec's tables for `project` in one transaction (settings: default the current ones).

    Returns row counts, materialization metadata and the data-quality check results.
    """
    settings = settings or current_settings()
    params = derive.base_params(
        project, settings.thresholds, as_of=as_of or datetime.now(timezone.utc),
        compute_size=_compute_size(settings, project),
        include_own_statements=settings.slow_queries_include_own,
    )
    counts: dict[str, int] = {}
    with warehouse.transaction() as conn:
        for table in spec.tables:
            counts[table] = derive.derive(conn, table, params)
        main = spec.tables[-1]
        meta = table_metadata(
            conn, f"analytics.{main}", counts[main], project=project,
            **{f"rows/{t}": n for t, n in counts.items()},
        )
        meta.update(preview_metadata(conn, spec.name, {"project": project}))
        results = checks.evaluate(conn, spec.name, project)
    return counts, meta, results


def build_asset(spec: AnalyticsSpec,
                partitions_def: dg.PartitionsDefinition = PROJECTS_PARTITIONS) -> dg.AssetsDefinition:
    """The spec's asset over `partitions_def` (the code location's projects; a test may give its own)."""
    rule_checks = AssetRuleChecks(RULES, analytics(spec.name), partitions_def)

    @dg.asset(
        name=spec.name,
        key_prefix=["analytics"],
        group_name=GROUP,
        partitions_def=partitions_def,
        deps=list(spec.deps),
        kinds=KINDS,
        owners=OWNERS,
        pool=WAREHOUSE_POOL,
        # the automation sensor's backfills and the analytics job run a range of projects in one run
        backfill_policy=dg.BackfillPolicy.single_run(),
        description=spec.description,
        metadata=writes(f"analytics.{spec.tables[-1]}", *(f"analytics.{t}" for t in spec.tables[:-1])),
        automation_condition=AUTOMATION_CONDITION,
        check_specs=[*checks.check_specs(analytics(spec.name), spec.name, partitions_def), *rule_checks.specs],
    )
    def _asset(context: dg.AssetExecutionContext, warehouse: WarehouseResource, settings: SettingsResource):
        current = settings.get()  # built when the run starts

        def work(project: str, log: ProjectLog) -> ProjectResult:
            started = time.monotonic()
            counts, meta, results = run_spec(spec, warehouse, project, settings=current)
            meta["seconds"] = round(time.monotonic() - started, 3)
            log.summary(f"{spec.name}: {counts}")
            return ProjectResult(meta, [*results, *rule_checks.evaluate(warehouse, project)])

        outcomes = run_projects(context, work, EXPECTED, workers=WORKERS, deadline_s=current.project_deadline_s,
                               warehouse=warehouse)
        yield from materialize(context, outcomes)

    return _asset


ASSETS: list[dg.AssetsDefinition] = [build_asset(spec) for spec in SPECS]
