"""The rules file (validation, shipped defaults) and the rule checks on a real DuckDB warehouse."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import dagster as dg
import duckdb
import pytest

from aimatrix_pipeline.alerts.scan import CNE_METADATA_KEY
from aimatrix_pipeline.resources.settings_resource import SettingsResource
from aimatrix_pipeline.resources.warehouse import WarehouseResource
from aimatrix_pipeline.settings import ConfigError
from aimatrix_pipeline.shared import rule_checks as checks_mod
from aimatrix_pipeline.shared.rule_checks import AssetRuleChecks, evaluate_rule
from aimatrix_pipeline.shared.rule_metrics import METRICS
from aimatrix_pipeline.shared.rules import load_rules, parse_rules
from aimatrix_pipeline.sql_files import load_sql

from .conftest import RULES_YAML


def test_every_shipped_rule_is_a_check_of_the_code_location():
    """A rule that reaches no check never alerts: each metric rule must become a check on its
    metric's asset, and each `check:` rule must route a check the code location defines."""
    from aimatrix_pipeline.definitions import defs

    defined = {f"{k.asset_key.to_user_string()}:{k.name}"
               for k in defs.get_repository_def().asset_graph.asset_check_keys}
    for r in load_rules().rules:
        target = f"{METRICS[r.metric].asset_key_str}:{r.id}" if r.metric else r.check
        assert target in defined, f"rule {r.id} reaches no check ({target})"


@pytest.mark.parametrize("change, field", [
    (("operator: \"<\"", "operator: \"=>\""), "'operator'"),
    (("severity: high", "severity: urgent"), "'severity'"),
    (("threshold: 0.99", "threshold: lots"), "'threshold'"),
    (("metric: cache_hit_ratio", "metric: cache_hit_ration"), "'metric'"),
    (("channels: [slack, webhook, pagerduty]", "channels: [slack, teams]"), "'channels'"),
    (("suppression_window: 5m", "suppression_window: soon"), "'suppression_window'"),
    (("fire_after: 3", "fire_after: 0"), "'fire_after'"),
    (("webhook_url_env: T_SLACK_URL", "webhook_url_env: https://hooks.example/x"), "'webhook_url_env'"),
    (("- id: cache_hit_ratio_low", "- id: Cache Hit"), "'id'"),
])
def test_rule_validation_names_the_bad_field(change, field):
    bad = RULES_YAML.replace(*change, 1)
    assert bad != RULES_YAML
    with pytest.raises(ConfigError) as exc:
        parse_rules(bad, "rules.yaml")
    assert field in str(exc.value) and "rules.yaml" in str(exc.value)


def test_missing_title_and_duplicate_id_are_reported():
    with pytest.raises(ConfigError, match="missing required field 'title'"):
        parse_rules(RULES_YAML.replace("    title: Low cache hit ratio\n", "", 1))
    dup = RULES_YAML.replace("- id: slow_query_avg", "- id: cache_hit_ratio_low")
    with pytest.raises(ConfigError, match="duplicate rule id 'cache_hit_ratio_low'"):
        parse_rules(dup)


def test_every_metric_sql_file_binds_against_the_warehouse_schema(warehouse):
    with warehouse.transaction():
        pass  # applies every DDL file
    with warehouse.reader() as conn:
        for metric in METRICS.values():
            cur = conn.execute(load_sql(metric.sql_file), {"project": "nobody"})
            cols = [d[0] for d in cur.description]
            assert cols[0] == "value", metric.name
            rows = cur.fetchall()
            assert len(rows) <= 1
            assert not rows or rows[0][0] in (None, 0), metric.name


@pytest.mark.parametrize("max_connections, reserved, in_use", [(30, 3, 24), (100, None, 85), (3, 3, 1), (60, 3, 0)])
def test_connection_utilisation_rule_agrees_with_analytics_database_health(warehouse, max_connections, reserved,
                                                                           in_use):
    """The rule reads the raw snapshot (so the statistics run judges it); the figure it pages on
    must be the one analytics.database_health shows for the same snapshot."""
    now = datetime.now(UTC)
    with warehouse.transaction() as conn:
        conn.execute("insert into raw.database_stats (project, snapshot_at, datname, max_connections, "
                     "superuser_reserved_connections, conn_total) values ('p1', ?, 'postgres', 50, 3, 1), "
                     "('p1', ?, 'postgres', ?, ?, ?)",
                     [now - timedelta(minutes=5), now, max_connections, reserved, in_use])
    with warehouse.reader() as conn:
        derived = conn.execute(
            f"select connection_utilisation, conn_total, max_connections from "
            f"({load_sql('warehouse/analytics/database_health.sql')}) order by snapshot_at desc limit 1",
            {"project": "p1", "long_running_query_seconds": 300, "sequence_usage_max": 0.8}).fetchone()
        judged = conn.execute(load_sql(METRICS["connection_utilisation"].sql_file), {"project": "p1"}).fetchone()
    assert judged[0] == derived[0] and judged[1:3] == derived[1:3]
    assert judged[0] is None if max_connections == (reserved or 0) else judged[0] == pytest.approx(
        in_use / (max_connections - (reserved or 0)))


