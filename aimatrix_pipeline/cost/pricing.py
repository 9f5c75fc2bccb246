"""Pricing runs as SQL inside DuckDB: plain functions the assets, the CLI and the tests share.

Each function takes a connection inside the caller's warehouse transaction and replaces exactly
what it owns (delete-then-insert of the days or months it prices), so re-running a partition or a
backfill range gives the same rows and a failure leaves the warehouse as it was.
"""

from __future__ import annotations

import datetime as dt

import pyarrow as pa

from aimatrix_pipeline.cost.price_book import PriceEntry, write_price_book
from aimatrix_pipeline.settings import Settings
from aimatrix_pipeline.sql_files import load_sql

DAILY_SQL = "warehouse/cost/cost_breakdown_daily.sql"
MONTHLY_SQL = "warehouse/cost/monthly_cost_report.sql"
PROJECT_SQL = "warehouse/cost/monthly_project_cost.sql"


def month_start(day: dt.date) -> dt.date:
    return day.replace(day=1)


def _plan_may_be_null(conn) -> None:
    """Warehouses created before "no plan configured" existed have cost.organizations.plan NOT
    NULL; the DDL's CREATE IF NOT EXISTS leaves them so. Dropped here, by the table's one writer,
    only when present (DuckLake refuses to drop a constraint that is not there)."""
    nullable = conn.execute(
        "select is_nullable from information_schema.columns where table_schema = 'cost' "
        "and table_name = 'organizations' and column_name = 'plan'").fetchone()
    if nullable and nullable[0] == "NO":
        conn.execute("alter table cost.organizations alter column plan drop not null")


def write_billing_config(conn, settings: Settings) -> None:
    """Refresh cost.organizations / cost.projects from the configured fleet (plans, budgets)."""
    orgs = pa.Table.from_pylist(
        [{"organization": o.slug, "plan": o.plan, "monthly_budget_usd": o.monthly_budget_usd}
         for o in settings.organizations],
        schema=pa.schema([("organization", pa.string()), ("plan", pa.string()),
                          ("monthly_budget_usd", pa.float64())]),
    )
    projects = pa.Table.from_pylist(
        [{"project": p.name, "organization": p.organization, "ref": p.ref,
          "compute_size": p.compute_size, "monthly_budget_usd": p.monthly_budget_usd}
         for p in settings.projects],
        schema=pa.schema([("project", pa.string()), ("organization", pa.string()), ("ref", pa.string()),
                          ("compute_size", pa.string()), ("monthly_budget_usd", pa.float64())]),
    )
    _plan_may_be_null(conn)
    conn.execute("delete from cost.organizations")
    conn.execute("delete from cost.projects")
    conn.register("cfg_orgs", orgs)
    conn.register("cfg_projects", projects)
    try:
        conn.execute("insert into cost.organizations by name select * from cfg_orgs")
        conn.execute("insert into cost.projects by name select * from cfg_projects")
    finally:
        conn.unregister("cfg_orgs")
        conn.unregister("cfg_projects")


def prepare(conn, settings: Settings, entries: list[PriceEntry]) -> None:
    """Config and price book the pricing SQL reads; written only by the price_book asset."""
    write_billing_config(conn, settings)
    write_price_book(conn, entries)


PRICE_BOOK_ASSET = "cost/price_book"


def price_book_missing(conn) -> str | None:
    """Why nothing could be priced, or None when the price book and the billing configuration are
    there. Pricing without them writes no rows and would succeed silently (a backfill of the usage
    and daily cost alone, on a fresh warehouse): the assets fail with this instead."""
    entries = conn.execute("select count(*) from cost.price_book").fetchone()[0]
    organizations = conn.execute("select count(*) from cost.organizations").fetchone()[0]
    if entries and organizations:
        return None
    what = "cost.price_book is empty" if not entries else "cost.organizations is empty"
    return (f"{what}: materialize {PRICE_BOOK_ASSET} first (select it with this asset: the cost_daily and "
            f"cost_monthly_report jobs and `aimatrix-pipeline backfill` do); nothing was priced")


def price_days(conn, start: dt.date, end: dt.date) -> int:
    """Replace cost.cost_breakdown_daily for start..end (inclusive); returns rows written."""
    if end < start:
        raise ValueError(f"empty date range {start}..{end}")
    conn.execute("delete from cost.cost_breakdown_daily where date between ? and ?", [start, end])
    conn.execute(
        "insert into cost.cost_breakdown_daily by name " + load_sql(DAILY_SQL),
        {"start_date": start, "end_date": end},
    )
    return conn.execute(
        "select count(*) from cost.cost_breakdown_daily where date between ? and ?", [start, end]
    ).fetchone()[0]


def report_months(conn, first: dt.date, last: dt.date, today: dt.date | None = None) -> int:
    """Replace cost.monthly_cost_report and cost.monthly_project_cost for the months first..last."""
    first, last = month_start(first), month_start(last)
    today = today or dt.datetime.now(dt.UTC).date()
    params = {"first_month": first, "last_month": last, "today": today}
    conn.execute("delete from cost.monthly_cost_report where month between ? and ?", [first, last])
    conn.execute("delete from cost.monthly_project_cost where month between ? and ?", [first, last])
    conn.execute("insert into cost.monthly_cost_report by name " + load_sql(MONTHLY_SQL), params)
    conn.execute("insert into cost.monthly_project_cost by name " + load_sql(PROJECT_SQL), params)
    return conn.execute(
        "select count(*) from cost.monthly_cost_report where month between ? and ?", [first, last]
    ).fetchone()[0]
