"""Cost figures never look complete when they are not: days never extracted, sources that cannot
be read, the dashboard's month label. Through the real assets (Dagster runs against a seeded
PostgreSQL and the local Supabase API server), the CLI and the rendered dashboard page."""

from __future__ import annotations

import csv
import datetime as dt
import io

import dagster as dg
import pytest

from aimatrix_pipeline import cli
from aimatrix_pipeline.cost.assets import cost_breakdown_daily, monthly_cost_report, price_book, usage_daily
from aimatrix_pipeline.resources.settings_resource import SettingsResource
from aimatrix_pipeline.resources.source_postgres import SourcePostgresResource
from tests.cost import seed as S

RANGE_START = "dagster/asset_partition_range_start"
RANGE_END = "dagster/asset_partition_range_end"
MARCH = dt.date(2026, 3, 1)


@pytest.fixture
def acme(tmp_path, monkeypatch, source_db18, fake_api):
    """Org acme (pro) with project app on a seeded database and the local API."""
    S.seed(source_db18)
    monkeypatch.setenv("APP_DB_URL", source_db18.url)
    path = tmp_path / "projects.yaml"
    path.write_text("organizations:\n  - {slug: acme, plan: pro}\n"
                    f"projects:\n  - {{name: app, organization: acme, db_url_env: APP_DB_URL, ref: {S.REF}}}\n")
    monkeypatch.setenv("AIMATRIX_PROJECTS_FILE", str(path))
    monkeypatch.delenv("AIMATRIX_PRICE_BOOK_OVERRIDES", raising=False)
    for i in range(31):
        fake_api.add_daily(S.REF, MARCH + dt.timedelta(days=i), "EGRESS", 1.0)
    return path


def _resources(warehouse, api_resource):
    return {"warehouse": warehouse, "source": SourcePostgresResource(), "supabase_api": api_resource,
            "settings": SettingsResource()}


def _price_days(resources, first: str, last: str):
    result = dg.materialize([usage_daily, price_book, cost_breakdown_daily], resources=resources,
                            tags={RANGE_START: first, RANGE_END: last}, raise_on_error=False)
    return result


def _report_march(resources):
    # as the cost_monthly_report job does: the price book (its one writer), then the report
    result = dg.materialize([price_book, monthly_cost_report], resources=resources, partition_key="2026-03-01")
    assert result.success
    return result.asset_materializations_for_node("cost__monthly_cost_report")[0].metadata


def _rows(warehouse, month=MARCH):
    with warehouse.reader() as conn:
        cur = conn.execute("select line_item, status, known_days, unknown_days, missing_days, detail "
                           "from cost.monthly_cost_report where month = ? order by line_item", [month])
        cols = [d[0] for d in cur.description]
        return {r[0]: dict(zip(cols, r)) for r in cur.fetchall()}


def _report_cli(warehouse, monkeypatch, capsys) -> tuple[int, list[dict], str]:
    monkeypatch.setenv("AIMATRIX_WAREHOUSE", warehouse.path)
    code = cli.main(["report", "cost", "--month", "2026-03", "--format", "csv"])
    out = capsys.readouterr()
    return code, list(csv.DictReader(io.StringIO(out.out))), out.err


def test_month_never_extracted_is_unknown_with_its_missing_days(acme, warehouse, api_resource, monkeypatch,
                                                                capsys):
    """Only the monthly report runs for March: no usage was ever extracted. It must not read as a
    complete invoice holding the plan fee."""
    meta = _report_march(_resources(warehouse, api_resource))
    rows = _rows(warehouse)
    assert set(rows) == {"plan_fee", "usage_not_extracted"}
    missing = rows["usage_not_extracted"]
    assert missing["status"] == "unknown" and missing["missing_days"] == 31
    assert missing["detail"] == "31 day(s) with no usage extracted: 2026-03-01..2026-03-31"
    assert rows["plan_fee"]["missing_days"] == 31  # the month's coverage is on every line
    assert meta["incomplete_months"].value == 1
    assert "INCOMPLETE" in meta["totals"].value and "2026-03-01..2026-03-31" in meta["not_known_because"].value

    code, lines, err = _report_cli(warehouse, monkeypatch, capsys)
    total = next(r for r in lines if r["line_item"] == "TOTAL")
    assert total["status"] == "partial" and total["missing_days"] == "31"
    assert "incomplete: acme 2026-03: 31 finished day(s) of usage never extracted" in err
    assert code == 0  # incomplete is said, not an error: no budget is exceeded


def test_partly_extracted_month_is_partial_and_names_the_gap(acme, warehouse, api_resource):
    resources = _resources(warehouse, api_resource)
    assert _price_days(resources, "2026-03-01", "2026-03-10").success
    assert _price_days(resources, "2026-03-20", "2026-03-31").success
    _report_march(resources)
    rows = _rows(warehouse)
    compute = next(item for item in rows if item.startswith("compute_hours_"))
    for item in ("egress", "mau", compute):
        assert rows[item]["status"] == "partial", rows[item]
        assert (rows[item]["known_days"], rows[item]["unknown_days"], rows[item]["missing_days"]) == (22, 0, 9)
        assert "9 day(s) with no usage extracted: 2026-03-11..2026-03-19" in rows[item]["detail"]
    assert "usage_not_extracted" not in rows

    # the gap filled: the same report is complete
    assert _price_days(resources, "2026-03-11", "2026-03-19").success
    _report_march(resources)
    rows = _rows(warehouse)
    assert rows["egress"]["status"] == "known" and rows["egress"]["missing_days"] == 0
    assert rows["egress"]["detail"] is None


