"""Incremental app-log extraction: high-water mark, overlap, quarantine, source failure."""

from __future__ import annotations

import psycopg
import pytest

from aimatrix_pipeline.demo import database as demo_db
from aimatrix_pipeline.extract import app_logs
from aimatrix_pipeline.resources.source_postgres import SourcePostgresResource, SourceUnavailable
from aimatrix_pipeline.settings import AppLogSettings, Project
from tests.extract.helpers import APP_LOG_ASSETS, failed_steps, materialize

PROJECT = Project(name="p1", organization="o1", db_url_env="APP_LOG_SOURCE_URL")
SOURCE = SourcePostgresResource()

INSERT_LOGS = """
insert into public.query_performance_logs (query_hash, query_text, execution_time_ms, rows_returned, created_at)
select md5(i::text),
       format('select * from app.customers where email = ''user%%s@example.com'' and id = %%s', i, i)
           || repeat(' ', %(pad)s),
       (i %% 1500)::numeric, i %% 10, %(start)s::timestamptz + (i || ' seconds')::interval
from generate_series(%(first)s::int, %(last)s::int) i
"""


def insert_logs(db, first: int, last: int, start: str = "2026-01-01T00:00:00Z", pad: int = 0) -> None:
    db.execute(INSERT_LOGS, {"first": first, "last": last, "start": start, "pad": pad})


def warehouse_state(warehouse):
    with warehouse.reader() as conn:
        rows = conn.execute("select count(*), count(distinct id) from raw.query_performance_logs").fetchone()
        mark = conn.execute(
            "select high_water_mark from raw.extract_state where source_table = 'query_performance_logs'"
        ).fetchall()
    return rows, (mark[0][0] if mark else None)


@pytest.fixture
def env(source_db, monkeypatch):
    monkeypatch.setenv(PROJECT.db_url_env, source_db.url)
    return source_db


def test_incremental_loads_only_new_rows_and_never_doubles(env, warehouse):
    insert_logs(env, 1, 5000)
    first = app_logs.extract_app_log("query_performance_logs", SOURCE, warehouse, PROJECT)
    assert first.initial_load and first.rows_loaded == 5000
    insert_logs(env, 5001, 5050)
    second = app_logs.extract_app_log("query_performance_logs", SOURCE, warehouse, PROJECT)
    assert not second.initial_load
    assert second.rows_loaded == 50
    # only the new rows were transferred: the overlap window was checked by id, not re-read
    assert second.rows_read == 50
    third = app_logs.extract_app_log("query_performance_logs", SOURCE, warehouse, PROJECT)
    assert third.rows_loaded == 0
    (count, distinct), mark = warehouse_state(warehouse)
    assert count == distinct == 5050
    source_max = env.execute("select max(created_at) from public.query_performance_logs")[0][0]
    assert mark == source_max


def test_late_commit_inside_overlap_is_loaded_once(env, warehouse):
    insert_logs(env, 1, 100, start="2026-01-01T00:00:00Z")
    app_logs.extract_app_log("query_performance_logs", SOURCE, warehouse, PROJECT)
    # a row stamped 5 minutes before the mark, committed only now
    insert_logs(env, 101, 101, start="2025-12-31T23:55:00Z")
    result = app_logs.extract_app_log("query_performance_logs", SOURCE, warehouse, PROJECT)
    assert result.rows_loaded == 1 and result.rows_read == 1  # the late row, and only it
    (count, distinct), _ = warehouse_state(warehouse)
    assert count == distinct == 101


def test_texts_stored_without_literals_one_shape(env, warehouse):
    insert_logs(env, 1, 300)
    app_logs.extract_app_log("query_performance_logs", SOURCE, warehouse, PROJECT)
    with warehouse.reader() as conn:
        texts = conn.execute("select fingerprint, query_preview, parse_ok from raw.query_texts").fetchall()
        joined = conn.execute(
            "select count(*) from raw.query_performance_logs l join raw.query_texts t using (project, text_hash)"
        ).fetchone()[0]
    assert len(texts) == 1, "texts differing only in literals share one shape"
    fingerprint, preview, ok = texts[0]
    assert ok and "@example.com" not in preview and "$" in preview
    assert joined == 300


