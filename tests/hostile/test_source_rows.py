"""Hostile source rows: timestamps from the future, infinities and dates before year 1.

A monitored table is written by someone else's code and clock. Whatever `created_at` PostgreSQL
accepts, the extract must go on loading later rows (the high-water mark never passes the
source's clock), keep the odd row in quarantine with its reason, raise the
`no_rows_from_the_future` check, and every derivation must still run.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from aimatrix_pipeline.analytics import derive
from aimatrix_pipeline.extract import app_logs
from aimatrix_pipeline.resources.source_postgres import SourcePostgresResource
from aimatrix_pipeline.settings import Project
from aimatrix_pipeline.shared.thresholds import load_thresholds
from tests.analytics.helpers import snapshot
from tests.extract.helpers import APP_LOG_ASSETS, materialize

PROJECT = Project(name="default", organization="default", db_url_env="SUPABASE_DB_URL")
SOURCE = SourcePostgresResource()
QPL = "query_performance_logs"

INSERT = ("insert into public.query_performance_logs (id, query_hash, query_text, execution_time_ms, created_at) "
          "values (%s, 'h', 'select * from app.customers where id = 1', 5000, {at})")
NORMAL = "00000000-0000-0000-0000-00000000000{}"
HOSTILE_ID = "ffffffff-0000-0000-0000-000000000001"


@pytest.fixture
def env(source_db, monkeypatch):
    monkeypatch.setenv(PROJECT.db_url_env, source_db.url)
    return source_db


def add(db, row_id: str, at: str) -> None:
    db.execute(INSERT.format(at=at), (row_id,))


def quarantined(warehouse, table: str = QPL) -> dict[str, str]:
    with warehouse.reader() as conn:
        return dict(conn.execute("select source_id, reason from raw.quarantine where source_table = ?",
                                 [table]).fetchall())


def loaded_ids(warehouse, table: str = QPL) -> set[str]:
    with warehouse.reader() as conn:
        return {str(r[0]) for r in conn.execute(f"select id from raw.{table}").fetchall()}


def mark(warehouse, table: str = QPL):
    with warehouse.reader() as conn:
        rows = conn.execute("select high_water_mark from raw.extract_state where source_table = ?", [table]).fetchall()
    return rows[0][0] if rows else None


def derive_everything(warehouse) -> dict[str, int]:
    params = derive.base_params(PROJECT.name, load_thresholds(env={}), as_of=datetime.now(timezone.utc))
    with warehouse.transaction() as conn:
        return derive.derive_all(conn, params)


# created_at value -> what happens to the row: quarantined with a reason, or loaded
HOSTILE_TIMESTAMPS = [
    ("timestamptz '2999-01-01 00:00:00+00'", "future_created_at"),
    ("'infinity'::timestamptz", "future_created_at"),
    ("'294276-12-31 23:59:59+00'::timestamptz", "future_created_at"),
    ("now() + interval '1 day'", "future_created_at"),
    ("'-infinity'::timestamptz", "infinite_created_at"),
    ("timestamptz '0001-01-01 00:00:00+00'", "loaded"),
    ("timestamptz '4713-01-01 00:00:00+00 BC'", "loaded"),
]


@pytest.mark.parametrize("created_at, outcome", HOSTILE_TIMESTAMPS, ids=[o + ":" + c.split("'")[1]
                                                                         for c, o in HOSTILE_TIMESTAMPS])
def test_hostile_timestamp_never_freezes_the_extract(env, warehouse, created_at, outcome):
    add(env, NORMAL.format(1), "now() - interval '1 hour'")
    add(env, HOSTILE_ID, created_at)
    first = app_logs.extract_app_log(QPL, SOURCE, warehouse, PROJECT)
    assert first.source_clock is not None
    assert first.high_water_mark is not None and first.high_water_mark <= first.source_clock
    if outcome == "loaded":
        assert HOSTILE_ID in loaded_ids(warehouse) and HOSTILE_ID not in quarantined(warehouse)
        assert first.rows_from_future == 0
    else:
        assert quarantined(warehouse) == {HOSTILE_ID: outcome}
        assert first.rows_from_future == 1
        assert HOSTILE_ID not in loaded_ids(warehouse)
    # a row written after the first run still arrives: the mark did not jump to the hostile row
    add(env, NORMAL.format(2), "now()")
    second = app_logs.extract_app_log(QPL, SOURCE, warehouse, PROJECT)
    assert second.rows_loaded == 1
    assert {NORMAL.format(1), NORMAL.format(2)} <= loaded_ids(warehouse)
    # still quarantined once (replaced, not doubled) while the source keeps the row
    assert second.rows_from_future == (0 if outcome == "loaded" else 1)
    with warehouse.reader() as conn:
        assert conn.execute("select count(*) from raw.quarantine").fetchone()[0] == (0 if outcome == "loaded" else 1)
    # every derivation runs, and the summary has the normal rows' hour
    counts = derive_everything(warehouse)
    assert counts["slow_queries_summary"] >= 1


def test_row_within_clock_skew_waits_then_loads(env, warehouse):
    add(env, NORMAL.format(1), "now() + interval '2 minutes'")
    first = app_logs.extract_app_log(QPL, SOURCE, warehouse, PROJECT)  # default tolerance 5 min
    assert (first.rows_loaded, first.rows_from_future, first.rows_deferred) == (0, 0, 1)
    assert quarantined(warehouse) == {}
    # the writer's clock was 2 minutes fast; once the source's clock passes the row, it loads
    env.execute("update public.query_performance_logs set created_at = now() - interval '1 second'")
    second = app_logs.extract_app_log(QPL, SOURCE, warehouse, PROJECT)
    assert second.rows_loaded == 1 and loaded_ids(warehouse) == {NORMAL.format(1)}


def test_zero_tolerance_quarantines_then_releases(env, warehouse):
    add(env, NORMAL.format(1), "now() + interval '2 minutes'")
    first = app_logs.extract_app_log(QPL, SOURCE, warehouse, PROJECT, clock_skew=timedelta(0))
    assert first.rows_from_future == 1 and quarantined(warehouse) == {NORMAL.format(1): "future_created_at"}
    env.execute("update public.query_performance_logs set created_at = now() - interval '1 second'")
    second = app_logs.extract_app_log(QPL, SOURCE, warehouse, PROJECT, clock_skew=timedelta(0))
    assert second.rows_loaded == 1 and quarantined(warehouse) == {}


def test_mark_frozen_by_an_older_version_is_repaired(env, warehouse):
    """A warehouse whose mark an earlier release moved to 2999 catches up on the skipped rows."""
    add(env, NORMAL.format(1), "now() - interval '1 hour'")
    app_logs.extract_app_log(QPL, SOURCE, warehouse, PROJECT)
    with warehouse.transaction() as conn:
        conn.execute("update raw.extract_state set high_water_mark = timestamptz '2999-01-01 00:00:00+00'")
    add(env, NORMAL.format(2), "now()")
    add(env, HOSTILE_ID, "timestamptz '2999-01-01 00:00:00+00'")
    result = app_logs.extract_app_log(QPL, SOURCE, warehouse, PROJECT)
    assert result.mark_repaired and result.rows_from_future == 1
    assert loaded_ids(warehouse) == {NORMAL.format(1), NORMAL.format(2)}
    assert mark(warehouse) < datetime(2100, 1, 1, tzinfo=timezone.utc)


@pytest.mark.parametrize("created_at", ["2999-01-01 00:00:00+00", "4713-01-01 (BC) 00:00:00+00",
                                        "0001-01-01 00:00:00+00", "294247-01-01 00:00:00+00"])
def test_derivations_survive_any_timestamp_in_the_warehouse(warehouse, created_at):
    """Even rows that reached raw.* some other way (an older release) cannot break a derivation:
    the hour bucket of 2999 overflowed an int32."""
    with warehouse.transaction() as conn:
        conn.execute(
            "insert into raw.query_performance_logs (project, id, query_hash, text_hash, execution_time_ms, "
            "created_at) values (?, uuid(), 'h', 'x', 5000, ?::timestamptz)", [PROJECT.name, created_at])
    counts = derive_everything(warehouse)
    assert set(counts) == set(derive.DERIVATIONS)


@pytest.mark.fails_check("raw/query_performance_logs:no_rows_from_the_future")
def test_future_rows_check_fails_in_the_asset_run(env, warehouse):
    add(env, HOSTILE_ID, "timestamptz '2999-01-01 00:00:00+00'")
    add(env, NORMAL.format(1), "now()")
    snapshot(warehouse, PROJECT, names=("pg_stat_statements",))
    qpl = next(a for a in APP_LOG_ASSETS if a.key.path[-1] == QPL)
    result = materialize([qpl], warehouse)
    assert result.success
    evaluations = {e.check_name: e for e in result.get_asset_check_evaluations()}
    check = evaluations["no_rows_from_the_future"]
    assert not check.passed and check.severity.value == "WARN"
    assert check.metadata["rows_from_the_future"].value == 1
    meta = result.asset_materializations_for_node(qpl.op.name)[0].metadata
    assert meta["rows_from_the_future"].value == 1 and meta["dagster/row_count"].value == 1


# execution_time_ms value -> quarantined as bad_execution_time, or loaded
HOSTILE_DURATIONS = [
    ("1e300", "bad_execution_time"),
    ("31536000001", "bad_execution_time"),   # a year in ms, and one more
    ("'NaN'", "bad_execution_time"),
    ("'Infinity'", "bad_execution_time"),
    ("-1", "bad_execution_time"),
    ("31536000000", "loaded"),               # a year exactly: implausible, but the bound is inclusive
    ("5000", "loaded"),
]


@pytest.mark.parametrize("duration, outcome", HOSTILE_DURATIONS, ids=[d.strip("'") for d, _ in HOSTILE_DURATIONS])
def test_implausible_execution_time_is_quarantined(env, warehouse, duration, outcome):
    env.execute("insert into public.query_performance_logs (id, query_hash, query_text, execution_time_ms, created_at) "
                f"values (%s, 'h', 'select 1', {duration}, now() - interval '1 hour')", (HOSTILE_ID,))
    add(env, NORMAL.format(1), "now() - interval '1 hour'")
    app_logs.extract_app_log(QPL, SOURCE, warehouse, PROJECT)
    if outcome == "loaded":
        assert quarantined(warehouse) == {} and HOSTILE_ID in loaded_ids(warehouse)
    else:
        assert quarantined(warehouse) == {HOSTILE_ID: outcome}
        assert loaded_ids(warehouse) == {NORMAL.format(1)}  # the good row still loads
    assert derive_everything(warehouse)["slow_queries_summary"] >= 1
