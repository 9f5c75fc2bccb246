"""Any PostgreSQL can be watched: the jobs the schedules launch, run on each shape of database.

The demo shape runs them through the real command line (`dagster job execute` in a child process
that loads the code location, as the daemon's run workers do); the plain and design-document shapes
run the same jobs of the same definitions in this process (`execute_in_process` on the same
instance), since what differs between shapes is what the assets do, not how the process starts.

Three shapes of monitored database: a plain PostgreSQL (pg_stat_statements, no app log tables),
the design document's exact log tables (no table_name, no model, no error_events) and the
Supabase-like demo. For each: no run fails, absent sources say so in their materialization
metadata, the extract runs derive the analytics they feed without waiting on them (nothing is left
for the automation sensor), and the slow-query summary, regressions, health and recommendations
are derived (from pg_stat_statements alone where the app's query log is absent).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from aimatrix_pipeline.definitions import build_definitions
from aimatrix_pipeline.resources.warehouse import WarehouseResource
from tests.extract.shapes import SHAPES, make_shape, traffic

ROOT = Path(__file__).resolve().parents[2]
PROJECT = "default"
# Analytics assets that read only raw (extract) assets: the extract runs derive every one of them,
# absent app-log sources or not.
FIRST_WAVE = ("pg_stat_statements_deltas", "database_health", "table_health", "vector_health",
              "embedding_stats", "error_stats")


def dagster_cli(env: dict, job: str) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        [sys.executable, "-m", "dagster", "job", "execute", "-m", "aimatrix_pipeline.definitions",
         "-j", job, "--tags", json.dumps({"dagster/partition": PROJECT})],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, f"{job} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc


# the shape whose jobs go through `dagster job execute`; the others run in this process
CLI_SHAPE = "demo"


def run_job(env: dict, job: str, instance: dg.DagsterInstance, defs: dg.Definitions, *, cli: bool) -> None:
    if cli:
        dagster_cli(env, job)
        return
    result = defs.resolve_job_def(job).execute_in_process(instance=instance, partition_key=PROJECT, raise_on_error=False)
    failures = [e.message for e in result.all_events if e.is_failure]
    assert result.success, f"{job} failed: {failures}"


def latest_metadata(instance: dg.DagsterInstance, *path: str) -> dict:
    event = instance.get_latest_materialization_event(dg.AssetKey(list(path)))
    assert event is not None, f"{'/'.join(path)} was never materialized"
    return {k: v.value for k, v in event.asset_materialization.metadata.items()}


@pytest.mark.parametrize("shape", SHAPES)
def test_every_shape_extracts_and_derives(pg18, tmp_path, monkeypatch, shape):
    db = make_shape(pg18, shape)
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    warehouse = tmp_path / "warehouse.duckdb"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIMATRIX_", "DAGSTER_", "SUPABASE_"))}
    env.update(SUPABASE_DB_URL=db.url, AIMATRIX_WAREHOUSE=str(warehouse), DAGSTER_HOME=str(home),
               PYTHONPATH=os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]))
    monkeypatch.setenv("SUPABASE_DB_URL", db.url)
    monkeypatch.setenv("AIMATRIX_WAREHOUSE", str(warehouse))
    cli = shape == CLI_SHAPE
    instance = dg.DagsterInstance.from_config(str(home))
    # built after the environment is set: the warehouse resource is bound from AIMATRIX_WAREHOUSE
    defs = build_definitions()
    try:
        run_job(env, "extract_statistics", instance, defs, cli=cli)

        analytics = dg.AssetSelection.groups("analytics")
        # the automation sensor's first tick only sets its baseline (eager ignores what was
        # missing before it looked); the next extracts are what it reacts to
        baseline = dg.evaluate_automation_conditions(defs=defs, instance=instance, asset_selection=analytics)
        traffic(db)
        run_job(env, "extract_statistics", instance, defs, cli=cli)
        run_job(env, "extract_app_logs", instance, defs, cli=cli)
        # the extract runs derived every analytics table their raw assets feed, absent app-log
        # sources or not, and left nothing for the automation sensor to ask for
        for name in FIRST_WAVE:
            event = instance.get_latest_materialization_event(dg.AssetKey(["analytics", name]))
            assert event is not None, name
            assert instance.get_run_by_id(event.run_id).job_name in ("extract_statistics", "extract_app_logs"), name
        evaluation = dg.evaluate_automation_conditions(defs=defs, instance=instance, asset_selection=analytics,
                                                       cursor=baseline.cursor)
        requested = {key.to_user_string() for key in analytics.resolve(defs.resolve_asset_graph())
                     if evaluation.get_requested_partitions(key)}
        assert requested == set()

        run_job(env, "analytics_job", instance, defs, cli=cli)
        runs = instance.get_runs()
        assert len(runs) == 4 and {r.status for r in runs} == {dg.DagsterRunStatus.SUCCESS}

        statuses = {t: latest_metadata(instance, "raw", t)["source_status"]
                    for t in ("query_performance_logs", "vector_query_logs", "embedding_generation_logs",
                              "error_events")}
        expected = {"plain": {"absent"}, "design_doc": {"present", "absent"}, "demo": {"present"}}[shape]
        assert set(statuses.values()) == expected
        if shape == "design_doc":
            assert statuses["error_events"] == "absent"
            assert "table_name" in latest_metadata(instance, "raw", "vector_query_logs")["columns_absent"]
            assert "model" in latest_metadata(instance, "raw", "embedding_generation_logs")["columns_absent"]
        if shape == "plain":
            note = latest_metadata(instance, "raw", "query_performance_logs")["source_note"]
            assert "no table public.query_performance_logs" in note
        # the rule check on the query log is evaluated, and passes, whether or not the log exists
        # (no permanent "could not evaluate" alert on a plain PostgreSQL)
        key = dg.AssetCheckKey(dg.AssetKey(["raw", "query_performance_logs"]), "query_log_keys_present")
        (latest,) = instance.event_log_storage.get_asset_check_execution_history(key, limit=1)
        assert latest.status.value == "SUCCEEDED"
        assert not latest.event.asset_check_evaluation.metadata.get("aimatrix/could_not_evaluate")

        with WarehouseResource(path=str(warehouse)).reader() as conn:
            def count(table: str, where: str = "") -> int:
                return conn.execute(f"select count(*) from analytics.{table} where project = ? {where}",
                                    [PROJECT]).fetchone()[0]

            assert count("slow_queries_summary", "and source = 'pg_stat_statements'") > 0
            assert count("database_health") > 0
            assert count("optimization_recommendations") > 0
            # one statement shape, logged over the last 30 minutes: one fingerprint (in one or two
            # hour buckets, depending on the time of day the test runs)
            app_shapes = conn.execute("select count(distinct fingerprint) from analytics.slow_queries_summary "
                                      "where project = ? and source = 'app_log'", [PROJECT]).fetchone()[0]
            assert app_shapes == (0 if shape == "plain" else 1)
            logged = conn.execute("select count(*) from raw.vector_query_logs").fetchone()[0]
        assert logged == {"plain": 0, "design_doc": 20, "demo": 20}[shape]
        if shape == "demo":  # every column the extract knows is there
            assert "columns_absent" not in latest_metadata(instance, "raw", "vector_query_logs")
        assert all(latest_metadata(instance, "analytics", name) for name in (
            "slow_queries_summary", "query_regressions", "database_health", "optimization_recommendations"))
    finally:
        instance.dispose()
        pg18.drop_database(db.name)