def _rules(**over):
    return {r.id: r for r in load_rules().rules}


@pytest.mark.fails_check("analytics/database_health:cache_hit_ratio_low")
@pytest.mark.fails_check("raw/database_stats:connection_utilisation_high")
@pytest.mark.fails_check("raw/activity:long_running_query")
def test_rule_checks_compute_metrics_in_duckdb(warehouse):
    now = datetime.now(UTC)
    with warehouse.transaction() as conn:
        conn.execute("insert into analytics.database_health (project, snapshot_at, interval_heap_cache_hit_ratio, "
                     "connection_utilisation, conn_total, max_connections) values "
                     "('p1', ?, 0.95, 0.9, 90, 100), ('p1', ?, 0.999, 0.1, 10, 100), ('p2', ?, 0.999, 0.5, 50, 100)",
                     [now, now - timedelta(hours=1), now])
        # connection utilisation is judged from the raw snapshot (in the statistics run)
        conn.execute("insert into raw.database_stats (project, snapshot_at, max_connections, "
                     "superuser_reserved_connections, conn_total) values "
                     "('p1', ?, 103, 3, 90), ('p1', ?, 103, 3, 10), ('p2', ?, 103, 3, 50)",
                     [now, now - timedelta(hours=1), now])
        conn.execute("insert into raw.activity (project, snapshot_at, pid, state, query_seconds, query_preview, "
                     "application_name) values ('p1', ?, 7, 'active', 600, 'select pg_sleep(?)', 'app'), "
                     "('p1', ?, 8, 'active', 9000, 'select 1', 'aimatrix_pipeline'), "
                     "('p1', ?, 9, 'idle', 99999, 'x', 'app')", [now, now, now])
    rules = _rules()
    r = evaluate_rule(rules["cache_hit_ratio_low"], warehouse, "p1")
    assert not r.passed and r.metadata["value"].value == pytest.approx(0.95)
    assert r.severity.value == "WARN"  # medium -> WARN
    assert evaluate_rule(rules["cache_hit_ratio_low"], warehouse, "p2").passed
    r = evaluate_rule(rules["connection_utilisation_high"], warehouse, "p1")
    assert not r.passed and r.severity.value == "ERROR" and "90 of 103" in r.description
    assert r.metadata["value"].value == pytest.approx(0.9) and r.metadata["usable_connections"].value == 100
    assert evaluate_rule(rules["connection_utilisation_high"], warehouse, "p2").passed
    r = evaluate_rule(rules["long_running_query"], warehouse, "p1")
    assert not r.passed and r.metadata["value"].value == pytest.approx(10.0) and r.metadata["pid"].value == 7
    # no data passes (an empty project never pages)
    r = evaluate_rule(rules["vector_p95_slow"], warehouse, "p1")
    assert r.passed and r.metadata["no_data"].value is True


def test_a_rule_check_that_cannot_compute_reports_could_not_evaluate(tmp_path):
    # a warehouse file without the analytics schema, and a warehouse that does not exist yet
    path = tmp_path / "bare.duckdb"
    duckdb.connect(str(path)).close()
    rules = _rules()
    for wh in (WarehouseResource(path=str(path)), WarehouseResource(path=str(tmp_path / "missing.duckdb"))):
        r = evaluate_rule(rules["cache_hit_ratio_low"], wh, "p1")
        assert not r.passed and r.severity.value == "WARN"
        assert r.metadata[CNE_METADATA_KEY].value is True
        assert "could not evaluate" in r.description


