"""Snapshot extracts against real PostgreSQL 15 and 18."""

from __future__ import annotations

import psycopg
import pytest

from aimatrix_pipeline.demo import database as demo_db
from tests.extract.helpers import ALL_ASSETS, SNAPSHOT_ASSETS, failed_steps, materialize

SNAPSHOT_TABLES = [
    "pg_stat_statements_snapshots", "pg_stat_statements_info", "table_stats", "index_stats",
    "database_stats", "server_settings", "sequences", "foreign_keys",
]


def _dump(warehouse, table: str) -> list[tuple]:
    with warehouse.reader() as conn:
        return conn.execute(f"select * from raw.{table} order by all").fetchall()


def test_all_snapshots_materialize_with_rows_and_metadata(source_db, warehouse, monkeypatch):
    monkeypatch.setenv("SUPABASE_DB_URL", source_db.url)
    source_db.execute("select count(*) from app.orders")  # something for pg_stat_statements
    result = materialize(SNAPSHOT_ASSETS, warehouse, snapshot_at="2026-01-01T00:05:00+00:00")
    assert result.success
    for table in SNAPSHOT_TABLES:
        assert _dump(warehouse, table), f"raw.{table} is empty"
    mats = {
        m.asset_key.to_user_string(): m.metadata
        for m in result.asset_materializations_for_node("raw__table_stats")
    }
    meta = mats["raw/table_stats"]
    assert meta["dagster/row_count"].value == len(_dump(warehouse, "table_stats"))
    assert {c.name for c in meta["dagster/column_schema"].schema.columns} >= {"project", "n_dead_tup"}


def test_pg_stat_statements_columns_mapped_across_versions(source_db, warehouse, monkeypatch):
    monkeypatch.setenv("SUPABASE_DB_URL", source_db.url)
    source_db.execute("select count(*) from app.customers where email = 'a@example.com'")
    materialize([a for a in SNAPSHOT_ASSETS if a.key.path[-1] == "pg_stat_statements"], warehouse,
                snapshot_at="2026-01-01T00:05:00+00:00")
    with warehouse.reader() as conn:
        nulls = conn.execute(
            "select count(*) filter (where shared_blk_read_time is null), count(*), "
            "count(*) filter (where stats_since is null) from raw.pg_stat_statements_snapshots"
        ).fetchone()
        version = conn.execute("select server_version_num from raw.pg_stat_statements_info").fetchone()[0]
        previews = [r[0] for r in conn.execute("select query_preview from raw.pg_stat_statements_queries").fetchall()]
    assert nulls[1] > 0
    assert nulls[0] == 0, "PG 15/16 blk_read_time must land in shared_blk_read_time"
    assert version // 10000 == source_db.major
    # stats_since exists from PG 17 on only
    assert (nulls[2] == 0) == (source_db.major >= 17)
    assert not any("a@example.com" in p for p in previews), "literals must not reach the warehouse"


def test_rematerializing_same_snapshot_is_idempotent(source_db, warehouse, monkeypatch):
    monkeypatch.setenv("SUPABASE_DB_URL", source_db.url)
    stable = [a for a in SNAPSHOT_ASSETS if a.key.path[-1] in ("foreign_keys", "index_stats", "sequences")]
    materialize(stable, warehouse, snapshot_at="2026-01-01T00:05:00+00:00")
    first = {t: _dump(warehouse, t) for t in ("foreign_keys", "sequences")}
    materialize(stable, warehouse, snapshot_at="2026-01-01T00:05:00+00:00")
    second = {t: _dump(warehouse, t) for t in ("foreign_keys", "sequences")}
    assert first == second
    with warehouse.reader() as conn:
        counts = conn.execute(
            "select count(distinct snapshot_at), count(*) from raw.index_stats"
        ).fetchone()
    assert counts[0] == 1  # replaced, not doubled
    # every snapshot table, re-run under the same snapshot_at: replaced, never doubled
    keys = {
        "pg_stat_statements_snapshots": "dbid, userid, queryid, toplevel",
        "pg_stat_statements_info": "dbid",
        "table_stats": "relid",
        "index_stats": "indexrelid",
        "database_stats": "datid",
        "server_settings": "name",
        "sequences": "schemaname, sequencename",
        "foreign_keys": "schemaname, relname, constraint_name",
    }
    for _ in range(2):
        materialize(SNAPSHOT_ASSETS, warehouse, snapshot_at="2026-01-01T00:10:00+00:00")
        with warehouse.reader() as conn:
            for table, key in keys.items():
                dupes = conn.execute(
                    f"select count(*) from (select 1 from raw.{table} "
                    f"group by project, snapshot_at, {key} having count(*) > 1)"
                ).fetchone()[0]
                assert dupes == 0, table
                assert conn.execute(
                    f"select count(*) from raw.{table} where snapshot_at = '2026-01-01T00:10:00+00:00'"
                ).fetchone()[0] > 0, table


