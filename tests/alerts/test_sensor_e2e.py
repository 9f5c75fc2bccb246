"""End to end on a real Dagster instance: rule check -> sensor -> delivery run -> receivers + warehouse.

Runs once on the default SQLite instance storage and once on Postgres storage (embedded PG 18 +
dagster-postgres), because the sensor must find evaluations on both.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime

import dagster as dg
import pytest

from aimatrix_pipeline.alerts.assets import alert_events, notification_deliveries
from aimatrix_pipeline.alerts.jobs import alert_delivery_job
from aimatrix_pipeline.alerts.sensors import alert_sensor
from aimatrix_pipeline.resources.settings_resource import SettingsResource
from aimatrix_pipeline.shared.rule_checks import build_rule_checks
from aimatrix_pipeline.shared.rules import load_rules

from .conftest import RULES_YAML, make_env

PARTS = dg.StaticPartitionsDefinition(["p1", "p2"])


def _defs(warehouse, rules_path):
    @dg.asset(key=["analytics", "database_health"], partitions_def=PARTS)
    def database_health():
        return None

    @dg.asset(key=["cost", "monthly_cost_report"])
    def monthly_cost_report():
        return None

    @dg.asset_check(asset=monthly_cost_report, name="projected_cost_within_budget", blocking=False)
    def budget(context):
        over = bool(context.run.tags.get("over_budget"))
        return dg.AssetCheckResult(passed=not over, severity=dg.AssetCheckSeverity.WARN,
                                   metadata={"project": "p2", "projected_cost_usd": 250.0})

    rules = load_rules(rules_path)
    return dg.Definitions(
        assets=[database_health, monthly_cost_report, notification_deliveries, alert_events],
        asset_checks=[*build_rule_checks(rules, PARTS), budget],
        jobs=[alert_delivery_job],
        sensors=[alert_sensor],
        resources={"warehouse": warehouse, "settings": SettingsResource()},
    )


def _set_health(warehouse, project, ratio):
    with warehouse.transaction() as conn:
        conn.execute("delete from analytics.database_health where project = ?", [project])
        conn.execute(
            "insert into analytics.database_health (project, snapshot_at, interval_heap_cache_hit_ratio, "
            "index_cache_hit_ratio) values (?, ?, ?, 0.999)",
            [project, datetime.now(UTC), ratio])


def _materialize(defs, instance, keys, partition=None, tags=None):
    job = defs.get_implicit_global_asset_job_def()
    res = job.execute_in_process(instance=instance, partition_key=partition, tags=tags or {},
                                 asset_selection=[dg.AssetKey(k) for k in keys])
    assert res.success


def _tick_and_deliver(defs, instance):
    repo = defs.get_repository_def()
    ctx = dg.build_sensor_context(instance=instance, repository_def=repo, resources={"settings": SettingsResource()})
    result = alert_sensor(ctx)
    if isinstance(result, dg.RunRequest):
        out = defs.get_job_def("alert_delivery_job").execute_in_process(instance=instance, tags=result.tags)
        assert out.success
    return result


def _run_flow(instance, tmp_path, warehouse, http, monkeypatch):
    rules_path = tmp_path / "rules.yaml"
    rules_path.write_text(RULES_YAML.replace("group_interval: 1m", "group_interval: 0s"))
    env = make_env(http)
    env.update({"AIMATRIX_ALERT_RULES": str(rules_path),
                "AIMATRIX_ALERT_STATE": str(tmp_path / "alerts_outbox.sqlite")})
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    defs = _defs(warehouse, rules_path)

    _set_health(warehouse, "p1", 0.42)
    _materialize(defs, instance, [["analytics", "database_health"]], "p1")
    first = _tick_and_deliver(defs, instance)
    assert isinstance(first, dg.RunRequest)
    pd = [r.json() for r in http.on("/pd")]
    assert [(p["event_action"], p["payload"]["severity"]) for p in pd] == [("trigger", "error")]
    assert "0.42" in pd[0]["payload"]["summary"]

    with warehouse.reader() as conn:
        rows = conn.execute("select rule_id, status, severity, metrics, project from alerts.alert_events").fetchall()
    assert len(rows) == 1
    rule_id, status, severity, metrics, project = rows[0]
    assert (rule_id, status, severity, project) == ("cache_hit_ratio_low", "firing", "high", "p1")
    assert json.loads(metrics)["value"] == pytest.approx(0.42)

    # a WARN, non-blocking check of another domain, whose run succeeds
    _materialize(defs, instance, [["cost", "monthly_cost_report"]], tags={"over_budget": "1"})
    # recovery
    _set_health(warehouse, "p1", 0.999)
    _materialize(defs, instance, [["analytics", "database_health"]], "p1")
    _tick_and_deliver(defs, instance)
    pd = [r.json() for r in http.on("/pd")]
    assert [p["event_action"] for p in pd] == ["trigger", "resolve"]
    assert pd[0]["dedup_key"] == pd[1]["dedup_key"]
    with warehouse.reader() as conn:
        events = dict(conn.execute("select rule_id, status from alerts.alert_events").fetchall())
        history = conn.execute("select count(*) from alerts.alert_event_history").fetchone()[0]
        deliveries = conn.execute("select count(*) from alerts.notification_deliveries "
                                  "where status = 'sent'").fetchone()[0]
    assert events == {"cache_hit_ratio_low": "resolved", "projected_cost_over_budget": "firing"}
    assert history >= 4 and deliveries >= 4

    # nothing new: the sensor skips and sends nothing
    before = len(http.attempts)
    again = _tick_and_deliver(defs, instance)
    assert isinstance(again, dg.SkipReason)
    assert len(http.attempts) == before


def test_sensor_on_sqlite_instance_storage(tmp_path, warehouse, http, monkeypatch):
    with dg.instance_for_test() as instance:
        _run_flow(instance, tmp_path, warehouse, http, monkeypatch)


def test_sensor_on_postgres_instance_storage(tmp_path, warehouse, http, monkeypatch, pg18):
    url = pg18.create_database(f"dagster_alerts_{os.getpid()}")
    try:
        # psycopg 3 binds server-side, which breaks dagster-postgres's `NOTIFY run_events, %s`
        url = url.replace("postgresql://", "postgresql+psycopg2://", 1)
        overrides = {"storage": {"postgres": {"postgres_url": url}}}
        with dg.instance_for_test(overrides=overrides) as instance:
            assert type(instance.event_log_storage).__name__ == "PostgresEventLogStorage"
            _run_flow(instance, tmp_path, warehouse, http, monkeypatch)
    finally:
        pg18.drop_database(f"dagster_alerts_{os.getpid()}")


def test_the_code_location_has_the_sensor_running_by_default_and_the_rule_checks():
    from aimatrix_pipeline.definitions import defs

    repo = defs.get_repository_def()
    sensor = repo.get_sensor_def("alert_sensor")
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING
    checks = {f"{k.asset_key.to_user_string()}:{k.name}" for k in repo.asset_graph.asset_check_keys}
    assert {"analytics/database_health:cache_hit_ratio_low", "analytics/slow_queries_summary:slow_query_avg",
            "raw/activity:long_running_query"} <= checks
    assert repo.get_job("alert_delivery_job") is not None
    assert "raw/database_stats:all_projects_extracted_recently" in checks
    assert repo.get_schedule_def("alert_freshness_schedule").default_status == dg.DefaultScheduleStatus.RUNNING
    assert repo.get_job("alert_freshness_job").graph.node_names() == [
        "raw__database_stats_all_projects_extracted_recently"]


def test_the_delivery_run_is_never_held_by_the_warehouse_pool():
    """dagster.yaml enforces pools per run: one pooled step would queue the whole delivery run
    behind every warehouse writer (observed: a page waiting 4.5 min at a 1-minute cadence)."""
    from aimatrix_pipeline.definitions import defs

    job = defs.get_repository_def().get_job("alert_delivery_job")
    pools = {node.name: node.definition.pool for node in job.graph.nodes}
    assert set(pools) == {"alerts__notification_deliveries", "alerts__alert_events"}
    assert all(p is None for p in pools.values()), pools


def test_open_alerts_reach_the_warehouse_and_the_dashboard_with_no_channel_configured(
        tmp_path, warehouse, monkeypatch):
    """No channel variable set: nothing is due for delivery, yet the open alert must show in
    alerts.alert_events (the catalog) and in the dashboard's open alerts."""
    from aimatrix_pipeline.sql_files import load_sql

    rules_path = tmp_path / "rules.yaml"
    rules_path.write_text(RULES_YAML)
    monkeypatch.setenv("AIMATRIX_ALERT_RULES", str(rules_path))
    monkeypatch.setenv("AIMATRIX_ALERT_STATE", str(tmp_path / "alerts_outbox.sqlite"))
    defs = _defs(warehouse, rules_path)
    with dg.instance_for_test() as instance:
        _set_health(warehouse, "p1", 0.42)
        _materialize(defs, instance, [["analytics", "database_health"]], "p1")
        first = _tick_and_deliver(defs, instance)
        assert isinstance(first, dg.RunRequest)
        with warehouse.reader() as conn:
            rows = conn.execute(load_sql("warehouse/dashboard/open_alerts.sql")).fetchall()
        assert [(r[0], r[3], r[6]) for r in rows] == [("p1", "firing", "cache_hit_ratio_low")]
        mat = instance.get_latest_materialization_event(dg.AssetKey(["alerts", "alert_events"]))
        assert mat.asset_materialization.metadata["open_alerts"].value == 1
        # nothing changed since: no further run
        assert isinstance(_tick_and_deliver(defs, instance), dg.SkipReason)