@pytest.mark.fails_check("raw/database_stats:all_projects_extracted_recently")
def test_fleet_freshness_check_lists_stale_and_never_extracted_projects(warehouse):
    from aimatrix_pipeline.shared.rule_checks import build_fleet_freshness_check

    now = datetime.now(UTC)
    with warehouse.transaction() as conn:
        conn.execute("insert into raw.database_stats (project, snapshot_at) values ('p1', ?), ('p2', ?)",
                     [now - timedelta(minutes=10), now - timedelta(hours=5)])
        conn.execute("insert into raw.extract_state (project, source_table, updated_at) values ('p2', 't', ?)",
                     [now - timedelta(hours=3)])
    rules = _rules()
    check = build_fleet_freshness_check(rules["extraction_stale"], ["p1", "p2", "p3"])
    result = check.node_def.compute_fn.decorated_fn(warehouse=warehouse)
    assert not result.passed
    assert result.metadata["stale_projects"].value == "p2, p3"
    ages = result.metadata["ages_minutes"].value
    assert ages["p3"] is None and 170 < ages["p2"] < 190 and ages["p1"] < 20
    ok = build_fleet_freshness_check(rules["extraction_stale"], ["p1"])
    assert ok.node_def.compute_fn.decorated_fn(warehouse=warehouse).passed
    # the routing rule for it formats from the check's metadata
    stopped = rules["extraction_stopped"]
    assert stopped.format_message({"stale_count": 2, "threshold": 90.0, "stale_projects": "p2, p3"}) == \
        "2 project(s) not extracted within 90 minutes: p2, p3"


def test_rules_as_an_assets_own_check_specs_run_with_it_and_never_fail_it(warehouse, monkeypatch):
    """`AssetRuleChecks`: the shape of the rule checks on analytics assets. The materialization
    carries each rule's result for its partition; a rule that raises becomes "could not evaluate"
    and the asset still materializes."""
    parts = dg.StaticPartitionsDefinition(["p1", "p2"])
    key = dg.AssetKey(["analytics", "database_health"])
    rule_checks = AssetRuleChecks(load_rules(), key, parts)
    assert {s.name for s in rule_checks.specs} == {"cache_hit_ratio_low"}
    assert all(not s.blocking for s in rule_checks.specs)

    @dg.asset(key=key, partitions_def=parts, check_specs=rule_checks.specs)
    def database_health(context, warehouse: WarehouseResource):
        with warehouse.transaction() as conn:
            conn.execute("insert into analytics.database_health (project, snapshot_at, interval_heap_cache_hit_ratio, "
                         "connection_utilisation, conn_total, max_connections) values (?, ?, 0.5, 0.1, 10, 100)",
                         [context.partition_key, datetime.now(UTC)])
        return dg.MaterializeResult(check_results=rule_checks.evaluate(warehouse, context.partition_key))

    defs = dg.Definitions(assets=[database_health], resources={"warehouse": warehouse, "settings": SettingsResource()})
    with dg.DagsterInstance.ephemeral() as instance:  # in memory: no migration history to load
        res = dg.materialize([database_health], instance=instance, partition_key="p1",
                             resources={"warehouse": warehouse, "settings": SettingsResource()})
        assert res.success
        evals = {e.check_name: e for e in res.get_asset_check_evaluations()}
        assert not evals["cache_hit_ratio_low"].passed
        assert {e.partition for e in evals.values()} == {"p1"}
        # the implicit job, as the UI/CLI launch it, cannot leave them out
        job = defs.get_implicit_global_asset_job_def().get_subset(asset_selection={key})
        assert {n for n in job.asset_layer.asset_graph.asset_check_keys} == set(
            dg.AssetCheckKey(key, s.name) for s in rule_checks.specs)

        def boom(*a, **k):
            raise RuntimeError("metric registry broken")

        monkeypatch.setattr(checks_mod, "evaluate_rule", boom)
        res = dg.materialize([database_health], instance=instance, partition_key="p2",
                             resources={"warehouse": warehouse, "settings": SettingsResource()})
        assert res.success
        for e in res.get_asset_check_evaluations():
            assert not e.passed and e.severity == dg.AssetCheckSeverity.WARN
            assert e.metadata[CNE_METADATA_KEY].value is True and "metric registry broken" in e.description


