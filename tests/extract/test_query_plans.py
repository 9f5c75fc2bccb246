"""Generic plans on PG 15 (PREPARE under force_generic_plan) and PG 18 (EXPLAIN (GENERIC_PLAN)),
the plan hash, hostile query texts, and the plan capture of a project's top statements."""

from __future__ import annotations

import copy
import json
from datetime import datetime, timedelta, timezone

import psycopg
import pytest

from aimatrix_pipeline.demo import database as demo_db
from aimatrix_pipeline.extract import explain, plans
from aimatrix_pipeline.resources.source_postgres import SourcePostgresResource
from tests.analytics.helpers import project_for, run_analytics
from tests.analytics.plan_workload import INDEX, capture, create_probe_table, probe, stats_snapshot
from tests.extract.helpers import materialize

STATEMENT = "select count(*), max(pad) from app.plan_probe where k = $1"


def _walk(node):
    yield node
    for child in node.get("Plans") or ():
        yield from _walk(child)


def read_only(url: str) -> psycopg.Connection:
    """A session like the monitoring one: every transaction read-only."""
    return psycopg.connect(url, options="-c default_transaction_read_only=on")


def test_generic_plan_on_both_majors_uses_the_index_and_leaves_nothing_behind(source_db):
    create_probe_table(source_db.url, rows=20_000)
    with read_only(source_db.url) as conn:
        plan = explain.generic_plan(conn, STATEMENT)
        # PG 15 has no GENERIC_PLAN: it must have gone through PREPARE, and deallocated it
        assert conn.execute("select count(*) from pg_prepared_statements").fetchone()[0] == 0
        # the SET LOCALs ended with the capture
        assert conn.execute("show plan_cache_mode").fetchone()[0] == "auto"
        assert conn.execute("show lock_timeout").fetchone()[0] == "0"
        # INSERT/UPDATE/DELETE are explained, never executed (and a read-only session allows it)
        dml = explain.generic_plan(conn, "update app.plan_probe set pad = $1 where k = $2")
    assert isinstance(plan["Total Cost"], float)
    assert INDEX in {n.get("Index Name") for n in _walk(plan)}
    assert dml["Node Type"] == "ModifyTable"
    assert source_db.execute("select count(*) from app.plan_probe where pad <> repeat('x', 40)") == [(0,)]


@pytest.mark.pg15
def test_pg15_path_is_prepare_under_force_generic_plan(pg15):
    """On 15 the statement is planned as a prepared statement with the generic plan forced: with
    a custom plan the NULL argument would fold `k = NULL` into a one-time filter."""
    from tests.conftest import make_source_db

    db = make_source_db(pg15)
    try:
        create_probe_table(db.url, rows=20_000)
        with psycopg.connect(db.url) as conn:
            assert conn.info.server_version < 160000
            with pytest.raises(psycopg.errors.SyntaxError):
                conn.execute("explain (generic_plan) select 1")
            conn.rollback()
            plan = explain.generic_plan(conn, STATEMENT)
        nodes = list(_walk(plan))
        assert not any("One-Time Filter" in n for n in nodes)
        assert any(n.get("Index Cond") == "(k = $1)" for n in nodes)
    finally:
        pg15.drop_database(db.name)


def test_generic_plan_timeout_is_local(source_db):
    """A lock held by someone else makes EXPLAIN wait: lock_timeout ends it, the session goes on."""
    create_probe_table(source_db.url, rows=1_000)
    with psycopg.connect(source_db.url) as holder, psycopg.connect(source_db.url) as conn:
        holder.execute("lock table app.plan_probe in access exclusive mode")
        with pytest.raises((psycopg.errors.LockNotAvailable, psycopg.errors.QueryCanceled)):
            explain.generic_plan(conn, STATEMENT, timeout_ms=200)
        holder.rollback()
        assert conn.execute("select 1").fetchone() == (1,)
        assert explain.generic_plan(conn, STATEMENT)["Total Cost"] > 0


@pytest.mark.parametrize("text", [
    "select 1; drop table app.orders",
    "vacuum app.orders",
    "select * into app.copy from app.orders",
    "create table x (a int)",
    "explain analyze delete from app.orders",
    "-- only a comment",
    "",
    "select from where",
    "copy app.orders to '/tmp/x'",
])
def test_hostile_or_unexplainable_texts_are_refused(text):
    assert explain.explainable_statement(text) is None


def test_explainable_statement_redeparses_one_statement():
    out = explain.explainable_statement("SELECT /* hi; drop table t */ a FROM t WHERE b = $1 -- tail\n")
    assert out and out.upper().startswith("SELECT") and "$1" in out
    assert "hi" not in out and "drop" not in out.lower() and "tail" not in out  # comments do not ride along
    assert explain.explainable_statement("delete from t where id = $1").upper().startswith("DELETE FROM T")


def test_plan_hash_ignores_costs_but_not_the_shape(source_db):
    create_probe_table(source_db.url, rows=20_000)
    with psycopg.connect(source_db.url) as conn:
        with_index = explain.generic_plan(conn, STATEMENT)
        conn.execute(f"drop index app.{INDEX}")
        conn.commit()
        without = explain.generic_plan(conn, STATEMENT)
    recosted = copy.deepcopy(with_index)
    for node in _walk(recosted):
        for key in ("Startup Cost", "Total Cost", "Plan Rows", "Plan Width"):
            if key in node:
                node[key] = node[key] * 3 + 1
    assert explain.plan_hash(recosted) == explain.plan_hash(with_index)
    assert explain.plan_hash(without) != explain.plan_hash(with_index)
    renamed = json.loads(json.dumps(with_index).replace(INDEX, "other_idx"))
    assert explain.plan_hash(renamed) != explain.plan_hash(with_index)


