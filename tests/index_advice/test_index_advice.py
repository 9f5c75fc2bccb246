"""Index advice end to end: the workload's needed indexes are found, no decoy is, and the
suggestions, created for real through `apply`, are used by the planner and make the workload faster.

Verified advice runs on PG 15 with hypopg (Debian's postgresql-15-hypopg); the embedded PG 18 has
no hypopg and covers the unverified path (pg_stats selectivity) and EXPLAIN (GENERIC_PLAN).
"""

from __future__ import annotations

import json

import pglast
import psycopg
import pytest

from aimatrix_pipeline.dashboard import data as dashboard_data
from aimatrix_pipeline.demo import database as demo_db
from aimatrix_pipeline.extract import explain
from aimatrix_pipeline.extract.index_advice import advise as advise_mod
from aimatrix_pipeline.remediation import apply as ap
from tests.index_advice import helpers, workload

PASSWORD = "monitor-secret"


@pytest.fixture
def pg15_hypopg(pg15):
    from tests.conftest import make_source_db

    db = make_source_db(pg15, "advice")
    db.execute("create extension hypopg")
    workload.install(db.url)
    yield db
    pg15.drop_database(db.name)


def _assert_needed_and_no_decoy(rows):
    got = helpers.found(rows)
    assert workload.EXPECTED <= got, got
    assert any(t == "orders" and set(cols) == workload.TWO_COLUMNS for _s, t, cols in got), got
    for _s, table, cols in got:
        assert (table, cols[0]) not in workload.DECOY_COLUMNS, f"decoy suggested: {table}{cols}"
        assert not (table == "orders" and {"status", "priority"} & set(cols)), f"decoy suggested: {table}{cols}"
    assert len(got) == 3, got


@pytest.mark.pg15
def test_verified_advice_finds_every_needed_index_and_no_decoy_then_delivers(pg15_hypopg, warehouse, monkeypatch):
    db = pg15_hypopg
    monkeypatch.setenv("SUPABASE_DB_URL", db.url)
    helpers.observe_workload(db.url, warehouse)
    count_indexes = "select count(*) from pg_indexes where schemaname = 'public'"
    indexes_before = db.execute(count_indexes)[0][0]
    result = helpers.advise(warehouse)
    assert result.success
    rows = helpers.suggestions(warehouse)
    _assert_needed_and_no_decoy(rows)
    run = helpers.last_run(warehouse)
    assert run["mode"] == "verified" and run["hypothetical_indexes"] > 0
    for r in rows:
        assert r["verification"] == "hypopg" and r["level"] == "warning"
        assert r["cost_reduction"] >= 0.5 and r["size_bytes"] > 0 and r["net_benefit_ms_per_day"] > 0
        assert r["remediation_sql"].startswith(f'CREATE INDEX CONCURRENTLY "{r["index_name"]}" ON "public".')
        assert len(r["index_name"].encode()) <= 63
        queries = json.loads(r["metadata"])["queries"]
        assert queries and all(q["cost_after"] <= q["cost_before"] * 0.5 for q in queries)
    assert [r["rank"] for r in rows] == [1, 2, 3]
    assert [r["net_benefit_ms_per_day"] for r in rows] == sorted((r["net_benefit_ms_per_day"] for r in rows),
                                                                reverse=True)
    # advice creates nothing real (hypothetical indexes live in its session and are reset there:
    # test_locks_failures_and_write_overhead_leave_a_clean_session)
    assert db.execute(count_indexes)[0][0] == indexes_before
    meta = result.asset_materializations_for_node(helpers.index_suggestions.op.name)[0].metadata
    assert meta["dagster/row_count"].value == 3 and "order_items" in meta["top_suggestions"].value

    # created for real through `apply`: the planner uses them and the workload gets faster
    before_ms = helpers.mean_ms_of(db.url, workload.NEEDED)
    for r in rows:
        rec = ap.load_recommendation(warehouse, r["id"])
        assert rec is not None and rec.name == "index_suggestion"
        outcome = ap.execute(db.url, ap.plan(rec), lock_timeout_ms=5000, statement_timeout_ms=120_000)
        assert outcome.result == "succeeded", outcome.message
    with psycopg.connect(db.url) as conn:
        for r in rows:
            for q in json.loads(r["metadata"])["queries"]:
                assert r["index_name"] in explain.index_names(explain.generic_plan(conn, q["query"]))
    after_ms = helpers.mean_ms_of(db.url, workload.NEEDED)
    assert after_ms < before_ms * 0.5, (before_ms, after_ms)

    # the next run has nothing left to suggest: the new indexes serve the workload by prefix
    helpers.observe_workload(db.url, warehouse, rounds=5)
    helpers.advise(warehouse)
    assert helpers.found(helpers.suggestions(warehouse)) == set()


