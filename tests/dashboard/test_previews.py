"""Markdown previews and plotted figures on the analytics and cost materializations."""

from __future__ import annotations

import datetime as dt

import dagster as dg

from aimatrix_pipeline.analytics.assets import SPECS, run_spec
from aimatrix_pipeline.shared.previews import preview_metadata

SPEC = {s.name: s for s in SPECS}


def test_analytics_materializations_carry_previews_and_figures(filled_warehouse):
    _, meta, _ = run_spec(SPEC["slow_queries_summary"], filled_warehouse, "p1")
    assert isinstance(meta["total_time_ms_24h"], dg.FloatMetadataValue) and meta["total_time_ms_24h"].value > 0
    assert isinstance(meta["preview"], dg.MarkdownMetadataValue)
    assert meta["preview"].value.startswith("| query | calls | total_ms | mean_ms |")
    assert meta["dagster/row_count"].value > 0 and "dagster/column_schema" in meta

    _, meta, _ = run_spec(SPEC["database_health"], filled_warehouse, "p1")
    assert 0 < meta["cache_hit_ratio"].value <= 1 and meta["connections"].value >= 1

    _, meta, _ = run_spec(SPEC["optimization_recommendations"], filled_warehouse, "p1")
    assert meta["recommendations"].value >= 1
    md = meta["preview"].value
    assert md.startswith("1. **") and "```sql" in md  # top recommendations with their SQL


def test_cost_previews(filled_warehouse):
    with filled_warehouse.reader() as conn:
        monthly = preview_metadata(conn, "monthly_cost_report",
                                   {"first_month": dt.date(2026, 11, 1), "last_month": dt.date(2026, 11, 1)})
        daily = preview_metadata(conn, "cost_breakdown_daily",
                                 {"start_date": dt.date(2026, 11, 1), "end_date": dt.date(2026, 11, 2)})
    assert monthly["projected_cost_usd"].value == 30.0 and monthly["month_cost_usd"].value == 2.0
    assert "| 2026-11 | egress_gb | 1.25 | 18.75 | known |" in monthly["preview"].value
    lines = daily["preview"].value.splitlines()
    assert lines[0].startswith("| line_item | cost_usd |") and lines[2].startswith("| egress_gb | 1.25 |")