def _rows(warehouse, project: str) -> list[dict]:
    with warehouse.reader() as conn:
        cur = conn.execute("select * from raw.query_plans where project = ? order by captured_at, rank", [project])
        cols = [d[0] for d in cur.description]
        return [dict(zip(cols, r)) for r in cur.fetchall()]


def test_capture_keeps_the_top_statements_plans(source_db, warehouse, monkeypatch):
    project = project_for(monkeypatch, source_db)
    create_probe_table(source_db.url, rows=20_000)
    t0 = datetime.now(timezone.utc) - timedelta(hours=2)
    stats_snapshot(warehouse, project, t0)
    probe(source_db.url, 40)
    t1 = stats_snapshot(warehouse, project, t0 + timedelta(hours=1))
    run_analytics(warehouse, project, as_of=t1 + timedelta(minutes=1))
    result = capture(warehouse, project, t1, top=50)
    rows = _rows(warehouse, project.name)
    assert result.rows == len(rows) > 1
    assert [r["rank"] for r in rows] == list(range(1, len(rows) + 1))
    totals = [r["window_total_time_ms"] for r in rows]
    assert totals == sorted(totals, reverse=True)
    mine = [r for r in rows if "plan_probe" in (r["query_preview"] or "") and "$1" in r["query_preview"]
            and "count" in r["query_preview"]]
    assert len(mine) == 1 and mine[0]["status"] == plans.OK
    # names as EXPLAIN gives them: schema-qualified when the plan carries the schema
    assert {INDEX, f"app.{INDEX}"} & set(mine[0]["indexes"])
    assert {"plan_probe", "app.plan_probe"} & set(mine[0]["relations"])
    assert json.loads(mine[0]["plan_json"])["Total Cost"] == mine[0]["total_cost"]
    assert mine[0]["plan_hash"] == explain.plan_hash(json.loads(mine[0]["plan_json"]))
    # the markdown the Dagster UI shows names the statement's plan
    md = plans.markdown(result, max_plans=50)
    assert mine[0]["plan_hash"] in md and f"using {INDEX}" in md
    # the next capture of the same plan keeps its hash, not its JSON again (stored once per plan)
    later = capture(warehouse, project, t1 + timedelta(hours=1), top=50)
    again = [r for r in _rows(warehouse, project.name) if r["captured_at"] > t1 and r["queryid"] == mine[0]["queryid"]]
    assert again[0]["plan_hash"] == mine[0]["plan_hash"] and again[0]["plan_json"] is None
    assert mine[0]["fingerprint"] not in later.changed
    # a re-run capture at the same time replaces itself (JSON kept: no earlier capture of that
    # time), and keeps only the top N asked for
    capture(warehouse, project, t1, top=3)
    first = [r for r in _rows(warehouse, project.name) if r["captured_at"] == t1]
    assert [r["rank"] for r in first] == [1, 2, 3] and all(r["plan_json"] for r in first if r["status"] == "ok")


def test_permission_denied_is_a_status_not_a_failure(source_db, warehouse, monkeypatch):
    """The least-privileged monitoring role may not read app.* tables, so EXPLAIN is refused: the
    asset still materializes, the rows say permission_denied, and the metadata says why."""
    create_probe_table(source_db.url, rows=5_000)
    demo_db.create_monitoring_role(source_db.url, "pw")
    monitor = source_db.server.url(source_db.name, user=demo_db.MONITOR_ROLE, password="pw")
    project = project_for(monkeypatch, source_db, name="default")
    t0 = datetime.now(timezone.utc) - timedelta(hours=2)
    stats_snapshot(warehouse, project, t0)
    probe(source_db.url, 10)
    t1 = stats_snapshot(warehouse, project, t0 + timedelta(hours=1))
    run_analytics(warehouse, project, as_of=t1 + timedelta(minutes=1))
    monkeypatch.setenv("SUPABASE_DB_URL", monitor)
    from aimatrix_pipeline.extract.assets import query_plans

    result = materialize([query_plans], warehouse)
    assert result.success
    rows = _rows(warehouse, "default")
    probe_row = next(r for r in rows if "plan_probe" in (r["query_preview"] or "") and "count" in r["query_preview"])
    assert probe_row["status"] == plans.PERMISSION_DENIED
    assert probe_row["plan_json"] is None and "permission denied" in probe_row["error"]
    meta = result.asset_materializations_for_node("raw__query_plans")[0].metadata
    assert meta["status/permission_denied"].value >= 1
    assert "SELECT on those tables" in meta["notes"].value
    assert "permission_denied" in meta["plans"].value


def test_capture_before_any_delta_writes_nothing_and_says_so(source_db, warehouse, monkeypatch):
    project = project_for(monkeypatch, source_db)
    result = plans.capture_plans(SourcePostgresResource(), warehouse, project, datetime.now(timezone.utc),
                                 top=50, window_hours=24, timeout_ms=2000)
    assert result.rows == 0 and "no pg_stat_statements deltas" in result.notes[0]