def test_unverified_advice_on_pg18_judges_selectivity_and_says_how_to_verify(pg18_plain, warehouse, monkeypatch):
    db = pg18_plain
    monkeypatch.setenv("SUPABASE_DB_URL", db.url)
    helpers.observe_workload(db.url, warehouse)
    assert helpers.advise(warehouse).success
    rows = helpers.suggestions(warehouse)
    _assert_needed_and_no_decoy(rows)
    for r in rows:
        assert r["verification"] == "unverified" and r["level"] == "info"
        assert "create extension hypopg" in r["detail"]
    assert helpers.last_run(warehouse)["mode"] == "unverified"
    assert "create extension hypopg" in helpers.last_run(warehouse)["notes"]
    # the dashboard lists them with the other findings, with their SQL
    with warehouse.reader() as conn:
        top = dashboard_data.collect(conn).datasets["top_recommendations"].records()
    shown = {r["remediation_sql"] for r in top if r["project"] == "default"}
    assert {r["remediation_sql"] for r in rows} <= shown


@pytest.fixture(params=["pg18", pytest.param("pg15", marks=pytest.mark.pg15)])
def advised_db(request):
    """The fixture on PG 18 (no hypopg) and on PG 15 with hypopg."""
    return request.getfixturevalue("pg18_plain" if request.param == "pg18" else "pg15_hypopg")


def test_default_role_gets_no_advice_and_the_finding_says_so(advised_db, warehouse, monkeypatch):
    """With or without hypopg: the default role may neither plan nor read the statistics."""
    db = advised_db
    demo_db.create_monitoring_role(db.url, PASSWORD)
    monkeypatch.setenv("SUPABASE_DB_URL", db.server.url(db.name, user=demo_db.MONITOR_ROLE, password=PASSWORD))
    helpers.observe_workload(db.url, warehouse)
    assert helpers.advise(warehouse).success
    (row,) = helpers.suggestions(warehouse)
    assert row["name"] == "index_advice_unavailable" and row["remediation_sql"] is None
    assert "aimatrix.grant_explain" in row["detail"] and "keeps working" in row["detail"]
    assert helpers.last_run(warehouse)["mode"] == "unavailable"


@pytest.mark.pg15
def test_opt_in_definer_function_gives_verified_advice_to_the_monitoring_role(pg15_hypopg, warehouse, monkeypatch):
    db = pg15_hypopg
    demo_db.create_monitoring_role(db.url, PASSWORD, grant_explain=True)
    monitor = db.server.url(db.name, user=demo_db.MONITOR_ROLE, password=PASSWORD)
    with psycopg.connect(monitor, autocommit=True) as conn:
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("select count(*) from orders")  # still no table access
        # the function explains one SELECT and nothing else
        for hostile in ("select 1; drop table orders", "delete from orders", "explain analyze select 1",
                        "  with x as (delete from orders returning 1) select 1; select 2"):
            with pytest.raises(psycopg.errors.InvalidParameterValue):
                conn.execute("select aimatrix_monitoring.explain_generic_plan(%s)", (hostile,))
        plan = explain.generic_plan(conn, "select id from orders where customer_id = $1")
        assert plan["Node Type"] == "Seq Scan" and plan["Relation Name"] == "orders"
    assert db.execute("select count(*) from orders")[0][0] == 100_000
    monkeypatch.setenv("SUPABASE_DB_URL", monitor)
    helpers.observe_workload(db.url, warehouse)
    assert helpers.advise(warehouse).success
    _assert_needed_and_no_decoy(helpers.suggestions(warehouse))
    assert helpers.last_run(warehouse)["mode"] == "verified"

    # re-running the script without the setting takes the grant back
    demo_db.create_monitoring_role(db.url, PASSWORD)
    with psycopg.connect(monitor, autocommit=True) as conn:
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("select aimatrix_monitoring.explain_generic_plan('select 1')")


@pytest.mark.fails_check("analytics/index_suggestions:suggestions_well_formed")
def test_suggestions_well_formed_fails_on_a_name_postgres_would_truncate(pg18_plain, warehouse, monkeypatch):
    db = pg18_plain
    monkeypatch.setenv("SUPABASE_DB_URL", db.url)
    # a regressed naming rule: 70 bytes, which PostgreSQL would silently cut to 63
    monkeypatch.setattr(advise_mod, "index_name", lambda c: "i" * 70)
    helpers.observe_workload(db.url, warehouse, rounds=5)
    result = helpers.advise(warehouse, raise_on_error=False)
    (evaluation,) = result.get_asset_check_evaluations()
    assert evaluation.check_name == "suggestions_well_formed" and not evaluation.passed
    assert evaluation.metadata["offending_rows"].value >= 3
    assert "63 bytes" in evaluation.description


