"""Every asset check of the code location is seen failing, not only passing.

A check that has only ever passed proves nothing: its SQL could count nothing at all. Each test
marked `@pytest.mark.fails_check("<asset key>:<check name>")` (here or next to its domain's other
tests) builds the failing condition in a real DuckDB warehouse (and a real PostgreSQL source
where the check runs in an extract) and asserts the check fails with the metadata a reader needs.
`test_every_check_in_the_definitions_has_a_failing_test` compares those markers with the checks
of `aimatrix_pipeline.definitions`, so a new check without a failing test fails the suite.

How each shape of check is driven:
- alert-rule checks on raw assets (separate check definitions): invoked as the code location
  defines them, with the project partition, against a warehouse holding the bad rows;
- alert-rule checks on analytics assets (the assets' own specs): the raw rows that breach the
  rule are written, and the real analytics asset from the definitions is materialized;
- data-quality checks of the analytics assets guard invariants the derivations keep, so a correct
  derivation cannot break them: the test adds the rows a regressed derivation would write (after
  the real one ran, in the asset's own transaction) and materializes the real asset;
- `no_rows_from_the_future`: a PostgreSQL source row stamped in the future, extracted by the real
  asset.
"""

from __future__ import annotations

import ast
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import pytest

from aimatrix_pipeline.analytics import derive
from aimatrix_pipeline.definitions import defs
from aimatrix_pipeline.resources.settings_resource import SettingsResource
from tests.extract.helpers import materialize as materialize_extract

TESTS = Path(__file__).parent
PROJECT = "default"  # the code location's only partition without a projects file
MARKER = "fails_check"


def _key(spec: str) -> dg.AssetCheckKey:
    asset, name = spec.split(":")
    return dg.AssetCheckKey(dg.AssetKey(asset.split("/")), name)


def _spec(key: dg.AssetCheckKey) -> str:
    return f"{key.asset_key.to_user_string()}:{key.name}"


def _meta(evaluation) -> dict:
    return {k: v.value for k, v in evaluation.metadata.items()}


def run_rule_check(spec: str, warehouse, partition: str = PROJECT):
    """Invoke the code location's own check definition for one project partition."""
    key = _key(spec)
    (checks_def,) = [c for c in defs.asset_checks if key in c.check_keys]
    # the check yields its result (a run over a range of projects yields one per project)
    (result,) = checks_def(dg.build_op_context(partition_key=partition, resources={"warehouse": warehouse, "settings": SettingsResource()}))
    return result


def code_location_asset(*path: str) -> dg.AssetsDefinition:
    """The asset as the code location defines it (before its resources are bound)."""
    key = dg.AssetKey(list(path))
    (asset,) = [a for a in defs.assets if isinstance(a, dg.AssetsDefinition) and key in a.keys]
    return asset


def materialize_analytics(name: str, warehouse) -> dict:
    """Materialize the code location's analytics asset; its check evaluations by check name."""
    asset = code_location_asset("analytics", name)
    result = dg.materialize([asset], partition_key=PROJECT, resources={"warehouse": warehouse, "settings": SettingsResource()})
    assert result.success
    return {e.check_name: e for e in result.get_asset_check_evaluations()}


def _uuid() -> str:
    return str(uuid.uuid4())


# --- alert-rule checks on raw assets ---------------------------------------------------------


@pytest.mark.fails_check("raw/database_stats:extraction_stale")
def test_extraction_stale_fails_when_the_newest_extraction_is_old(warehouse):
    now = datetime.now(UTC)
    with warehouse.transaction() as conn:
        conn.execute("insert into raw.database_stats (project, snapshot_at) values (?, ?), ('other', ?)",
                     [PROJECT, now - timedelta(hours=3), now])
    result = run_rule_check("raw/database_stats:extraction_stale", warehouse)
    assert not result.passed and result.severity == dg.AssetCheckSeverity.WARN  # medium
    meta = _meta(result)
    assert meta["project"] == PROJECT and meta["aimatrix/rule_id"] == "extraction_stale"
    assert 170 < meta["value"] < 190 and meta["value"] > meta["threshold"]
    assert "No extraction for" in result.description
    # a fresh incremental load counts as an extraction: the same project passes
    with warehouse.transaction() as conn:
        conn.execute("insert into raw.extract_state (project, source_table, updated_at) values (?, 't', ?)",
                     [PROJECT, now])
    assert run_rule_check("raw/database_stats:extraction_stale", warehouse).passed


