"""Usage and cost assets: raw/usage_daily (group extract) and the cost/* tables (group cost).

Every time-partitioned asset here takes `BackfillPolicy.single_run()`, so a backfill of any range
of days or months runs once, over the whole range: one connection per project, one usage-API call
per project, one pricing query, one transaction that replaces exactly the range. Re-running a
partition or a range gives the same rows.

cost/price_book is the one writer of cost.price_book, cost.organizations and cost.projects (the
price book and billing configuration the pricing SQL reads); the cost jobs materialize it before
pricing, so a day or month is priced with the files as they are at the start of its run.

raw/usage_daily is the one warehouse writer here without the warehouse pool: its run waits on
the network, and a pool slot held meanwhile would queue every other warehouse run behind it
(jobs.py runs it alone; the pricing run follows it, sensors.py).
"""


import datetime as dt

import dagster as dg

from aimatrix_pipeline.cost import pricing, usage
from aimatrix_pipeline.cost.partitions import DAILY_PARTITIONS, MONTHLY_PARTITIONS, day_range, month_range
from aimatrix_pipeline.cost.price_book import load_price_book
from aimatrix_pipeline.metadata import table_metadata
from aimatrix_pipeline.resources import WAREHOUSE_POOL
from aimatrix_pipeline.resources.settings_resource import SettingsResource
from aimatrix_pipeline.resources.source_postgres import SourcePostgresResource
from aimatrix_pipeline.resources.supabase_api import (
    SupabaseApiAuthError,
    SupabaseApiMalformedResponse,
    SupabaseApiResource,
)
from aimatrix_pipeline.resources.warehouse import WarehouseResource
from aimatrix_pipeline.shared.previews import preview_metadata
from aimatrix_pipeline.shared.tables import writes
from aimatrix_pipeline.sql_files import load_sql

GROUP = "cost"
OWNERS = ["team:data-platform"]
USAGE_KEY = dg.AssetKey(["raw", "usage_daily"])
PRICE_BOOK_KEY = dg.AssetKey(["cost", "price_book"])
DAILY_KEY = dg.AssetKey(["cost", "cost_breakdown_daily"])
MONTHLY_KEY = dg.AssetKey(["cost", "monthly_cost_report"])
QUERY_COST_KEY = dg.AssetKey(["cost", "query_cost_daily"])
DELTAS_KEY = dg.AssetKey(["analytics", "pg_stat_statements_deltas"])
SINGLE_RUN = dg.BackfillPolicy.single_run()


def _prices(settings: SettingsResource) -> list:
    """The shipped price book with the settings' overrides file (`AIMATRIX_PRICE_BOOK_OVERRIDES`)."""
    return load_price_book(overrides_path=settings.get().price_book_overrides or "")


def _require_price_book(conn) -> None:
    """Fail, naming the asset to materialize, rather than price nothing and succeed."""
    missing = pricing.price_book_missing(conn)
    if missing:
        raise dg.Failure(description=missing, metadata={"materialize_first": pricing.PRICE_BOOK_ASSET})


def _today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


@dg.asset(
    key=USAGE_KEY,
    group_name="extract",
    partitions_def=DAILY_PARTITIONS,
    backfill_policy=SINGLE_RUN,
    kinds={"postgres", "duckdb"},
    owners=OWNERS,
    # No pool: dagster.yaml enforces pools per run, so a pooled step would hold the warehouse
    # slot for its whole run, minutes of which are spent waiting on Supabase's APIs. It runs in a
    # run of its own (the usage_daily job), reads the network first and takes WarehouseResource's
    # write lock (which serialises it with every other writer) only for its one transaction.
    description=(
        "Billing usage per project and UTC day (MAU, storage per bucket, compute and disk hours, "
        "egress, function invocations, realtime, add-ons) from the monitored databases and "
        "Supabase's APIs. A source that cannot be read leaves 'unknown' rows, never zeros."
    ),
    metadata={"dagster/table_name": "raw.usage_daily"},
)
def usage_daily(
    context: dg.AssetExecutionContext,
    source: SourcePostgresResource,
    warehouse: WarehouseResource,
    supabase_api: SupabaseApiResource,
    settings: SettingsResource,
) -> dg.MaterializeResult:
    start, end = day_range(context)
    try:
        with supabase_api.client() as api:
            rows, report = usage.collect_usage(settings.get(), source, api, start, end, _today())
    except SupabaseApiAuthError as exc:
        raise dg.Failure(description=f"Supabase API configuration error: {exc}",
                         metadata={"endpoint": exc.endpoint, "status": 401}) from exc
    except SupabaseApiMalformedResponse as exc:
        raise dg.Failure(description=f"Supabase API answered with a malformed body: {exc}",
                         metadata={"endpoint": exc.endpoint}) from exc
    if report.config_errors:
        lines = [f"[{project}] {reason}" for project, reason in sorted(report.config_errors.items())]
        raise dg.Failure(
            description="usage not extracted: the database source is not configured for "
            f"{len(lines)} project(s); nothing was written.\n" + "\n".join(lines),
            metadata={"unconfigured_projects": dg.MetadataValue.json(report.config_errors)},
        )
    for project, problems in report.project_errors.items():
        for p in problems:
            context.log.warning(f"[{project}] usage source unavailable, items marked unknown: {p}")
    with warehouse.transaction() as conn:
        written = usage.write_usage(conn, rows, start, end)
        meta = table_metadata(
            conn, "raw.usage_daily", written,
            first_day=start.isoformat(), last_day=end.isoformat(),
            unknown_rows=report.unknown_rows,
            unknown_because=dg.MetadataValue.md(_unknown_reasons_md(rows)),
            projects_with_unknown_sources=dg.MetadataValue.json(report.project_errors),
            mau_method=dg.MetadataValue.json(report.mau_methods),
        )
    return dg.MaterializeResult(metadata=meta)