def test_apply_refuses_a_suggestion_whose_sql_targets_other_columns(pg18_plain, warehouse, monkeypatch):
    db = pg18_plain
    monkeypatch.setenv("SUPABASE_DB_URL", db.url)
    helpers.observe_workload(db.url, warehouse, rounds=5)
    helpers.advise(warehouse)
    rec = ap.load_recommendation(warehouse, helpers.suggestions(warehouse)[0]["id"])
    assert [a.kind for a in ap.plan(rec)] == ["create_index"]
    rec.remediation_sql = rec.remediation_sql.replace(f'("{rec.metadata["columns"][0]}"', '("status"')
    with pytest.raises(ap.Refused, match="suggestion's columns"):
        ap.plan(rec)
    rec.remediation_sql = 'CREATE INDEX CONCURRENTLY "x" ON "public"."countries" ("name");'
    with pytest.raises(ap.Refused, match="not the finding's table"):
        ap.plan(rec)


def test_hostile_names_never_shape_the_sql_or_the_text(pg18_plain, warehouse, monkeypatch):
    """A table and a column whose names hold a newline, a quote, a bidi override and a comment
    opener: the suggestion still names exactly them, and no raw control character reaches the
    remediation SQL, the title, the detail or the index name."""
    db = pg18_plain
    table, column = 'evil\n"; drop table orders; --', "k\u202e\"ey"
    t, c = '"' + table.replace('"', '""') + '"', '"' + column.replace('"', '""') + '"'
    db.execute(f"create table {t} (id bigint primary key, {c} integer not null)")
    db.execute(f"insert into {t} select g, g % 5000 from generate_series(1, 20000) g")
    db.execute(f"analyze {t}")
    monkeypatch.setenv("SUPABASE_DB_URL", db.url)
    statements = {"hostile": (f"select id from {t} where {c} = %s", lambda i: (i,))}
    helpers.snapshot(warehouse)
    workload.run_workload(db.url, 20, statements)
    helpers.snapshot(warehouse)
    helpers.derive_deltas(warehouse)
    assert helpers.advise(warehouse).success
    (row,) = [r for r in helpers.suggestions(warehouse) if r["object_name"] == table]
    assert row["columns"] == [column]
    for text in (row["remediation_sql"], row["title"], row["detail"], row["index_name"], row["object_key"]):
        assert not advise_mod._UNSAFE.search(text), repr(text)
    assert len(pglast.parse_sql(row["remediation_sql"])) == 1
    assert len(row["index_name"].encode()) <= 63
    rec = ap.load_recommendation(warehouse, row["id"])
    (action,) = ap.plan(rec)
    assert (action.schema, action.table) == ("public", table)
    assert ap.execute(db.url, [action], lock_timeout_ms=5000, statement_timeout_ms=60_000).result == "succeeded"
    assert db.execute("select count(*) from orders")[0][0] == 100_000


def test_the_app_query_log_alone_is_a_workload(pg18_plain, warehouse, monkeypatch):
    """Without pg_stat_statements deltas, the app's query log (literals masked at extract time,
    so the text has $n) names the statements to advise on; a text the parser rejected at extract
    time (a truncated one) never becomes a statement to plan."""
    from aimatrix_pipeline.extract import app_logs
    from aimatrix_pipeline.resources.source_postgres import SourcePostgresResource

    db = pg18_plain
    db.execute("delete from public.query_performance_logs")
    db.execute("insert into public.query_performance_logs (query_hash, query_text, execution_time_ms, created_at) "
               "select 'h1', 'select id, total from orders where customer_id = ' || (g % 977), 40, "
               "now() - interval '1 hour' from generate_series(1, 30) g")
    db.execute("insert into public.query_performance_logs (query_hash, query_text, execution_time_ms, created_at) "
               "select 'h2', 'select id, total from orders where region_id = 4 and', 90, "
               "now() - interval '1 hour' from generate_series(1, 30) g")
    monkeypatch.setenv("SUPABASE_DB_URL", db.url)
    app_logs.extract_app_log("query_performance_logs", SourcePostgresResource(), warehouse, helpers.PROJECT)
    assert helpers.advise(warehouse).success
    rows = helpers.suggestions(warehouse)
    assert helpers.found(rows) == {("public", "orders", ("customer_id",))}
    (query,) = json.loads(rows[0]["metadata"])["queries"]
    assert query["source"] == "app_log" and query["mean_ms"] == 40 and "$1" in query["query"]
    run = helpers.last_run(warehouse)
    assert run["statements"] == 1 and run["explainable"] == 1


def _statements(queries: dict, calls_per_day: float = 10_000.0) -> list[advise_mod.Statement]:
    out = []
    for label, (q, _p) in queries.items():
        n, parts = 0, []
        for part in q.split("%s"):
            n += 1
            parts += [part, f"${n}"]
        out.append(advise_mod.Statement(label, "pg_stat_statements", "".join(parts[:-1]), 100, 5.0, calls_per_day))
    return out