@pytest.mark.fails_check("raw/pg_stat_statements:pg_stat_statements_keys_present")
def test_statement_snapshot_rows_without_keys_fail_their_check(warehouse):
    now = datetime.now(UTC)
    with warehouse.transaction() as conn:
        # an older snapshot's bad rows no longer count; the newest has one row without queryid
        conn.execute("insert into raw.pg_stat_statements_snapshots (project, snapshot_at, userid, dbid, queryid) "
                     "values (?1, ?2, 10, 5, null), (?1, ?3, 10, 5, 42), (?1, ?3, 10, 5, null), "
                     "(?1, ?3, null, 5, 43)",
                     [PROJECT, now - timedelta(hours=1), now])
    result = run_rule_check("raw/pg_stat_statements:pg_stat_statements_keys_present", warehouse)
    assert not result.passed and result.severity == dg.AssetCheckSeverity.WARN  # low
    meta = _meta(result)
    assert (meta["value"], meta["rows_checked"]) == (2, 3)
    assert "2 pg_stat_statements rows without queryid/dbid/userid" in result.description


@pytest.mark.fails_check("raw/query_performance_logs:query_log_keys_present")
def test_query_log_rows_without_keys_fail_their_check(warehouse):
    now = datetime.now(UTC)
    with warehouse.transaction() as conn:
        conn.executemany("insert into raw.query_performance_logs (project, id, query_hash, text_hash, created_at) "
                         "values (?, ?, ?, ?, ?)",
                         [[PROJECT, _uuid(), "h1", "t1", now], [PROJECT, _uuid(), "h2", None, now],
                          [PROJECT, _uuid(), None, "t3", now], ["other", _uuid(), None, None, now]])
    result = run_rule_check("raw/query_performance_logs:query_log_keys_present", warehouse)
    assert not result.passed
    meta = _meta(result)
    assert (meta["value"], meta["rows_checked"]) == (2, 3) and meta["project"] == PROJECT


# --- alert-rule checks on analytics assets: real raw rows, the real asset -------------------------


@pytest.mark.fails_check("analytics/slow_queries_summary:slow_query_avg")
def test_slow_query_avg_fails_in_the_summary_run(warehouse):
    now = datetime.now(UTC)
    with warehouse.transaction() as conn:
        conn.executemany("insert into raw.query_performance_logs (project, id, query_hash, text_hash, "
                         "execution_time_ms, rows_returned, created_at) values (?, ?, 'h', 't', ?, 1, ?)",
                         [[PROJECT, _uuid(), 4000.0 if i % 2 else 2000.0, now - timedelta(minutes=1)]
                          for i in range(8)])
    evaluation = materialize_analytics("slow_queries_summary", warehouse)["slow_query_avg"]
    assert not evaluation.passed and evaluation.severity == dg.AssetCheckSeverity.ERROR  # high
    meta = _meta(evaluation)
    assert meta["value"] == pytest.approx(3000.0) and meta["calls"] == 8 and meta["max_ms"] == 4000.0
    assert "Average query time is 3000" in evaluation.description


@pytest.mark.fails_check("analytics/embedding_stats:embedding_error_rate_high")
def test_embedding_error_rate_fails_in_the_stats_run(warehouse):
    now = datetime.now(UTC)
    with warehouse.transaction() as conn:
        conn.executemany("insert into raw.embedding_generation_logs (project, id, model, token_count, "
                         "generation_time_ms, error, created_at) values (?, ?, 'm', 10, 5, ?, ?)",
                         [[PROJECT, _uuid(), "rate limited" if i < 2 else None, now] for i in range(10)])
    evaluation = materialize_analytics("embedding_stats", warehouse)["embedding_error_rate_high"]
    assert not evaluation.passed and evaluation.severity == dg.AssetCheckSeverity.ERROR
    meta = _meta(evaluation)
    assert meta["value"] == pytest.approx(0.2) and (meta["errors"], meta["generations"]) == (2, 10)
    assert "2 of 10 embedding generations failed" in evaluation.description