def test_unindexed_fk_detected_and_composite_pk_covers(source_db, warehouse, monkeypatch):
    monkeypatch.setenv("SUPABASE_DB_URL", source_db.url)
    materialize([a for a in SNAPSHOT_ASSETS if a.key.path[-1] == "foreign_keys"], warehouse)
    rows = dict(
        ((r[0], tuple(r[1])), r[2])
        for r in _dump_fk(warehouse)
    )
    assert rows[("order_items", ("product_id",))] is None
    assert rows[("order_items", ("order_id",))] == "order_items_pkey"


def _dump_fk(warehouse):
    with warehouse.reader() as conn:
        return conn.execute("select relname, column_names, covering_index from raw.foreign_keys").fetchall()


def test_least_privileged_role_extracts_everything(source_db, warehouse, monkeypatch):
    demo_db.create_monitoring_role(source_db.url, "monitor-secret")
    monitor_url = source_db.server.url(source_db.name, user=demo_db.MONITOR_ROLE, password="monitor-secret")
    source_db.execute("insert into public.query_performance_logs (query_hash, query_text, execution_time_ms) "
                      "values ('h', 'select 1', 12)")
    monkeypatch.setenv("SUPABASE_DB_URL", monitor_url)
    result = materialize(ALL_ASSETS, warehouse, raise_on_error=False)
    assert failed_steps(result) == {}
    with warehouse.reader() as conn:
        previews = conn.execute("select count(*) from raw.pg_stat_statements_queries "
                                "where query_preview like '%<insufficient privilege>%'").fetchone()[0]
        logs = conn.execute("select count(*) from raw.query_performance_logs").fetchone()[0]
    assert previews == 0, "pg_monitor must see other roles' statement texts"
    assert logs == 1


def test_permission_denied_fails_only_that_asset(source_db, warehouse, monkeypatch):
    demo_db.create_monitoring_role(source_db.url, "monitor-secret")
    source_db.execute("revoke select on pg_catalog.pg_sequences from public")
    monitor_url = source_db.server.url(source_db.name, user=demo_db.MONITOR_ROLE, password="monitor-secret")
    monkeypatch.setenv("SUPABASE_DB_URL", monitor_url)
    result = materialize(SNAPSHOT_ASSETS, warehouse, raise_on_error=False)
    failures = failed_steps(result)
    assert set(failures) == {"raw__sequences"}
    assert "permission denied" in failures["raw__sequences"]
    assert "pg_monitor" in failures["raw__sequences"]
    assert "monitor-secret" not in failures["raw__sequences"]
    assert _dump(warehouse, "table_stats")


def test_missing_pg_stat_statements_extension_is_explained(source_db, warehouse, monkeypatch):
    source_db.execute("drop extension pg_stat_statements")
    monkeypatch.setenv("SUPABASE_DB_URL", source_db.url)
    result = materialize(SNAPSHOT_ASSETS, warehouse, raise_on_error=False)
    failures = failed_steps(result)
    assert set(failures) == {"raw__pg_stat_statements"}
    assert "CREATE EXTENSION pg_stat_statements" in failures["raw__pg_stat_statements"]
    assert _dump(warehouse, "index_stats")