@pytest.mark.pg15
def test_locks_failures_and_write_overhead_leave_a_clean_session(pg15_hypopg):
    """A table locked by someone else hits the lock timeout (that statement is skipped, the run goes
    on); a statement on a table the catalog lacks yields no candidate and is never planned;
    hypothetical indexes and prepared statements are gone from the session afterwards; an index
    whose table writes cost more than it saves is not suggested."""
    db = pg15_hypopg
    statements = _statements({**workload.NEEDED, **workload.DECOYS})
    statements.append(advise_mod.Statement("broken", "pg_stat_statements", "select * from no_such_table where a = $1",
                                           10, 1.0, 100.0))
    settings = advise_mod.AdviceSettings(timeout_ms=300)
    with psycopg.connect(db.url) as locker, psycopg.connect(db.url) as conn:
        locker.execute("lock table order_items in access exclusive mode")
        run = advise_mod.advise(conn, statements, settings, {})
        locker.rollback()
        assert run.mode == "verified" and run.failed == 1 and run.explainable == len(statements), run.notes
        assert run.notes == ["order_items(order_id): not planned (LockNotAvailable)"]
        found = {(s.candidate.table, s.candidate.columns) for s in run.suggestions}
        assert ("orders", ("customer_id",)) in found and not any(t == "order_items" for t, _c in found)
        assert conn.execute("select count(*) from hypopg_list_indexes").fetchone()[0] == 0
        assert conn.execute("select count(*) from pg_prepared_statements").fetchone()[0] == 0

        # the same workload, order_items written 10 M times a day: its index would cost more than it saves
        heavy = advise_mod.advise(conn, statements, advise_mod.AdviceSettings(),
                                  {("public", "order_items"): 1e7, ("public", "orders"): 10.0})
        by_table = {s.candidate.table: s for s in heavy.suggestions}
        assert "order_items" not in by_table
        assert by_table["orders"].writes_per_day == 10.0 and by_table["orders"].write_overhead_ms_per_day > 0
        light = advise_mod.advise(conn, statements, advise_mod.AdviceSettings(), {})
        assert "order_items" in {s.candidate.table for s in light.suggestions}


def test_managed_schemas_and_tiny_tables_get_no_index(pg18_plain):
    db = pg18_plain
    db.execute("create schema if not exists storage")
    db.execute("create table storage.big_objects (id bigint, bucket int)")
    db.execute("insert into storage.big_objects select g, g % 10000 from generate_series(1, 30000) g")
    db.execute("analyze storage.big_objects")
    statements = _statements({"managed": ("select id from storage.big_objects where bucket = %s", None),
                              **workload.NEEDED})
    with psycopg.connect(db.url) as conn:
        run = advise_mod.advise(conn, statements, advise_mod.AdviceSettings(), {})
        tables = {s.candidate.table for s in run.suggestions}
        assert "orders" in tables and "big_objects" not in tables
        # the same table outside a managed schema would get one; under min_rows it would not
        db.execute("alter table storage.big_objects set schema public")
        moved = _statements({"moved": ("select id from big_objects where bucket = %s", None)})
        assert {s.candidate.table for s in advise_mod.advise(conn, moved, advise_mod.AdviceSettings(), {}).suggestions} \
            == {"big_objects"}
        assert advise_mod.advise(conn, moved, advise_mod.AdviceSettings(min_rows=50_000), {}).suggestions == []


@pytest.mark.pg15
def test_one_suggestion_for_an_index_several_fingerprints_need(pg15_hypopg):
    db = pg15_hypopg
    queries = {
        "list": ("select id, total from orders where customer_id = %s", None),
        "count": ("select count(*) from orders where customer_id = %s", None),
        "update": ("update orders set total = total + %s where customer_id = %s", None),
        "join": ("select i.line from orders o join order_items i on i.order_id = o.id where o.customer_id = %s", None),
    }
    statements = _statements(queries, calls_per_day=1000.0)
    with psycopg.connect(db.url) as conn:
        run = advise_mod.advise(conn, statements, advise_mod.AdviceSettings(), {})
    by_index = {(s.candidate.table, s.candidate.columns): s for s in run.suggestions}
    orders = by_index[("orders", ("customer_id",))]
    assert sorted(q.fingerprint for q in orders.queries) == ["count", "join", "list", "update"]
    assert orders.saving_ms_per_day == pytest.approx(sum(1000.0 * 5.0 * q.reduction for q in orders.queries))
    assert run.suggestions[0] is orders  # it serves the most: the highest net benefit
    assert db.execute("select count(*) from orders where total > 1000")[0][0] == 0  # the UPDATE never ran