@pytest.mark.fails_check("raw/activity:long_running_query")
@pytest.mark.fails_check("raw/pg_stat_statements:pg_stat_statements_keys_present")
def test_snapshot_rules_judge_the_latest_snapshot_taken_even_an_empty_one(warehouse):
    """A quiet snapshot writes no raw.activity rows; the rule must judge it (and resolve), not
    the last busy snapshot. Same for an empty pg_stat_statements snapshot."""
    busy = datetime.now(UTC) - timedelta(minutes=5)
    quiet = busy + timedelta(minutes=1)
    with warehouse.transaction() as conn:
        conn.execute("insert into raw.activity (project, snapshot_at, pid, state, query_seconds, query_preview, "
                     "application_name) values ('p1', ?, 7, 'active', 900, 'select pg_sleep($1)', 'app')", [busy])
        conn.execute("insert into raw.pg_stat_statements_snapshots (project, snapshot_at, queryid, dbid, userid) "
                     "values ('p1', ?, null, 1, 1)", [busy])
        conn.execute("insert into raw.snapshot_runs values ('p1', 'activity', ?, 1), "
                     "('p1', 'pg_stat_statements', ?, 1)", [busy, busy])
    rules = _rules()
    assert not evaluate_rule(rules["long_running_query"], warehouse, "p1").passed
    assert not evaluate_rule(rules["pg_stat_statements_keys_present"], warehouse, "p1").passed
    with warehouse.transaction() as conn:  # the source went quiet: snapshots with no rows
        conn.execute("insert into raw.snapshot_runs values ('p1', 'activity', ?, 0), "
                     "('p1', 'pg_stat_statements', ?, 0)", [quiet, quiet])
    r = evaluate_rule(rules["long_running_query"], warehouse, "p1")
    assert r.passed and r.metadata["value"].value == 0
    assert r.metadata["snapshot_at"].value.startswith(str(quiet.year))
    r = evaluate_rule(rules["pg_stat_statements_keys_present"], warehouse, "p1")
    assert r.passed and r.metadata["value"].value == 0


def test_a_checks_description_does_not_go_stale_after_a_threshold_edit(warehouse):
    """The UI's description is built when the code location loads; each run reads the rules
    file afresh. A threshold in the description would disagree with what runs judge."""
    before = {r.id: r for r in parse_rules(RULES_YAML).rules}
    after = {r.id: r for r in parse_rules(RULES_YAML.replace("threshold: 1000", "threshold: 2500")).rules}
    assert before["slow_query_avg"].threshold != after["slow_query_avg"].threshold

    def description(rule):
        (spec,) = checks_mod.build_rule_check(rule, None).check_specs
        return spec.description

    assert description(before["slow_query_avg"]) == description(after["slow_query_avg"])
    assert "1000" not in description(before["slow_query_avg"])
    freshness = checks_mod.build_fleet_freshness_check(_rules()["extraction_stale"], ["p1"])
    (spec,) = freshness.check_specs
    assert "90" not in spec.description
    # the evaluation says which threshold it judged
    r = evaluate_rule(after["slow_query_avg"], warehouse, "p1")
    assert r.metadata["threshold"].value == 2500


def _load(conn, table: str, at: datetime) -> None:
    """What every app-log load writes, also one that found nothing new: its time in raw.extract_state."""
    conn.execute("delete from raw.extract_state where project = 'p1' and source_table = ?", [table])
    conn.execute("insert into raw.extract_state values ('p1', ?, ?, 0, ?)", [table, at, at])


@pytest.mark.fails_check("raw/query_performance_logs:query_log_keys_present")
def test_query_log_keys_rule_judges_the_latest_load_and_resolves_when_a_load_brings_nothing(warehouse):
    """A load with keyless rows fires; the next load (here: one that found no new row) resolves.
    Counting every row ever loaded would judge the bad batch forever."""
    busy = datetime.now(UTC) - timedelta(minutes=5)
    quiet = busy + timedelta(minutes=1)
    with warehouse.transaction() as conn:
        conn.execute("insert into raw.query_performance_logs (project, id, query_hash, text_hash, created_at, "
                     "extracted_at) values ('p1', uuid(), 'h1', null, ?, ?), ('p1', uuid(), 'h2', 't2', ?, ?)",
                     [busy, busy, busy, busy])
        _load(conn, "query_performance_logs", busy)
    rule = _rules()["query_log_keys_present"]
    r = evaluate_rule(rule, warehouse, "p1")
    assert not r.passed and r.metadata["value"].value == 1 and r.metadata["rows_checked"].value == 2
    with warehouse.transaction() as conn:  # the source went quiet: the next load found nothing
        _load(conn, "query_performance_logs", quiet)
    r = evaluate_rule(rule, warehouse, "p1")
    assert r.passed and r.metadata["no_data"].value is True and r.metadata["rows_checked"].value == 0
    with warehouse.transaction() as conn:  # a load of good rows passes on its own rows
        good = quiet + timedelta(seconds=30)
        conn.execute("insert into raw.query_performance_logs (project, id, query_hash, text_hash, created_at, "
                     "extracted_at) values ('p1', uuid(), 'h4', 't4', ?, ?)", [good, good])
        _load(conn, "query_performance_logs", good)
    r = evaluate_rule(rule, warehouse, "p1")
    assert r.passed and r.metadata["value"].value == 0 and r.metadata["rows_checked"].value == 1
    with warehouse.transaction() as conn:  # a later load with a keyless row fires again
        later = quiet + timedelta(minutes=1)
        conn.execute("insert into raw.query_performance_logs (project, id, query_hash, text_hash, created_at, "
                     "extracted_at) values ('p1', uuid(), null, 't3', ?, ?)", [later, later])
        _load(conn, "query_performance_logs", later)
    assert not evaluate_rule(rule, warehouse, "p1").passed