def _reasons_md(header: tuple[str, ...], rows: list[tuple]) -> str:
    if not rows:
        return "every item known"
    cell = lambda v: str(v if v is not None else "unknown").replace("|", "/")[:300]  # noqa: E731
    return (f"| {' | '.join(header)} |\n|{'---|' * len(header)}\n"
            + "\n".join("| " + " | ".join(cell(v) for v in r) + " |" for r in rows))


def _unknown_reasons_md(rows: usage.UsageRows) -> str:
    """Why items are unknown, one line per project, source and reason (shown first in the UI)."""
    counts: dict[tuple[str, str, str], int] = {}
    for r in rows.rows:
        if r["status"] != "known":
            key = (r["project"], r["source"], r["detail"] or "unknown")
            counts[key] = counts.get(key, 0) + 1
    if not counts:
        return "every item known"
    return "| project | source | reason | rows |\n|---|---|---|---|\n" + "\n".join(
        f"| {p} | {s} | {why.replace('|', '/')} | {n} |" for (p, s, why), n in sorted(counts.items()))


@dg.asset(
    key=PRICE_BOOK_KEY,
    group_name=GROUP,
    # not partitioned, but selected with the daily assets in range backfills (`dagster asset
    # materialize --partition-range` takes only single-run assets): it runs once in that run
    backfill_policy=SINGLE_RUN,
    kinds={"duckdb", "yaml"},
    owners=OWNERS,
    pool=WAREHOUSE_POOL,
    description=(
        "Supabase prices, quotas, package sizes, plan fees and compute credits with effective dates "
        "(sql/seed/price_book.yaml plus AIMATRIX_PRICE_BOOK_OVERRIDES), and the configured "
        "organizations and projects they apply to."
    ),
    # the one writer of the price book and the billing configuration the pricing SQL reads
    metadata=writes("cost.price_book", "cost.organizations", "cost.projects"),
)
def price_book(context: dg.AssetExecutionContext, warehouse: WarehouseResource,
               settings: SettingsResource) -> dg.MaterializeResult:
    entries = _prices(settings)
    with warehouse.transaction() as conn:
        pricing.prepare(conn, settings.get(), entries)
        meta = table_metadata(conn, "cost.price_book", len(entries),
                              sources=", ".join(sorted({e.source for e in entries})))
    return dg.MaterializeResult(metadata=meta)


@dg.asset(
    key=DAILY_KEY,
    group_name=GROUP,
    partitions_def=DAILY_PARTITIONS,
    backfill_policy=SINGLE_RUN,
    deps=[USAGE_KEY, PRICE_BOOK_KEY],
    kinds={"duckdb"},
    owners=OWNERS,
    pool=WAREHOUSE_POOL,
    description=(
        "Cost per project, day and line item as Supabase bills it: quotas per organization per "
        "billing cycle (a day's cost is the overage accrued that day), whole packages rounded up, "
        "compute credits and the prorated plan fee as organization rows (project NULL). Unknown "
        "usage stays unknown (cost NULL)."
    ),
    metadata={"dagster/table_name": "cost.cost_breakdown_daily"},
)
def cost_breakdown_daily(context: dg.AssetExecutionContext, warehouse: WarehouseResource,
                         settings: SettingsResource) -> dg.MaterializeResult:
    start, end = day_range(context)
    with warehouse.transaction() as conn:
        _require_price_book(conn)
        written = pricing.price_days(conn, start, end)
        total, unknown = conn.execute(
            "select coalesce(sum(cost_usd), 0), count(*) filter (where status = 'unknown') "
            "from cost.cost_breakdown_daily where date between ? and ?", [start, end]).fetchone()
        reasons = conn.execute(
            "select coalesce(project, '(organization)'), line_item, detail, count(*) from cost.cost_breakdown_daily "
            "where date between ? and ? and status <> 'known' group by all order by 1, 2, 3", [start, end]).fetchall()
        meta = table_metadata(conn, "cost.cost_breakdown_daily", written,
                              first_day=start.isoformat(), last_day=end.isoformat(),
                              cost_usd=dg.MetadataValue.float(round(float(total), 2)),
                              unknown_items=int(unknown),
                              unknown_because=dg.MetadataValue.md(_reasons_md(
                                  ("project", "line_item", "reason", "days"), reasons)),
                              **preview_metadata(conn, "cost_breakdown_daily",
                                                 {"start_date": start, "end_date": end}))
    return dg.MaterializeResult(metadata=meta)