@pytest.mark.fails_check("analytics/error_stats:error_rate_spike")
def test_error_rate_spike_fails_in_the_stats_run(warehouse):
    now = datetime.now(UTC)
    with warehouse.transaction() as conn:
        # 10 errors in the last hour against 12 in the last day: 10 / (12 / 24) = 20x the usual rate
        conn.executemany("insert into raw.error_events (project, id, name, severity, created_at) "
                         "values (?, ?, 'TypeError', 'error', ?)",
                         [[PROJECT, _uuid(), now - timedelta(minutes=5 + i)] for i in range(10)]
                         + [[PROJECT, _uuid(), now - timedelta(hours=5)] for _ in range(2)])
    evaluation = materialize_analytics("error_stats", warehouse)["error_rate_spike"]
    assert not evaluation.passed and evaluation.severity == dg.AssetCheckSeverity.ERROR
    meta = _meta(evaluation)
    assert meta["value"] == pytest.approx(20.0) and meta["errors_last_hour"] == 10
    assert meta["mean_per_hour_24h"] == pytest.approx(0.5)


@pytest.mark.fails_check("analytics/vector_health:vector_p95_slow")
def test_vector_p95_fails_in_the_health_run(warehouse):
    now = datetime.now(UTC)
    with warehouse.transaction() as conn:
        conn.executemany("insert into raw.vector_query_logs (project, id, query_type, table_name, query_time_ms, "
                         "index_used, created_at) values (?, ?, 'similarity', 'documents', ?, true, ?)",
                         [[PROJECT, _uuid(), 500.0, now] for _ in range(20)])
    evaluation = materialize_analytics("vector_health", warehouse)["vector_p95_slow"]
    assert not evaluation.passed and evaluation.severity == dg.AssetCheckSeverity.WARN  # medium
    meta = _meta(evaluation)
    assert meta["value"] == pytest.approx(500.0) and meta["queries"] == 20
    assert "Vector query p95 is 500" in evaluation.description


@pytest.mark.fails_check("analytics/database_health:cache_hit_ratio_low")
def test_cache_hit_ratio_low_judges_the_newest_interval_not_the_cumulative_ratio(warehouse):
    """Months of hits keep the cumulative ratio near 1; the newest interval read 900 of 1000 heap
    blocks from outside shared buffers. A reset inside an interval counts from the reset."""
    now = datetime.now(UTC)
    start = now - timedelta(days=90)
    rows = [  # (snapshot_at, heap_blks_hit, heap_blks_read, stats_reset)
        (now - timedelta(minutes=10), 10_000_000, 1_000, start),
        (now - timedelta(minutes=5), 10_000_100, 1_900, start),   # 100 hit, 900 read
    ]
    with warehouse.transaction() as conn:
        conn.executemany("insert into raw.database_stats (project, snapshot_at, datname, heap_blks_hit, heap_blks_read, "
                         "stats_reset, max_connections, conn_total) values (?, ?, 'app', ?, ?, ?, 100, 5)",
                         [[PROJECT, *r] for r in rows])
    evaluation = materialize_analytics("database_health", warehouse)["cache_hit_ratio_low"]
    assert not evaluation.passed and evaluation.severity == dg.AssetCheckSeverity.WARN  # medium
    meta = _meta(evaluation)
    assert meta["value"] == pytest.approx(0.1) and (meta["blocks_hit"], meta["blocks_read"]) == (100, 900)
    assert meta["cumulative_ratio"] > 0.99
    assert "900 heap blocks read" in evaluation.description
    # the next interval follows a statistics reset: 500 hits since it, nothing read -> passes
    with warehouse.transaction() as conn:
        conn.execute("insert into raw.database_stats (project, snapshot_at, datname, heap_blks_hit, heap_blks_read, "
                     "stats_reset, max_connections, conn_total) values (?, ?, 'app', 500, 0, ?, 100, 5)",
                     [PROJECT, now, now - timedelta(minutes=1)])
    evaluation = materialize_analytics("database_health", warehouse)["cache_hit_ratio_low"]
    assert evaluation.passed and _meta(evaluation)["value"] == 1.0 and _meta(evaluation)["blocks_hit"] == 500