@pytest.mark.fails_check("analytics/error_stats:error_rate_spike")
def test_error_spike_rule_resolves_when_the_latest_load_brings_no_error(warehouse):
    """A burst of errors fires; once a load finds no new error (the source is quiet) the rule
    judges that empty load and resolves, although the burst is still inside the 1 h window."""
    from aimatrix_pipeline.analytics import derive

    now = datetime.now(UTC)
    busy, quiet = now - timedelta(minutes=10), now - timedelta(minutes=5)
    with warehouse.transaction() as conn:
        # the usual rate: 24 errors over the day; then a burst of 20 in the last minutes
        conn.execute("insert into raw.error_events (project, id, name, created_at, extracted_at) "
                     "select 'p1', uuid(), 'E', ?::timestamptz - to_hours(i + 2), ? from range(24) t(i)",
                     [busy, busy - timedelta(hours=1)])
        conn.execute("insert into raw.error_events (project, id, name, created_at, extracted_at) "
                     "select 'p1', uuid(), 'Burst', ?::timestamptz - to_seconds(i), ? from range(20) t(i)",
                     [busy, busy])
        _load(conn, "error_events", busy)
        derive.derive(conn, "error_stats", derive.base_params("p1", as_of=busy))
    rule = _rules()["error_rate_spike"]
    r = evaluate_rule(rule, warehouse, "p1")
    assert not r.passed and r.metadata["errors_last_hour"].value == 20 and r.metadata["value"].value > 3
    with warehouse.transaction() as conn:  # quiet: the next load found no error, analytics re-derived
        _load(conn, "error_events", quiet)
        derive.derive(conn, "error_stats", derive.base_params("p1", as_of=quiet))
    r = evaluate_rule(rule, warehouse, "p1")
    assert r.passed and r.metadata["value"].value == 0 and r.metadata["errors_in_latest_load"].value == 0
    assert r.metadata["errors_last_hour"].value == 20  # still in the window: the empty load decides


@pytest.mark.fails_check("analytics/slow_queries_summary:slow_query_avg")
def test_slow_query_rule_judges_the_hour_of_the_latest_snapshot_taken(warehouse):
    """Slow calls in one hour fire; once a later hour's snapshot found no call (quiet source), the
    rule judges that empty hour and resolves instead of the last hour that had rows."""
    hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=3)
    with warehouse.transaction() as conn:
        conn.execute("insert into analytics.slow_queries_summary (project, source, fingerprint, hour_bucket, "
                     "calls, total_time_ms, max_time_ms) values ('p1', 'pg_stat_statements', 'f', ?, 4, 20000, 9000)",
                     [hour])
        conn.execute("insert into raw.snapshot_runs values ('p1', 'pg_stat_statements', ?, 4)",
                     [hour + timedelta(minutes=30)])
    rule = _rules()["slow_query_avg"]
    r = evaluate_rule(rule, warehouse, "p1")
    assert not r.passed and r.metadata["value"].value == 5000
    with warehouse.transaction() as conn:  # the next hour's snapshot: nothing ran
        conn.execute("insert into raw.snapshot_runs values ('p1', 'pg_stat_statements', ?, 0)",
                     [hour + timedelta(minutes=70)])
    r = evaluate_rule(rule, warehouse, "p1")
    assert r.passed and r.metadata["no_data"].value is True
    assert r.metadata["hour_bucket"].value.startswith(str((hour + timedelta(hours=1)).year))


