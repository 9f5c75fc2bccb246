"""Pricing that never invents: no price book, no plan, a database that is not Supabase's.

Through the real assets (Dagster runs against a real PostgreSQL with nothing of Supabase in it, and
a real DuckDB warehouse) and the `report cost` command:

* a backfill of usage and daily cost on a warehouse where `cost/price_book` was never materialized
  fails naming that asset, in any run (the check is in the assets, not in a command);
* a plain PostgreSQL without a plan configured gets no plan fee and no compute: every line is
  unknown with "no plan configured";
* MAU and storage are unknown each with its own reason (storage never blames auth.audit_log_entries);
* the incomplete-month message names the real cause, not missing days when none are missing.
"""

from __future__ import annotations

import csv
import io
import uuid

import dagster as dg
import psycopg
import pytest

from aimatrix_pipeline import cli
from aimatrix_pipeline.cost.assets import cost_breakdown_daily, monthly_cost_report, price_book, usage_daily
from aimatrix_pipeline.resources.settings_resource import SettingsResource
from aimatrix_pipeline.resources.source_postgres import SourcePostgresResource

RANGE_START = "dagster/asset_partition_range_start"
RANGE_END = "dagster/asset_partition_range_end"


@pytest.fixture
def plain_db(pg18, monkeypatch):
    """A PostgreSQL database as a user has it outside Supabase: no auth, no storage schema."""
    name = f"plain_{uuid.uuid4().hex[:8]}"
    url = pg18.create_database(name)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("create table orders (id bigint primary key)")
    monkeypatch.setenv("SUPABASE_DB_URL", url)
    for var in ("AIMATRIX_PROJECTS_FILE", "SUPABASE_PLAN", "SUPABASE_PROJECT_REF", "SUPABASE_ACCESS_TOKEN",
                "AIMATRIX_PRICE_BOOK_OVERRIDES", "SUPABASE_COMPUTE_SIZE"):
        monkeypatch.delenv(var, raising=False)
    yield url
    pg18.drop_database(name)


def _resources(warehouse, api_resource):
    return {"warehouse": warehouse, "source": SourcePostgresResource(), "supabase_api": api_resource,
            "settings": SettingsResource()}


def _failure(result, node: str) -> str:
    return result.failure_data_for_node(node).user_failure_data.description


def test_pricing_without_a_price_book_fails_naming_the_asset(plain_db, warehouse, api_resource, monkeypatch):
    """docs/cost.md's old selection (usage + daily cost) on a fresh warehouse priced nothing and
    succeeded. Now the run fails, naming cost/price_book, and the monthly report too."""
    monkeypatch.setenv("SUPABASE_PLAN", "pro")
    resources = _resources(warehouse, api_resource)
    result = dg.materialize([usage_daily, cost_breakdown_daily], resources=resources, raise_on_error=False,
                            tags={RANGE_START: "2026-03-01", RANGE_END: "2026-03-31"})
    assert not result.success
    assert result.asset_materializations_for_node("raw__usage_daily")  # the usage itself landed
    description = _failure(result, "cost__cost_breakdown_daily")
    assert "cost.price_book is empty" in description and "materialize cost/price_book first" in description
    with warehouse.reader() as conn:
        assert conn.execute("select count(*) from cost.cost_breakdown_daily").fetchone()[0] == 0

    result = dg.materialize([monthly_cost_report], resources=resources, partition_key="2026-03-01",
                            raise_on_error=False)
    assert not result.success
    assert "cost/price_book" in _failure(result, "cost__monthly_cost_report")

    # with the price book in the selection (as `aimatrix-pipeline backfill` and the jobs do) it prices
    result = dg.materialize([usage_daily, price_book, cost_breakdown_daily], resources=resources,
                            tags={RANGE_START: "2026-03-01", RANGE_END: "2026-03-31"})
    assert result.success
    with warehouse.reader() as conn:
        fee = conn.execute("select round(sum(cost_usd), 2) from cost.cost_breakdown_daily "
                           "where line_item = 'plan_fee'").fetchone()[0]
    assert fee == 25.0  # Pro, configured