def test_malformed_rows_are_quarantined_not_fatal(env, warehouse):
    insert_logs(env, 1, 10)
    env.execute(
        "insert into public.query_performance_logs (id, query_hash, query_text, execution_time_ms, created_at) values "
        "('00000000-0000-0000-0000-000000000001', 'h1', 'select 1', 5, null),"
        "('00000000-0000-0000-0000-000000000002', 'h2', 'select 2', -3, now()),"
        "('00000000-0000-0000-0000-000000000003', 'h3', repeat('x', 1048576), 7, now()),"
        "('00000000-0000-0000-0000-000000000004', 'h4', 'select 4', null, now())"
    )
    result = app_logs.extract_app_log("query_performance_logs", SOURCE, warehouse, PROJECT)
    assert result.rows_loaded == 10 and result.rows_quarantined == 4
    # a second run sees the same bad rows again: replaced, not duplicated
    app_logs.extract_app_log("query_performance_logs", SOURCE, warehouse, PROJECT)
    with warehouse.reader() as conn:
        q = dict(conn.execute(
            "select source_id, reason from raw.quarantine where source_table = 'query_performance_logs'"
        ).fetchall())
        payload = conn.execute(
            "select octet_length(payload) from raw.quarantine where source_id like '%3'"
        ).fetchone()[0]
    assert q == {
        "00000000-0000-0000-0000-000000000001": "null_created_at",
        "00000000-0000-0000-0000-000000000002": "bad_execution_time",
        "00000000-0000-0000-0000-000000000003": "query_text_too_large",
        "00000000-0000-0000-0000-000000000004": "null_execution_time",
    }
    assert payload == 1048576, "the full row is kept"


@pytest.fixture
def sql_ascii_db(pg18, monkeypatch):
    """A database whose text columns can hold bytes that are not UTF-8."""
    name = "ascii_logs"
    pg18.drop_database(name)
    url = pg18.create_database(name, encoding="SQL_ASCII")
    demo_db.install_schema(url, vectors=False)
    monkeypatch.setenv(PROJECT.db_url_env, url)
    yield url
    pg18.drop_database(name)


def test_invalid_utf8_text_is_quarantined_with_bytes_intact(sql_ascii_db, warehouse):
    with psycopg.connect(sql_ascii_db, autocommit=True) as conn:
        conn.execute("set client_encoding = 'SQL_ASCII'")
        conn.execute(
            "insert into public.query_performance_logs (id, query_hash, query_text, execution_time_ms) "
            "values ('00000000-0000-0000-0000-00000000000a', 'bad', convert_from('\\x73656c656374202780ff27'::bytea, 'SQL_ASCII'), 3),"
            "       ('00000000-0000-0000-0000-00000000000b', 'ok', 'select 1', 3)"
        )
    result = app_logs.extract_app_log("query_performance_logs", SOURCE, warehouse, PROJECT)
    assert (result.rows_loaded, result.rows_quarantined) == (1, 1)
    with warehouse.reader() as conn:
        reason, payload = conn.execute("select reason, payload from raw.quarantine").fetchone()
    assert reason == "invalid_utf8"
    assert bytes(payload) == b"select '\x80\xff'"


def test_source_going_away_mid_extract_changes_nothing_then_catches_up(env, warehouse):
    insert_logs(env, 1, 1000)
    app_logs.extract_app_log("query_performance_logs", SOURCE, warehouse, PROJECT)
    before = warehouse_state(warehouse)
    # ~60 MB: far more than the socket buffers hold, so the server is still sending when killed
    insert_logs(env, 1001, 61000, start="2026-01-01T00:00:02Z", pad=1000)

    def kill_source(_result):
        with psycopg.connect(env.url, autocommit=True) as admin:
            admin.execute(
                "select pg_terminate_backend(pid) from pg_stat_activity "
                "where application_name = 'aimatrix_pipeline' and datname = current_database()"
            )

    with pytest.raises(SourceUnavailable) as err:
        app_logs.extract_app_log("query_performance_logs", SOURCE, warehouse, PROJECT,
                                 batch_rows=5000, queue_batches=1, on_batch=kill_source)
    assert "went away" in str(err.value)
    assert env.url.split("@")[0] not in str(err.value)
    assert warehouse_state(warehouse) == before, "warehouse and high-water mark unchanged"

    result = app_logs.extract_app_log("query_performance_logs", SOURCE, warehouse, PROJECT)
    (count, distinct), mark = warehouse_state(warehouse)
    assert count == distinct == 61000
    assert result.rows_loaded == 60000


