"""The Dagster assets: extract + analytics materialize together for a project partition, report
row counts, column schemas and passing data-quality checks, and re-running replaces rows."""

from __future__ import annotations

import dagster as dg

from aimatrix_pipeline.analytics.assets import ASSETS, SPECS
from aimatrix_pipeline.analytics.checks import CHECKS
from aimatrix_pipeline.extract.assets import ALL_ASSETS
from aimatrix_pipeline.resources.settings_resource import SettingsResource
from aimatrix_pipeline.resources.source_postgres import SourcePostgresResource


def _run(assets, warehouse):
    return dg.materialize(
        assets, partition_key="default",
        resources={"warehouse": warehouse, "source": SourcePostgresResource(), "settings": SettingsResource()},
    )


def _counts(warehouse) -> dict[str, int]:
    with warehouse.reader() as conn:
        return {
            spec.name: conn.execute(f"select count(*) from analytics.{spec.tables[-1]} where project = 'default'").fetchone()[0]
            for spec in SPECS
        }


def test_assets_materialize_with_metadata_checks_and_idempotence(source_db18, warehouse, monkeypatch):
    monkeypatch.setenv("SUPABASE_DB_URL", source_db18.url)
    source_db18.execute("select count(*) from app.orders")
    source_db18.execute(
        "insert into public.error_events (name, severity, message) values ('TypeError', 'error', 'x')")
    result = _run([*ALL_ASSETS, *ASSETS], warehouse)
    assert result.success
    first = _counts(warehouse)
    assert first["pg_stat_statements_deltas"] == 0  # one snapshot is only a baseline
    assert first["table_health"] > 0 and first["database_health"] == 1 and first["error_stats"] > 0

    for spec in SPECS:
        mats = result.asset_materializations_for_node(f"analytics__{spec.name}")
        meta = mats[0].metadata
        assert meta["dagster/row_count"].value == first[spec.name]
        assert "project" in {c.name for c in meta["dagster/column_schema"].schema.columns}
    evaluations = result.get_asset_check_evaluations()
    # the data-quality checks, and the alert rules on these tables (the assets' own check specs)
    rule_checks = {k.name for a in ASSETS for k in a.check_keys} - {c.name for c in CHECKS}
    assert {"cache_hit_ratio_low", "slow_query_avg"} <= rule_checks
    analytics_keys = {a.key for a in ASSETS}
    assert {e.check_name for e in evaluations if e.asset_key in analytics_keys} == \
        {c.name for c in CHECKS} | rule_checks
    assert all(e.passed for e in evaluations if e.check_name in {c.name for c in CHECKS})

    again = _run(ASSETS, warehouse)  # analytics alone, same raw rows: same result, no doubling
    assert again.success and _counts(warehouse) == first
