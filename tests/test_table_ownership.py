"""Assets own their tables: every table of the warehouse DDL is declared by exactly one asset
(`dagster/table_name` / `aimatrix/writes`, aimatrix_pipeline/shared/tables.py) or is shared
state with a stated reason; retention owns no table and reports observations instead."""

from __future__ import annotations

import re
from pathlib import Path

import dagster as dg

from aimatrix_pipeline.resources.settings_resource import SettingsResource
from aimatrix_pipeline.shared.tables import SHARED_STATE, table_owners

DDL = Path(__file__).resolve().parents[1] / "sql" / "warehouse" / "ddl"
CREATE = re.compile(r"create\s+(?:or\s+replace\s+)?table\s+(?:if\s+not\s+exists\s+)?([a-z_]+\.[a-z_]+)", re.I)


def _ddl_tables() -> set[str]:
    return {m.lower() for p in sorted(DDL.glob("*.sql")) for m in CREATE.findall(p.read_text(encoding="utf-8"))}


def _owners() -> dict[str, list[dg.AssetKey]]:
    from aimatrix_pipeline.definitions import defs

    return table_owners(defs.resolve_asset_graph().assets_defs)


def test_the_ddl_is_read():
    tables = _ddl_tables()
    assert {"raw.table_stats", "cost.price_book", "alerts.alert_events"} <= tables and len(tables) > 40


def test_every_warehouse_table_has_exactly_one_owner_or_is_shared_state():
    owners = _owners()
    problems = []
    for table in sorted(_ddl_tables()):
        keys = owners.get(table, [])
        if table in SHARED_STATE:
            if keys:
                problems.append(f"{table} is shared state but declared by {[k.to_user_string() for k in keys]}")
        elif len(keys) != 1:
            problems.append(f"{table}: {len(keys)} owners {[k.to_user_string() for k in keys]}")
    assert not problems, "\n".join(problems)


def test_assets_declare_only_tables_that_exist():
    assert not set(_owners()) - _ddl_tables()


def test_shared_state_names_real_tables():
    assert set(SHARED_STATE) <= _ddl_tables()


def test_retention_owns_nothing_and_observes_each_table_for_its_owner():
    from aimatrix_pipeline.fleet import retention
    from aimatrix_pipeline.fleet.assets import MAIN_TABLES, RETENTION_KEY, TABLE_OWNERS

    owners = _owners()
    assert RETENTION_KEY not in {k for keys in owners.values() for k in keys}
    touched = retention.PG_STAT_STATEMENTS_TABLES + retention.SNAPSHOT_TABLES + retention.APP_LOG_TABLES
    assert set(TABLE_OWNERS) == set(touched)
    for table, owner in TABLE_OWNERS.items():
        expected = None if f"raw.{table}" in SHARED_STATE else owners[f"raw.{table}"]
        assert (owner and [dg.AssetKey(["raw", owner])]) == (expected or None), table
    from aimatrix_pipeline.definitions import defs

    for table in MAIN_TABLES:
        spec = defs.resolve_asset_graph().get(dg.AssetKey(["raw", TABLE_OWNERS[table]]))
        assert spec.metadata["dagster/table_name"] == f"raw.{table}"


def test_the_price_book_has_one_writer(warehouse, monkeypatch):
    """Pricing a day reads the price book; only cost/price_book writes it (and the billing config)."""
    from aimatrix_pipeline.cost.assets import cost_breakdown_daily, price_book

    monkeypatch.delenv("AIMATRIX_PROJECTS_FILE", raising=False)
    assert dg.materialize([price_book], resources={"warehouse": warehouse, "settings": SettingsResource()}).success
    with warehouse.transaction() as conn:
        written = conn.execute("select count(*) from cost.price_book").fetchone()[0]
        conn.execute("delete from cost.price_book where line_item = 'egress'")
        left = conn.execute("select count(*) from cost.price_book").fetchone()[0]
    assert written > left > 0
    priced = dg.materialize([cost_breakdown_daily], partition_key="2026-03-02", resources={"warehouse": warehouse, "settings": SettingsResource()})
    assert priced.success
    with warehouse.reader() as conn:
        assert conn.execute("select count(*) from cost.price_book").fetchone()[0] == left
