"""analytics/index_suggestions: the indexes the workload needs, proven by the planner where it can be.

It lives beside the extract because it is the one advisor that asks the monitored database
something (its planner, through `extract.explain`); what it asks about comes from the warehouse
(the window's pg_stat_statements deltas and app query log, the tables' write rates). Hourly, one
run per shard of projects like the extracts (`BackfillPolicy.single_run()`, shared/batch.py: each
project its own partition, metadata and check; a failing project fails alone), in the warehouse
pool (it writes two tables). One run per project put 200 runs into the queue at once every hour
on a 200-project box. See docs/advisors.md.
"""


from datetime import datetime, timedelta, timezone
from typing import Optional

import dagster as dg
import psycopg

from aimatrix_pipeline.extract.index_advice import checks, store
from aimatrix_pipeline.extract.index_advice.advise import AdviceSettings, advise
from aimatrix_pipeline.extract.source_errors import SourceQueryError, explain
from aimatrix_pipeline.metadata import table_metadata
from aimatrix_pipeline.resources import WAREHOUSE_POOL
from aimatrix_pipeline.resources.settings_resource import SettingsResource
from aimatrix_pipeline.resources.source_postgres import SourcePostgresResource, SourceUnavailable, redacted
from aimatrix_pipeline.resources.warehouse import WarehouseResource
from aimatrix_pipeline.shared.batch import ProjectLog, ProjectResult, materialize, run_projects
from aimatrix_pipeline.shared.errors import CONFIG_ERRORS, SOURCE_ERRORS, WAREHOUSE_ERRORS
from aimatrix_pipeline.shared.partitions import PROJECTS_PARTITIONS
from aimatrix_pipeline.shared.tables import writes

GROUP = "advisors"  # not `analytics`: analytics_job (derived location) selects that group; this asset plans on the source
OWNERS = ["team:data-platform"]
# What a project's advice can meet in normal operation; each fails its own project with the
# error's text (shared/batch.py). Anything else is a bug: it fails its project too, with its traceback.
EXPECTED = (SourceQueryError, *SOURCE_ERRORS, *WAREHOUSE_ERRORS, *CONFIG_ERRORS)


class IndexAdviceConfig(dg.Config):
    """Run config of the index advice."""

    window_hours: float = 24.0
    """The workload: fingerprints of this many hours before the run."""
    top: int = 50
    """How many of the window's costliest fingerprints are planned."""
    min_rows: int = 10_000
    """Tables with fewer estimated rows get no index (a sequential scan of them is cheap)."""
    min_cost_reduction: float = 0.5
    """Verified: keep a candidate when the generic plan's cost drops by at least this share (Dexter's 50 %)."""
    max_selectivity: float = 0.05
    """Unverified: the leading equality column (and the whole key) must match at most this share of rows."""
    write_ms_per_entry: float = 0.01
    """Estimated cost of writing one index entry, to price an index's write overhead."""
    timeout_ms: int = 2000
    """statement_timeout and lock_timeout of each EXPLAIN."""
    as_of: Optional[str] = None
    """ISO timestamp ending the window (default: now)."""


@dg.asset(
    name="index_suggestions",
    key_prefix=["analytics"],
    group_name=GROUP,
    partitions_def=PROJECTS_PARTITIONS,
    kinds={"postgres", "duckdb"},
    owners=OWNERS,
    pool=WAREHOUSE_POOL,
    deps=[dg.AssetKey(["analytics", "pg_stat_statements_deltas"]), dg.AssetKey(["raw", "table_stats"]),
          dg.AssetKey(["raw", "query_performance_logs"])],
    check_specs=checks.SPECS,
    backfill_policy=dg.BackfillPolicy.single_run(),
    metadata=writes("analytics.index_suggestions", "analytics.index_advice_runs"),
    tags={"aimatrix/kind": "advisor"},
    description="The indexes the window's costliest statements need (pg_stat_statements deltas and the app's "
    "query log, parsed with pglast), one per index serving several fingerprints, ranked by net benefit (ms/day "
    "saved minus write overhead). Verified with hypopg generic plans where the database has it, else "
    "labelled unverified and judged by pg_stats selectivity. Remediation: CREATE INDEX CONCURRENTLY, "
    "accepted by `aimatrix-pipeline apply`. Also writes analytics.index_advice_runs.",
)
def index_suggestions(
    context: dg.AssetExecutionContext,
    config: IndexAdviceConfig,
    source: SourcePostgresResource,
    warehouse: WarehouseResource,
    settings: SettingsResource,
):
    current = settings.get()
    now = datetime.now(timezone.utc)
    run_at = now.replace(microsecond=0)
    # the window ends now, not at the whole second run_at is stored under: a snapshot taken earlier
    # in the same second (snapshot_at keeps its microseconds) belongs to the window
    until = datetime.fromisoformat(config.as_of) if config.as_of else now
    if until.tzinfo is None:
        until = until.replace(tzinfo=timezone.utc)
    since = until - timedelta(hours=config.window_hours)
    advice_settings = AdviceSettings(top=config.top, min_rows=config.min_rows,
                                     min_cost_reduction=config.min_cost_reduction,
                                     max_selectivity=config.max_selectivity,
                                     write_ms_per_entry=config.write_ms_per_entry, timeout_ms=config.timeout_ms)

    def work(name: str, log: ProjectLog) -> ProjectResult:
        project = current.project(name)
        with warehouse.reader() as conn:
            workload = store.read_workload(conn, project.name, since, until, config.top)
            rates = store.read_write_rates(conn, project.name, since, until)
        log.info(f"index advice: {len(workload)} fingerprint(s) in the last {config.window_hours:g} h")

        def progress(done: int, total: int) -> None:
            if done == total or done % 10 == 0:
                log.info(f"index advice: {done}/{total} fingerprints planned")

        try:
            with source.connect(project.db_url_env) as pg:
                run = advise(pg, workload, advice_settings, rates, on_progress=progress)
        except psycopg.Error as exc:
            raise explain(exc, "index advice", project.name) from redacted(exc)
        for note in run.notes:
            log.warning(f"index advice: {note}")
        with warehouse.writer() as conn:
            written = store.write(conn, project.name, run, run_at, config.window_hours)
            rows = store.rows_for(project.name, run, run_at)
            check = checks.evaluate(conn, project.name)
            meta = table_metadata(
                conn, "analytics.index_suggestions", written, project=project.name, mode=run.mode,
                fingerprints=run.statements, explainable=run.explainable,
                skipped_unparseable=run.skipped_unparseable, not_permitted=run.not_permitted, failed=run.failed,
                candidates=run.candidates, hypothetical_indexes=run.hypothetical_indexes,
                suggestions=len(run.suggestions),
                saving_ms_per_day=round(sum(s.saving_ms_per_day for s in run.suggestions), 1),
                seconds=round(run.seconds, 3), explain_seconds=round(run.explain_seconds, 3),
                top_suggestions=dg.MetadataValue.md(store.markdown(rows)),
            )
        if run.notes:
            meta["notes"] = dg.MetadataValue.md("\n".join(f"- {n}" for n in run.notes))
        log.summary(f"index advice ({run.mode}): {len(run.suggestions)} suggestion(s)")
        return ProjectResult(meta, check_results=[check])

    outcomes = run_projects(context, work, EXPECTED, workers=current.batch_workers,
                            deadline_s=current.project_deadline_s, give_up_on=(SourceUnavailable,), warehouse=warehouse)
    yield from materialize(context, outcomes)


INDEX_SUGGESTIONS = index_suggestions
ASSETS = [index_suggestions]