@pytest.mark.fails_check("analytics/pg_stat_statements_deltas:statements_evicted")
def test_statements_evicted_fails_when_the_newest_intervals_evicted_statements(warehouse):
    """An eviction is an event: a check that runs two snapshots late (its analytics run queued
    while two more snapshots landed) still sees it; the third quiet interval resolves it."""
    now = datetime.now(UTC)
    started = now - timedelta(days=3)
    info = ("insert into raw.pg_stat_statements_info (project, snapshot_at, dbid, dealloc, stats_reset, "
            "postmaster_start_time, statements_max, statements_count) values (?, ?, 5, ?, ?, ?, 500, ?)")
    with warehouse.transaction() as conn:
        # dealloc 4 -> 4 (nothing evicted), then 4 -> 10: six evictions in the newest interval
        conn.executemany(info, [[PROJECT, now - timedelta(minutes=10), 4, started, started, 480],
                                [PROJECT, now - timedelta(minutes=5), 4, started, started, 490],
                                [PROJECT, now, 10, started, started, 500]])
    evaluation = materialize_analytics("pg_stat_statements_deltas", warehouse)["statements_evicted"]
    assert not evaluation.passed and evaluation.severity == dg.AssetCheckSeverity.WARN  # low
    meta = _meta(evaluation)
    assert (meta["value"], meta["statements_max"], meta["statements_count"]) == (6, 500, 500)
    assert "evicted 6 statements" in evaluation.description
    for k in (1, 2, 3):  # quiet intervals; until the third, the eviction is still among the newest three
        with warehouse.transaction() as conn:
            conn.execute(info, [PROJECT, now + timedelta(minutes=5 * k), 10, started, started, 500])
        evaluation = materialize_analytics("pg_stat_statements_deltas", warehouse)["statements_evicted"]
        assert evaluation.passed == (k == 3), k
        assert _meta(evaluation)["value"] == (0 if k == 3 else 6)


# --- data-quality checks of the analytics assets: a regressed derivation ----------------------

# What a regressed derivation would leave behind, per table (parameters: $project).
REGRESSIONS = {
    "pg_stat_statements_deltas": [
        "insert into analytics.pg_stat_statements_deltas (project, snapshot_at, queryid, calls, total_time_ms, "
        "rows, shared_blks_hit, shared_blks_read) values ($project, now(), 1, 3, 10, -5, 0, 0), "
        "($project, now(), 2, 0, 10, 1, 0, 0), ($project, now(), 3, 2, 10, 1, 0, 0)",
    ],
    "slow_queries_summary": [
        "insert into analytics.slow_queries_summary (project, source, fingerprint, calls, share_of_total_time) "
        "values ($project, 'app_log', 'f1', 3, 1.5), ($project, 'app_log', 'f2', 3, 0.5)",
    ],
    "optimization_recommendations": [
        # the same id twice, and a score outside 1..10
        "insert into analytics.optimization_recommendations (project, id, name, impact, effort, first_seen, "
        "last_seen) values ($project, 'dup', 'x', 5, 5, now(), now()), ($project, 'dup', 'x', 5, 5, now(), now()), "
        "($project, 'ok', 'y', 11, 5, now(), now())",
    ],
}


@pytest.fixture
def regressed_derivation(monkeypatch):
    """`derive.derive` as a broken release would run it: the real derivation, then bad rows."""
    real = derive.derive

    def broken(conn, table, params):
        count = real(conn, table, params)
        for sql in REGRESSIONS.get(table, ()):
            conn.execute(sql, {"project": params["project"]})
        return count

    monkeypatch.setattr(derive, "derive", broken)