def test_plain_postgres_without_a_plan_gets_no_invented_bill(plain_db, warehouse, api_resource, monkeypatch,
                                                            capsys):
    with warehouse.transaction() as conn:  # a warehouse from before: plan NOT NULL (the price book drops it)
        conn.execute("alter table cost.organizations alter column plan set not null")
    resources = _resources(warehouse, api_resource)
    result = dg.materialize([usage_daily, price_book, cost_breakdown_daily], resources=resources,
                            tags={RANGE_START: "2026-03-01", RANGE_END: "2026-03-31"})
    assert result.success
    result = dg.materialize([price_book, monthly_cost_report], resources=resources, partition_key="2026-03-01")
    assert result.success
    with warehouse.reader() as conn:
        priced = conn.execute("select count(*) from cost.cost_breakdown_daily where cost_usd is not null "
                              "or status = 'known'").fetchone()[0]
        plan_fee = conn.execute("select status, cost_usd, detail from cost.monthly_cost_report "
                                "where line_item = 'plan_fee'").fetchall()
        compute = conn.execute("select distinct status, usage, detail from raw.usage_daily "
                               "where metric = 'compute_hours'").fetchall()
        total = conn.execute("select sum(cost_usd) from cost.monthly_cost_report").fetchone()[0]
    assert priced == 0  # not one line priced
    assert len(plan_fee) == 1 and plan_fee[0][0] == "unknown" and plan_fee[0][1] is None
    assert plan_fee[0][2].startswith("no plan configured")
    assert [(s, u) for s, u, _ in compute] == [("unknown", None)] and "no plan configured" in compute[0][2]
    assert total is None  # no $25 Pro fee, no micro compute

    monkeypatch.setenv("AIMATRIX_WAREHOUSE", warehouse.path)
    code = cli.main(["report", "cost", "--month", "2026-03", "--format", "csv"])
    out = capsys.readouterr()
    lines = {r["line_item"]: r for r in csv.DictReader(io.StringIO(out.out))}
    assert code == 0 and lines["TOTAL"]["cost_usd"] == "" and lines["plan_fee"]["status"] == "unknown"
    incomplete = next(line for line in out.err.splitlines() if line.startswith("incomplete: default 2026-03:"))
    assert "no plan configured" in incomplete
    assert "never extracted" not in incomplete  # every day was extracted: no "missing days"


def test_storage_unknown_names_its_own_reason(plain_db, warehouse, api_resource, monkeypatch, capsys):
    """Without Supabase's schemas both MAU and storage are unknown, each with its reason: storage
    must not name auth.audit_log_entries. The month is incomplete for a reason `report cost` names."""
    monkeypatch.setenv("SUPABASE_PLAN", "pro")
    resources = _resources(warehouse, api_resource)
    assert dg.materialize([usage_daily, price_book, cost_breakdown_daily], resources=resources,
                          tags={RANGE_START: "2026-03-01", RANGE_END: "2026-03-31"}).success
    assert dg.materialize([price_book, monthly_cost_report], resources=resources,
                          partition_key="2026-03-01").success
    with warehouse.reader() as conn:
        reasons = dict(conn.execute("select metric, any_value(detail) from raw.usage_daily where source = 'database' "
                                    "and status = 'unknown' group by 1").fetchall())
    assert set(reasons) == {"mau", "sso_mau", "anonymous_mau", "storage_size_bytes"}
    assert "storage.objects" in reasons["storage_size_bytes"] and "audit_log" not in reasons["storage_size_bytes"]
    assert "MAU" in reasons["mau"] and "storage" not in reasons["mau"].split(":", 1)[1]

    monkeypatch.setenv("AIMATRIX_WAREHOUSE", warehouse.path)
    cli.main(["report", "cost", "--month", "2026-03"])
    incomplete = next(line for line in capsys.readouterr().err.splitlines() if line.startswith("incomplete:"))
    assert "no Supabase project ref configured" in incomplete and "storage.objects" in incomplete
    assert "never extracted" not in incomplete