@dg.asset(
    key=MONTHLY_KEY,
    group_name=GROUP,
    partitions_def=MONTHLY_PARTITIONS,
    backfill_policy=SINGLE_RUN,
    deps=[DAILY_KEY, PRICE_BOOK_KEY],
    kinds={"duckdb"},
    owners=OWNERS,
    pool=WAREHOUSE_POOL,
    description=(
        "Monthly invoice per organization and line item: usage, included quota, billable, cost, and "
        "the month-end projection for the running month; per-project allocation in "
        "cost.monthly_project_cost."
    ),
    metadata=writes("cost.monthly_cost_report", "cost.monthly_project_cost"),
)
def monthly_cost_report(context: dg.AssetExecutionContext, warehouse: WarehouseResource,
                        settings: SettingsResource) -> dg.MaterializeResult:
    first, last = month_range(context)
    with warehouse.transaction() as conn:
        _require_price_book(conn)
        written = pricing.report_months(conn, first, last, _today())
        totals = conn.execute(
            "select organization, strftime(month, '%Y-%m'), round(sum(cost_usd), 2), "
            "round(sum(projected_cost_usd), 2), "
            "case when bool_and(status = 'known') then 'complete' else 'INCOMPLETE' end, max(missing_days) "
            "from cost.monthly_cost_report where month between ? and ? group by all order by 1, 2",
            [first, last]).fetchall()
        reasons = conn.execute(
            "select organization, strftime(month, '%Y-%m'), line_item, detail from cost.monthly_cost_report "
            "where month between ? and ? and status <> 'known' order by 1, 2, 3", [first, last]).fetchall()
        meta = table_metadata(
            conn, "cost.monthly_cost_report", written,
            first_month=first.isoformat(), last_month=last.isoformat(),
            totals=dg.MetadataValue.md(
                "| organization | month | cost_usd | projected_cost_usd | figures | days not extracted |\n"
                "|---|---|---|---|---|---|\n"
                + "\n".join(f"| {o} | {m} | {c} | {p} | {k} | {n} |" for o, m, c, p, k, n in totals)),
            incomplete_months=len({(o, m) for o, m, _k, _d in reasons}),
            not_known_because=dg.MetadataValue.md(_reasons_md(("organization", "month", "line_item", "reason"),
                                                              reasons)),
            **preview_metadata(conn, "monthly_cost_report", {"first_month": first, "last_month": last}),
        )
    return dg.MaterializeResult(metadata=meta)


@dg.asset(
    key=QUERY_COST_KEY,
    group_name=GROUP,
    partitions_def=DAILY_PARTITIONS,
    backfill_policy=SINGLE_RUN,
    deps=[DAILY_KEY, dg.AssetDep(DELTAS_KEY, partition_mapping=dg.AllPartitionMapping())],
    kinds={"duckdb"},
    owners=OWNERS,
    pool=WAREHOUSE_POOL,
    description=(
        "Each day's compute cost per project attributed to query fingerprints by their share of "
        "execution time (pg_stat_statements deltas): what a query costs a day, and a month at "
        "that rate."
    ),
    metadata={"dagster/table_name": "cost.query_cost_daily"},
)
def query_cost_daily(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    start, end = day_range(context)
    with warehouse.transaction() as conn:
        conn.execute("delete from cost.query_cost_daily where date between ? and ?", [start, end])
        conn.execute("insert into cost.query_cost_daily by name " + load_sql("warehouse/cost/query_cost_daily.sql"),
                     {"start_date": start, "end_date": end})
        written = conn.execute("select count(*) from cost.query_cost_daily where date between ? and ?",
                               [start, end]).fetchone()[0]
        meta = table_metadata(conn, "cost.query_cost_daily", written,
                              first_day=start.isoformat(), last_day=end.isoformat())
    return dg.MaterializeResult(metadata=meta)


USAGE_ASSETS = [usage_daily]
COST_ASSETS = [price_book, cost_breakdown_daily, monthly_cost_report, query_cost_daily]