@pytest.mark.parametrize("asset, check, offending", [
    pytest.param("pg_stat_statements_deltas", "deltas_never_negative", 2,
                 marks=pytest.mark.fails_check("analytics/pg_stat_statements_deltas:deltas_never_negative")),
    pytest.param("slow_queries_summary", "shares_within_one", 1,
                 marks=pytest.mark.fails_check("analytics/slow_queries_summary:shares_within_one")),
    pytest.param("optimization_recommendations", "recommendations_well_formed", 2,
                 marks=pytest.mark.fails_check(
                     "analytics/optimization_recommendations:recommendations_well_formed")),
])
def test_data_quality_check_fails_when_the_derivation_regresses(warehouse, regressed_derivation, asset,
                                                                check, offending):
    evaluation = materialize_analytics(asset, warehouse)[check]
    assert not evaluation.passed and evaluation.severity == dg.AssetCheckSeverity.ERROR
    assert _meta(evaluation) == {"offending_rows": offending, "project": PROJECT}


# --- no_rows_from_the_future on every app log ---------------------------------------------------

FUTURE_ROW = {
    "vector_query_logs": "insert into public.vector_query_logs (query_type, table_name, query_time_ms, created_at) "
                         "values ('similarity', 'documents', 5, {at})",
    "embedding_generation_logs": "insert into public.embedding_generation_logs (model, token_count, created_at) "
                                 "values ('m', 10, {at})",
    "error_events": "insert into public.error_events (name, severity, message, created_at) "
                    "values ('TypeError', 'error', 'x', {at})",
}


@pytest.mark.parametrize("table", [
    pytest.param("vector_query_logs",
                 marks=pytest.mark.fails_check("raw/vector_query_logs:no_rows_from_the_future")),
    pytest.param("embedding_generation_logs",
                 marks=pytest.mark.fails_check("raw/embedding_generation_logs:no_rows_from_the_future")),
    pytest.param("error_events", marks=pytest.mark.fails_check("raw/error_events:no_rows_from_the_future")),
])
def test_future_rows_check_fails_on_every_app_log(source_db18, warehouse, monkeypatch, table):
    # (query_performance_logs: tests/hostile/test_source_rows.py)
    monkeypatch.setenv("SUPABASE_DB_URL", source_db18.url)
    source_db18.execute(f"delete from public.{table}")
    source_db18.execute(FUTURE_ROW[table].format(at="timestamptz '2999-01-01 00:00:00+00'"))
    source_db18.execute(FUTURE_ROW[table].format(at="now()"))
    asset = code_location_asset("raw", table)
    result = materialize_extract([asset], warehouse)
    (evaluation,) = [e for e in result.get_asset_check_evaluations() if e.check_name == "no_rows_from_the_future"]
    assert not evaluation.passed and evaluation.severity == dg.AssetCheckSeverity.WARN
    meta = _meta(evaluation)
    assert meta["rows_from_the_future"] == 1 and meta["project"] == PROJECT
    assert f"1 row(s) of public.{table}" in evaluation.description
    with warehouse.reader() as conn:
        assert conn.execute("select count(*) from raw.quarantine where source_table = ? and reason = "
                            "'future_created_at'", [table]).fetchone()[0] == 1


# --- the registry ------------------------------------------------------------------------------


def failing_tests_by_check() -> dict[str, list[str]]:
    """`<asset key>:<check>` -> the tests that carry `pytest.mark.fails_check(...)` for it, read
    from the test sources (so the registry is the markers on the tests themselves)."""
    found: dict[str, list[str]] = {}
    for path in sorted(TESTS.rglob("test_*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr == MARKER):
                arg = node.args[0] if node.args else None
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                    found.setdefault(arg.value, []).append(f"{path.relative_to(TESTS.parent)}:{node.lineno}")
                else:
                    raise AssertionError(f"{path}:{node.lineno}: {MARKER} needs a literal check name")
    return found


def test_every_check_in_the_definitions_has_a_failing_test():
    defined = {_spec(k) for k in defs.get_repository_def().asset_graph.asset_check_keys}
    covered = failing_tests_by_check()
    assert defined - set(covered) == set(), "asset checks no test ever sees failing (mark one fails_check)"
    assert set(covered) - defined == set(), "fails_check names a check the definitions do not have"