@pytest.mark.fails_check("analytics/slow_queries_summary:slow_query_avg")
def test_slow_query_rule_judges_the_newest_period_so_a_fast_call_after_a_slow_hour_does_not_fire_again(warehouse):
    """Slow calls fire; once the newest pg_stat_statements interval counted no call (but the
    monitoring role's own) and the newest query log load brought no row, the rule resolves; one
    fast statement in the next interval (a DBA's pg_stat_statements_reset()) is judged on its own,
    not on the hour that still holds the slow calls, so it does not fire again."""
    t0 = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=3)
    busy, quiet, one_call = t0 + timedelta(minutes=10), t0 + timedelta(minutes=20), t0 + timedelta(minutes=30)
    with warehouse.transaction() as conn:
        conn.execute("insert into analytics.slow_queries_summary (project, source, fingerprint, hour_bucket, "
                     "calls, total_time_ms, max_time_ms) values ('p1', 'app_log', 'f', ?, 2, 8000, 5000)", [t0])
        conn.execute("insert into raw.pg_stat_statements_info (project, snapshot_at, monitor_userid) "
                     "values ('p1', ?, 99)", [busy])
        for at in (busy, quiet, one_call):
            conn.execute("insert into raw.snapshot_runs values ('p1', 'pg_stat_statements', ?, 3)", [at])
        conn.execute("insert into analytics.pg_stat_statements_intervals (project, snapshot_at, interval_kind) "
                     "values ('p1', ?, 'normal')", [busy])
        # the application's 2 calls of 1.5 s each; the monitoring role's 5 fast ones are left out
        conn.execute("insert into analytics.pg_stat_statements_deltas (project, snapshot_at, userid, calls, "
                     "total_time_ms) values ('p1', ?, 10, 2, 3000), ('p1', ?, 99, 5, 5)", [busy, busy])
        conn.execute("insert into raw.query_performance_logs (project, id, query_hash, text_hash, created_at, "
                     "extracted_at, execution_time_ms) values ('p1', uuid(), 'h', 't', ?, ?, 9000)", [busy, busy])
        _load(conn, "query_performance_logs", busy)
    rule = _rules()["slow_query_avg"]
    r = evaluate_rule(rule, warehouse, "p1")
    assert not r.passed and r.metadata["value"].value == 4000 and r.metadata["calls_in_latest_period"].value == 3
    with warehouse.transaction() as conn:  # quiet: only the monitoring role ran, the log load was empty
        conn.execute("insert into analytics.pg_stat_statements_intervals (project, snapshot_at, interval_kind) "
                     "values ('p1', ?, 'normal')", [quiet])
        conn.execute("insert into analytics.pg_stat_statements_deltas (project, snapshot_at, userid, calls, "
                     "total_time_ms) values ('p1', ?, 99, 5, 5)", [quiet])
        _load(conn, "query_performance_logs", quiet)
    r = evaluate_rule(rule, warehouse, "p1")
    assert r.passed and r.metadata["no_data"].value is True and r.metadata["calls_in_latest_period"].value == 0
    with warehouse.transaction() as conn:  # one fast statement of the application, same hour
        conn.execute("insert into analytics.pg_stat_statements_intervals (project, snapshot_at, interval_kind) "
                     "values ('p1', ?, 'normal')", [one_call])
        conn.execute("insert into analytics.pg_stat_statements_deltas (project, snapshot_at, userid, calls, "
                     "total_time_ms) values ('p1', ?, 10, 1, 2)", [one_call])
    r = evaluate_rule(rule, warehouse, "p1")
    assert r.passed and r.metadata["value"].value == 2 and r.metadata["calls_in_latest_period"].value == 1


@pytest.mark.fails_check("analytics/embedding_stats:embedding_error_rate_high")
def test_embedding_error_rule_resolves_when_the_latest_load_brings_no_generation(warehouse):
    """Failing generations fire; once a load finds no new generation (nothing is generated any
    more) the rule judges that empty load and resolves, although the day's failures remain."""
    from aimatrix_pipeline.analytics import derive

    now = datetime.now(UTC)
    busy, quiet = now - timedelta(minutes=10), now - timedelta(minutes=5)
    with warehouse.transaction() as conn:
        conn.execute("insert into raw.embedding_generation_logs (project, id, model, token_count, "
                     "generation_time_ms, error, created_at, extracted_at) select 'p1', uuid(), 'm', 10, 5, "
                     "case when i < 5 then 'rate limited' end, ?::timestamptz - to_seconds(i), ? from range(10) t(i)",
                     [busy, busy])
        _load(conn, "embedding_generation_logs", busy)
        derive.derive(conn, "embedding_stats", derive.base_params("p1", as_of=busy))
    rule = _rules()["embedding_error_rate_high"]
    r = evaluate_rule(rule, warehouse, "p1")
    assert not r.passed and r.metadata["value"].value == pytest.approx(0.5)
    with warehouse.transaction() as conn:  # quiet: the next load found nothing, analytics re-derived
        _load(conn, "embedding_generation_logs", quiet)
        derive.derive(conn, "embedding_stats", derive.base_params("p1", as_of=quiet))
    r = evaluate_rule(rule, warehouse, "p1")
    assert r.passed and r.metadata["no_data"].value is True
    assert r.metadata["generations_in_latest_load"].value == 0 and r.metadata["errors"].value == 5