def test_the_sensor_tick_sends_the_page_itself_and_the_run_it_requests_only_mirrors(
        tmp_path, warehouse, http, monkeypatch):
    """A page must not wait for a delivery run's process to start: the tick that applies the
    failing evaluation sends it. The run it requests sends nothing again and mirrors the sent rows
    into alerts.notification_deliveries. With AIMATRIX_ALERT_SENSOR_SEND_S=0 the run sends."""
    rules_path = tmp_path / "rules.yaml"
    rules_path.write_text(RULES_YAML.replace("group_interval: 1m", "group_interval: 0s"))
    env = {**make_env(http), "AIMATRIX_ALERT_RULES": str(rules_path),
           "AIMATRIX_ALERT_STATE": str(tmp_path / "alerts_outbox.sqlite")}
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    defs = _defs(warehouse, rules_path)
    repo = defs.get_repository_def()
    with dg.instance_for_test() as instance:
        _set_health(warehouse, "p1", 0.42)
        _materialize(defs, instance, [["analytics", "database_health"]], "p1")
        ctx = dg.build_sensor_context(instance=instance, repository_def=repo,
                                      resources={"settings": SettingsResource()})
        request = alert_sensor(ctx)
        assert isinstance(request, dg.RunRequest)  # the mirror of what the tick sent
        assert [r.json()["event_action"] for r in http.on("/pd")] == ["trigger"]  # before any run
        assert len(http.on("/slack")) == 1 and len(http.on("/hook")) == 1
        sent_by_tick = len(http.attempts)
        assert defs.get_job_def("alert_delivery_job").execute_in_process(instance=instance, tags=request.tags).success
        assert len(http.attempts) == sent_by_tick
        with warehouse.reader() as conn:
            statuses = conn.execute("select channel, status from alerts.notification_deliveries "
                                    "order by channel").fetchall()
        assert statuses == [("pagerduty", "sent"), ("slack", "sent"), ("webhook", "sent")]
        assert isinstance(alert_sensor(ctx), dg.SkipReason)  # mirrored: nothing left to do

        monkeypatch.setenv("AIMATRIX_ALERT_SENSOR_SEND_S", "0")
        _set_health(warehouse, "p1", 0.999)
        _materialize(defs, instance, [["analytics", "database_health"]], "p1")
        request = alert_sensor(dg.build_sensor_context(instance=instance, repository_def=repo,
                                                       resources={"settings": SettingsResource()}))
        assert isinstance(request, dg.RunRequest) and request.tags["aimatrix/notifications_due"] == "3"
        assert len(http.attempts) == sent_by_tick  # the tick sent nothing
        assert defs.get_job_def("alert_delivery_job").execute_in_process(instance=instance, tags=request.tags).success
        assert [r.json()["event_action"] for r in http.on("/pd")] == ["trigger", "resolve"]