def test_vector_indexes_or_clear_note_without_pgvector(source_db, warehouse, monkeypatch):
    monkeypatch.setenv("SUPABASE_DB_URL", source_db.url)
    if source_db.has_vector:
        source_db.execute("insert into public.faq_chunks (content, embedding) "
                          "select 'c', array_fill(0.1, array[384])::extensions.vector from generate_series(1, 20)")
        demo_db.build_vector_indexes(source_db.url)
    result = materialize([a for a in SNAPSHOT_ASSETS if a.key.path[-1] == "vector_indexes"], warehouse)
    meta = result.asset_materializations_for_node("raw__vector_indexes")[0].metadata
    rows = _dump(warehouse, "vector_indexes")
    if source_db.has_vector:
        with warehouse.reader() as conn:
            found = conn.execute(
                "select relname, access_method, opclass, lists, m, ef_construction, dimensions "
                "from raw.vector_indexes order by relname").fetchall()
        assert ("documents", "hnsw", "vector_cosine_ops", None, 16, 64, 384) in found
        assert ("faq_chunks", "ivfflat", "vector_l2_ops", 500, None, None, 384) in found
        assert "notes" not in meta
    else:
        assert rows == []
        assert "CREATE EXTENSION vector" in meta["notes"].value


def test_statement_texts_fetched_once_per_queryid(source_db, warehouse, monkeypatch):
    monkeypatch.setenv("SUPABASE_DB_URL", source_db.url)
    asset = [a for a in SNAPSHOT_ASSETS if a.key.path[-1] == "pg_stat_statements"]
    materialize(asset, warehouse, snapshot_at="2026-01-01T00:05:00+00:00")
    materialize(asset, warehouse, snapshot_at="2026-01-01T00:10:00+00:00")
    with warehouse.reader() as conn:
        dupes = conn.execute(
            "select count(*) from (select queryid from raw.pg_stat_statements_queries "
            "group by project, dbid, queryid having count(*) > 1)"
        ).fetchone()[0]
        snaps = conn.execute("select count(distinct snapshot_at) from raw.pg_stat_statements_snapshots").fetchone()[0]
    assert dupes == 0
    assert snaps == 2


@pytest.fixture(scope="module")
def pg18_no_preload():
    from aimatrix_pipeline.demo.local_postgres import SERVER_SETTINGS, LocalPostgres
    from tests.conftest import _base_dir

    # Not under pytest's tmp_path: another pytest session may reset its mode to 0700 and lock the
    # server's user out; the suite's base directory is ours alone.
    settings = dict(SERVER_SETTINGS, shared_preload_libraries="")
    server = LocalPostgres(_base_dir() / "pg18-no-preload", settings=settings).start()
    yield server
    server.stop("immediate")


def test_pg_stat_statements_not_preloaded_is_explained(pg18_no_preload, warehouse, monkeypatch):
    url = pg18_no_preload.create_database("nopreload")
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("create schema if not exists extensions")
        conn.execute("create extension if not exists pg_stat_statements with schema extensions")
    monkeypatch.setenv("SUPABASE_DB_URL", url)
    result = materialize(SNAPSHOT_ASSETS, warehouse, raise_on_error=False)
    failures = failed_steps(result)
    assert set(failures) == {"raw__pg_stat_statements"}
    assert "shared_preload_libraries" in failures["raw__pg_stat_statements"]


@pytest.mark.parametrize("tag", [".dagster/scheduled_execution_time", "dagster/scheduled_execution_time"])
def test_a_scheduled_run_is_stamped_with_its_tick(source_db18, warehouse, monkeypatch, tag):
    """The scheduler daemon stamps its runs with the hidden `.dagster/` tag; reading only the
    visible one stamped every scheduled snapshot with the run's start instead of its tick."""
    import dagster as dg

    from aimatrix_pipeline.resources.settings_resource import SettingsResource
    from aimatrix_pipeline.resources.source_postgres import SourcePostgresResource

    monkeypatch.setenv("SUPABASE_DB_URL", source_db18.url)
    database_stats = next(a for a in SNAPSHOT_ASSETS if a.key.path[-1] == "database_stats")
    tick = "2026-01-01T00:05:00+00:00"
    dg.materialize([database_stats], partition_key="default", tags={tag: tick},
                   resources={"warehouse": warehouse, "source": SourcePostgresResource(),
                              "settings": SettingsResource()})
    with warehouse.reader() as conn:
        stamped = conn.execute("select distinct strftime(snapshot_at at time zone 'UTC', '%Y-%m-%dT%H:%M') "
                               "from raw.database_stats").fetchall()
    assert stamped == [("2026-01-01T00:05",)]