@pytest.mark.fails_check("analytics/vector_health:vector_p95_slow")
def test_vector_p95_rule_judges_the_latest_load_and_resolves_when_queries_stop(warehouse):
    """Slow vector queries fire; a later load that brought no vector query (the application went
    quiet) resolves, although the slow queries stay in the log (and in vector_health's p95)."""
    from aimatrix_pipeline.analytics import derive

    busy = datetime.now(UTC) - timedelta(minutes=10)
    quiet, fast = busy + timedelta(minutes=2), busy + timedelta(minutes=4)
    with warehouse.transaction() as conn:
        conn.execute("insert into raw.vector_query_logs (project, id, table_name, query_time_ms, created_at, "
                     "extracted_at) select 'p1', uuid(), 'documents', 400 + i, ?, ? from range(20) t(i)",
                     [busy, busy])
        _load(conn, "vector_query_logs", busy)
        derive.derive(conn, "vector_health", derive.base_params("p1", as_of=busy))
    rule = _rules()["vector_p95_slow"]
    r = evaluate_rule(rule, warehouse, "p1")
    assert not r.passed and r.metadata["value"].value > 400
    with warehouse.transaction() as conn:
        _load(conn, "vector_query_logs", quiet)
        derive.derive(conn, "vector_health", derive.base_params("p1", as_of=quiet))
    r = evaluate_rule(rule, warehouse, "p1")
    assert r.passed and r.metadata["no_data"].value is True and r.metadata["queries"].value == 0
    with warehouse.transaction() as conn:  # fast queries again: judged on their own
        conn.execute("insert into raw.vector_query_logs (project, id, table_name, query_time_ms, created_at, "
                     "extracted_at) values ('p1', uuid(), 'documents', 12, ?, ?)", [fast, fast])
        _load(conn, "vector_query_logs", fast)
        derive.derive(conn, "vector_health", derive.base_params("p1", as_of=fast))
    r = evaluate_rule(rule, warehouse, "p1")
    assert r.passed and r.metadata["value"].value == 12 and r.metadata["vector_table"].value == "documents"


@pytest.mark.fails_check("raw/database_stats:extraction_stale")
def test_extraction_stale_is_judged_on_the_freshness_clock_without_an_extraction(warehouse):
    """The per-project `extraction_stale` rule runs on AIMATRIX_FRESHNESS_CRON: the schedule asks
    for one run per project of a job that only evaluates the check, so an extraction that stopped
    (nothing materializes) is still judged. Right after an extraction the age is about 0."""
    from aimatrix_pipeline.definitions import defs

    job = defs.resolve_job_def("alert_staleness_job")
    planned = {n for n in job.asset_layer.asset_graph.asset_check_keys}
    assert planned == {dg.AssetCheckKey(dg.AssetKey(["raw", "database_stats"]), "extraction_stale")}
    with dg.instance_for_test() as instance:
        repo = defs.get_repository_def()
        schedule = repo.get_schedule_def("alert_staleness_schedule")
        ctx = dg.build_schedule_context(instance=instance, scheduled_execution_time=datetime.now(UTC),
                                        repository_def=repo)
        requests = list(schedule.evaluate_tick(ctx).run_requests)
    assert schedule.job_name == "alert_staleness_job"
    assert [r.tags["dagster/partition"] for r in requests] == ["default"]
    assert "aimatrix/project" not in requests[0].tags  # no source connection: no extraction slot taken

    now = datetime.now(UTC)
    with warehouse.transaction() as conn:
        conn.execute("insert into raw.database_stats (project, snapshot_at) values ('default', ?)",
                     [now - timedelta(hours=3)])
    resources = {"warehouse": warehouse, "settings": SettingsResource()}
    result = job.execute_in_process(tags=requests[0].tags, resources=resources)
    (evaluation,) = result.get_asset_check_evaluations()
    assert not evaluation.passed and evaluation.check_name == "extraction_stale"
    assert evaluation.metadata["value"].value > 170 and evaluation.partition == "default"
    assert not result.get_asset_materialization_events()
    with warehouse.transaction() as conn:  # extraction resumed: the next tick passes
        conn.execute("insert into raw.database_stats (project, snapshot_at) values ('default', ?)", [now])
    (evaluation,) = job.execute_in_process(tags=requests[0].tags, resources=resources).get_asset_check_evaluations()
    assert evaluation.passed