def test_log_assets_materialize_and_rerun_idempotently(source_db, warehouse, monkeypatch):
    monkeypatch.setenv("SUPABASE_DB_URL", source_db.url)
    insert_logs(source_db, 1, 200)
    source_db.execute(
        "insert into public.vector_query_logs (query_type, vector_dimension, query_time_ms, index_used) "
        "values ('similarity', 384, 12.5, true), ('similarity', 384, 80, false);"
        "insert into public.embedding_generation_logs (model, token_count, generation_time_ms, error) "
        "values ('text-embedding-3-small', 120, 40, null), ('text-embedding-3-small', 90, 35, 'rate limited');"
        "insert into public.error_events (name, message, severity, context) "
        "values ('TypeError', 'x is undefined', 'high', '{\"userId\": \"u1\"}')"
    )
    result = materialize(APP_LOG_ASSETS, warehouse, raise_on_error=False)
    assert failed_steps(result) == {}

    def dump():
        with warehouse.reader() as conn:
            return {
                t: conn.execute(f"select * exclude (extracted_at) from raw.{t} order by all").fetchall()
                for t in ("query_performance_logs", "vector_query_logs", "embedding_generation_logs", "error_events")
            }

    first = dump()
    materialize(APP_LOG_ASSETS, warehouse)
    assert dump() == first
    assert [len(v) for v in first.values()] == [200, 2, 2, 1]
    meta = result.asset_materializations_for_node("raw__query_performance_logs")[0].metadata
    assert meta["dagster/row_count"].value == 200


def test_shape_first_seen_on_a_quarantined_row_still_fingerprints_loadable_rows(env, warehouse):
    # the first row of the shape fails its checks; later rows of the same shape load and must join
    env.execute(
        "insert into public.query_performance_logs (query_hash, query_text, execution_time_ms, created_at) "
        "values ('h0', 'select * from app.customers where email = ''first@example.com'' and id = 0', "
        "null, '2026-01-01T00:00:00Z')"
    )
    insert_logs(env, 1, 20)
    result = app_logs.extract_app_log("query_performance_logs", SOURCE, warehouse, PROJECT)
    assert result.rows_loaded == 20 and result.rows_quarantined == 1
    with warehouse.reader() as conn:
        unmatched = conn.execute(
            "select count(*) from raw.query_performance_logs l anti join raw.query_texts t using (project, text_hash)"
        ).fetchone()[0]
    assert unmatched == 0


def test_log_tables_located_per_project_and_optional(env, warehouse):
    """A project's log can live in another table (any schema and name, quoted), be turned off, or
    be missing: none of it is a failure, and the result says which."""
    env.execute('create schema "Obs"; create table "Obs"."slow log" (id uuid primary key default gen_random_uuid(), '
                "query_hash text, execution_time_ms numeric, created_at timestamptz default now())")
    env.execute("""insert into "Obs"."slow log" (query_hash, execution_time_ms) values ('h', 3)""")
    project = Project(name="p1", organization="o1", db_url_env=PROJECT.db_url_env, app_logs=AppLogSettings(
        tables={"query_performance_logs": ("Obs", "slow log"), "error_events": None,
                "vector_query_logs": ("public", "no_such_table")}))
    moved = app_logs.extract_app_log("query_performance_logs", SOURCE, warehouse, project)
    assert (moved.source, moved.source_status, moved.rows_loaded) == ("Obs.slow log", "present", 1)
    assert set(moved.columns_absent) == {"query_text", "rows_returned", "rows_examined", "index_usage",
                                         "user_id", "organization_id"}
    off = app_logs.extract_app_log("error_events", SOURCE, warehouse, project)
    assert off.source_status == "disabled" and off.rows_read == 0
    missing = app_logs.extract_app_log("vector_query_logs", SOURCE, warehouse, project)
    assert missing.source_status == "absent" and "no table public.no_such_table" in missing.source_note
    env.execute("create table public.no_such_table (created_at timestamptz)")
    unusable = app_logs.extract_app_log("vector_query_logs", SOURCE, warehouse, project)
    assert unusable.source_status == "unusable" and "no id column" in unusable.source_note
    with warehouse.reader() as conn:
        row = conn.execute("select query_hash, query_length, execution_time_ms, user_id "
                           "from raw.query_performance_logs").fetchall()
    assert row == [("h", None, 3.0, None)]