def test_unset_database_variable_fails_the_usage_run_and_keeps_what_was_known(acme, warehouse, api_resource,
                                                                              monkeypatch):
    """A fresh shell without the DSN variable: a configuration error, not a day of 'unknown'."""
    resources = _resources(warehouse, api_resource)
    assert _price_days(resources, "2026-03-02", "2026-03-02").success
    monkeypatch.delenv("APP_DB_URL")
    result = _price_days(resources, "2026-03-02", "2026-03-02")
    assert not result.success
    failure = result.failure_data_for_node("raw__usage_daily").user_failure_data
    assert "not configured" in failure.description and "APP_DB_URL" in failure.description
    assert "APP_DB_URL" in failure.metadata["unconfigured_projects"].value["app"]
    with warehouse.reader() as conn:  # the earlier run's known usage is still there, untouched
        statuses = conn.execute("select distinct status from raw.usage_daily where project = 'app' "
                                "and source = 'database'").fetchall()
    assert statuses == [("known",)]


def test_unset_variable_in_single_database_mode_names_supabase_db_url(warehouse, api_resource, monkeypatch):
    for name in ("AIMATRIX_PROJECTS_FILE", "SUPABASE_DB_URL", "SUPABASE_ACCESS_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    result = dg.materialize([usage_daily], resources=_resources(warehouse, api_resource),
                            partition_key="2026-03-02", raise_on_error=False)
    assert not result.success
    description = result.failure_data_for_node("raw__usage_daily").user_failure_data.description
    assert "SUPABASE_DB_URL" in description and "nothing was written" in description


def test_unreachable_database_shows_the_reason_in_the_ui_and_the_report(acme, warehouse, api_resource,
                                                                       monkeypatch, capsys):
    """The variable is set but nothing listens there: the run completes with the database items
    unknown, and the reason is in the materialization's metadata, the cost rows and the report."""
    from aimatrix_pipeline.demo.local_postgres import free_port

    monkeypatch.setenv("APP_DB_URL", f"postgresql://mon:pw@127.0.0.1:{free_port()}/nothing")
    resources = _resources(warehouse, api_resource)
    result = _price_days(resources, "2026-03-01", "2026-03-31")
    assert result.success
    usage_meta = result.asset_materializations_for_node("raw__usage_daily")[0].metadata
    assert "cannot connect to the database in $APP_DB_URL" in usage_meta["unknown_because"].value
    daily_meta = result.asset_materializations_for_node("cost__cost_breakdown_daily")[0].metadata
    assert "cannot connect" in daily_meta["unknown_because"].value
    _report_march(resources)
    rows = _rows(warehouse)
    assert rows["mau"]["status"] == "unknown" and "cannot connect" in rows["mau"]["detail"]
    assert rows["egress"]["status"] == "known"  # the API still answered

    _code, lines, err = _report_cli(warehouse, monkeypatch, capsys)
    mau = next(r for r in lines if r["line_item"] == "mau")
    assert mau["status"] == "unknown" and "cannot connect to the database in $APP_DB_URL" in mau["detail"]
    # the real cause, not "missing days" (none are missing)
    incomplete = next(line for line in err.splitlines() if line.startswith("incomplete: acme 2026-03:"))
    assert "unknown items:" in incomplete and "cannot connect to the database in $APP_DB_URL" in incomplete
    assert "never extracted" not in incomplete


def test_dashboard_labels_the_month_it_shows_and_says_when_it_is_incomplete(acme, warehouse, api_resource,
                                                                           tmp_path):
    """The latest report is March 2026 with a gap: the page must not call it "this month"."""
    from aimatrix_pipeline.dashboard.build import build
    from aimatrix_pipeline.dashboard.summary import markdown_summary
    from tests.ui.browser import console_errors, require_browser, start_browser, stop_browser

    require_browser()
    resources = _resources(warehouse, api_resource)
    assert _price_days(resources, "2026-03-01", "2026-03-20").success
    _report_march(resources)
    built = build(warehouse, tmp_path / "dash")
    label = "cost in 2026-03, the latest report (incomplete: 11 day(s) not extracted)"
    assert f"| {label} |" in markdown_summary(built.data)
    assert "this month" not in markdown_summary(built.data)

    driver = start_browser()
    try:
        driver.get(built.html.as_uri())
        kpis = [k.text for k in driver.find_elements("css selector", "#kpis .kpi .l")]
        assert kpis[:2] == [label, "projected for 2026-03"]
        assert driver.find_element("css selector", "#costtable h2").text.startswith("2026-03 by line item (incomplete")
        assert "(latest report) in 2026-03" in driver.find_element("css selector", "#cost-sub").text
        assert console_errors(driver) == []
    finally:
        stop_browser(driver)