def test_a_rule_check_runs_as_soon_as_its_asset_lands_not_after_the_runs_other_steps(warehouse):
    """Steps run one at a time in process: the rule check on raw/database_stats must come right
    after that snapshot, ahead of the snapshots still to take, so its alert does not wait for them."""
    from aimatrix_pipeline.shared.rule_checks import build_rule_check

    parts = dg.StaticPartitionsDefinition(["p1"])

    def snapshot(key):
        @dg.asset(key=key, partitions_def=parts)
        def _a():
            return None
        return _a

    assets = [snapshot(["raw", "activity"]), snapshot(["raw", "database_stats"]),
              snapshot(["raw", "index_stats"]), snapshot(["raw", "table_stats"])]
    check = build_rule_check(_rules()["connection_utilisation_high"], parts)
    with dg.instance_for_test() as instance:
        res = dg.materialize([*assets, check], partition_key="p1", instance=instance,
                             resources={"warehouse": warehouse})
        assert res.success
        order = [e.step_key for e in res.all_events if e.event_type_value == "STEP_START"]
    assert order.index("raw__database_stats_connection_utilisation_high") == order.index("raw__database_stats") + 1
    assert order.index("raw__database_stats_connection_utilisation_high") < order.index("raw__table_stats")


STALE_RULE_YAML = """
  - id: extraction_stale
    title: Extraction is stale
    message: "No extraction for {value} minutes on {project}"
    metric: extract_age_minutes
    operator: ">"
    threshold: 90
    severity: medium
    channels: [slack]
"""


def test_one_staleness_run_judges_a_shard_each_project_under_its_partition_one_alert_per_stale_project(
        warehouse, harness):
    """A tick of the staleness schedule costs one run per shard of AIMATRIX_BATCH_SIZE projects, not
    one per project: the check-only run carries the shard as partition-range tags, the check judges
    every project of it, each evaluation is recorded under its project's partition, and the alert
    scan opens one alert per stale project (and none for the fresh ones)."""
    from aimatrix_pipeline.alerts.jobs import alert_staleness_job
    from aimatrix_pipeline.alerts.schedules import build_staleness_schedule
    from aimatrix_pipeline.shared.rule_checks import build_rule_check

    projects = ["p1", "p2", "p3", "p4", "p5"]
    parts = dg.StaticPartitionsDefinition(projects)
    stats = dg.AssetSpec(dg.AssetKey(["raw", "database_stats"]), partitions_def=parts)
    check = build_rule_check(_rules()["extraction_stale"], parts)
    defs = dg.Definitions(assets=[stats], asset_checks=[check], jobs=[alert_staleness_job],
                          schedules=[build_staleness_schedule(alert_staleness_job, parts, 3)],
                          resources={"warehouse": warehouse, "settings": SettingsResource()})
    job = defs.resolve_job_def("alert_staleness_job")
    repo = defs.get_repository_def()
    ctx = dg.build_schedule_context(instance=harness.instance, scheduled_execution_time=datetime.now(UTC),
                                    repository_def=repo)
    requests = list(repo.get_schedule_def("alert_staleness_schedule").evaluate_tick(ctx).run_requests)
    # five projects, shards of three: two runs, each over a range of partitions
    assert [(r.tags["dagster/asset_partition_range_start"], r.tags["dagster/asset_partition_range_end"])
            for r in requests] == [("p1", "p3"), ("p4", "p5")]
    assert all("dagster/partition" not in r.tags for r in requests)
    # no extraction slot taken (dagster.yaml's limits per project and per shard): it only reads the warehouse
    assert all("aimatrix/project" not in r.tags and "aimatrix/shard" not in r.tags for r in requests)

    now = datetime.now(UTC)
    ages = {"p1": 5, "p2": 180, "p3": 20, "p4": 300, "p5": 1}  # minutes since the newest snapshot
    with warehouse.transaction() as conn:
        conn.executemany("insert into raw.database_stats (project, snapshot_at) values (?, ?)",
                         [[p, now - timedelta(minutes=m)] for p, m in ages.items()])
    evaluations = {}
    for request in requests:
        result = job.execute_in_process(tags=request.tags, instance=harness.instance)
        assert result.success and not result.get_asset_materialization_events()
        for e in result.get_asset_check_evaluations():
            evaluations[e.partition] = (e.passed, result.run_id)
    assert {p: passed for p, (passed, _) in evaluations.items()} == \
        {"p1": True, "p2": False, "p3": True, "p4": False, "p5": True}
    assert len({run for _, run in evaluations.values()}) == 2  # two runs judged five projects
    # the stored history the alert sensor reads: one evaluation per project, under its partition
    key = dg.AssetCheckKey(dg.AssetKey(["raw", "database_stats"]), "extraction_stale")
    history = harness.instance.event_log_storage.get_asset_check_execution_history(key, limit=20)
    assert sorted(r.partition for r in history) == projects

    harness.rules_text = RULES_YAML + STALE_RULE_YAML
    harness.check_keys = [key]
    harness.tick()
    alerts = harness.store.query("select project, partition, rule_id from incidents order by project")
    assert [tuple(a) for a in alerts] == [("p2", "p2", "extraction_stale"), ("p4", "p4", "extraction_stale")]
