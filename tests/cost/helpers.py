"""Build hand-made usage sets in raw.usage_daily and price them, for known-answer tests."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from aimatrix_pipeline.cost import pricing
from aimatrix_pipeline.cost.price_book import load_price_book
from aimatrix_pipeline.settings import Organization, Project, Settings

UNITS = {"compute_hours": "hour", "disk_gb_hours": "GB-hour", "egress_gb": "GB", "mau": "users",
         "sso_mau": "users", "storage_size_bytes": "bytes", "function_invocations": "invocations",
         "realtime_messages": "messages", "realtime_peak_connections": "connections",
         "cached_egress_gb": "GB", "addon_hours": "hour"}


def month_days(year: int, month: int) -> list[dt.date]:
    first = dt.date(year, month, 1)
    nxt = (first + dt.timedelta(days=32)).replace(day=1)
    return [first + dt.timedelta(days=i) for i in range((nxt - first).days)]


class UsageSet:
    """Rows for raw.usage_daily: add(project, day, metric, usage, dimension)."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.rows: list[tuple] = []

    def add(self, project: str, day: dt.date, metric: str, usage, dimension: str = "",
            status: str = "known") -> UsageSet:
        org = self.settings.project(project).organization
        self.rows.append((project, org, day, metric, dimension, usage, UNITS.get(metric, "unit"), status,
                          "test", "hand_built", None))
        return self

    def every_day(self, project: str, days: list[dt.date], metric: str, usage, dimension: str = ""):
        for d in days:
            self.add(project, d, metric, usage, dimension)
        return self

    def compute(self, project: str, days: list[dt.date], size: str):
        return self.every_day(project, days, "compute_hours", 24, size)


def make_settings(orgs: list[tuple], projects: list[tuple[str, str, str]]) -> Settings:
    """orgs: (slug, plan[, monthly_budget_usd]); projects: (name, organization, compute_size)."""
    return Settings(
        projects=tuple(Project(name=n, organization=o, db_url_env="UNUSED_DB_URL", compute_size=s)
                       for n, o, s in projects),
        organizations=tuple(Organization(*o) for o in orgs),
        warehouse_path="", api_url="", source="projects_file",
    )


def price(warehouse, usage: UsageSet, first_day: dt.date, last_day: dt.date,
          overrides: Path | None = None, today: dt.date = dt.date(2030, 1, 1)) -> None:
    """Seed the usage, price start..end day by day in one range, and build the monthly reports."""
    with warehouse.transaction() as conn:
        pricing.prepare(conn, usage.settings, load_price_book(overrides_path=overrides or ""))
        conn.execute("delete from raw.usage_daily")
        if usage.rows:
            conn.executemany(
                "insert into raw.usage_daily values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, now())", usage.rows
            )
        pricing.price_days(conn, first_day, last_day)
        pricing.report_months(conn, first_day, last_day, today)


def report(warehouse, organization: str, month: dt.date) -> dict[str, dict]:
    with warehouse.reader() as conn:
        cur = conn.execute(
            "select line_item, usage, included, billable, cost_usd, projected_cost_usd, status "
            "from cost.monthly_cost_report where organization = ? and month = ?", [organization, month])
        cols = [d[0] for d in cur.description]
        return {r[0]: dict(zip(cols, r)) for r in cur.fetchall()}


def cents(x: float) -> float:
    return round(x + 0.0, 2)


def total(rep: dict[str, dict]) -> float:
    return cents(sum(r["cost_usd"] or 0 for r in rep.values()))
