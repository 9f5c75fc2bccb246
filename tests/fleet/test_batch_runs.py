"""A run that carries many projects (aimatrix_pipeline/shared/batch.py): every healthy project is
materialized as its own partition with its own metadata and check evaluations, a down or slow
source fails only its own partition (a per-project deadline), and no source sees more of our
sessions than its `max_connections`.

The statistics job runs for real against PG 18 sources, in a fresh process that loads the code
location with a projects file (tests/fleet/batch_probe.py), over a range of partitions as a
scheduled shard does.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from aimatrix_pipeline.demo.local_postgres import free_port
from aimatrix_pipeline.resources.warehouse import WarehouseResource

PROBE = Path(__file__).with_name("batch_probe.py")
ROOT = Path(__file__).resolve().parents[2]
SECRET = "s3cret-batch-pw"
pytestmark = pytest.mark.slow  # two code-location loads and a deadline: minutes on a loaded machine
# the rule checks the statistics job runs on its assets (separate checks, partitioned by project)
RULE_CHECKS = ("raw/database_stats:extraction_stale", "raw/activity:long_running_query")


def _probe(env: dict, job: str, first: str, last: str) -> dict:
    full = {k: v for k, v in os.environ.items()
            if k not in ("SUPABASE_DB_URL", "AIMATRIX_STATS_CRON", "AIMATRIX_LOGS_CRON", "DAGSTER_HOME")}
    full.update(env)
    done = subprocess.run([sys.executable, str(PROBE), job, first, last], env=full, cwd=ROOT,
                          capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    assert SECRET not in done.stdout and SECRET not in done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def _projects_file(path: Path, projects: list[tuple[str, str, int]]) -> str:
    lines = ["organizations:", "  - {slug: org-a, plan: pro}", "projects:"]
    lines += [f"  - {{name: {n}, organization: org-a, db_url_env: {e}, max_connections: {m}}}"
              for n, e, m in projects]
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def make_slow(db) -> None:
    """Every read of pg_statio_user_tables (the database_stats snapshot reads it) sleeps a minute:
    a view in `public`, which the database's search_path puts before pg_catalog."""
    with psycopg.connect(db.url, autocommit=True) as conn:
        conn.execute("create view public.pg_statio_user_tables as select s.* "
                     "from pg_catalog.pg_statio_user_tables s, (select pg_sleep(60)) as slow")
        conn.execute(f'alter database "{db.name}" set search_path = public, pg_catalog')


@pytest.fixture(scope="module")
def batch(pg18, tmp_path_factory):
    from tests.conftest import make_source_db

    work = tmp_path_factory.mktemp("batch")
    dbs = {k: make_source_db(pg18, f"batch_{k}") for k in ("a", "b", "shared", "slow")}
    make_slow(dbs["slow"])
    env = {
        "AIMATRIX_WAREHOUSE": str(work / "warehouse.duckdb"),
        "BATCH_A_DB_URL": dbs["a"].url,
        "BATCH_B_DB_URL": dbs["b"].url,
        "BATCH_SHARED_DB_URL": dbs["shared"].url,
        "BATCH_SLOW_DB_URL": dbs["slow"].url,
        "BATCH_DOWN_DB_URL": f"postgresql://postgres:{SECRET}@127.0.0.1:{free_port()}/gone",
        "BATCH_PROBE_WATCH_URL": dbs["a"].url,
        "AIMATRIX_BATCH_WORKERS": "4",
        "AIMATRIX_PROJECT_DEADLINE_S": "15",
        "AIMATRIX_PROJECTS_FILE": _projects_file(work / "projects.yaml", [
            ("b01-a", "BATCH_A_DB_URL", 2),
            ("b02-down", "BATCH_DOWN_DB_URL", 2),
            ("b03-s1", "BATCH_SHARED_DB_URL", 1),
            ("b04-s2", "BATCH_SHARED_DB_URL", 1),
            ("b05-s3", "BATCH_SHARED_DB_URL", 1),
            ("b06-slow", "BATCH_SLOW_DB_URL", 2),
            ("b07-b", "BATCH_B_DB_URL", 2),
        ]),
    }
    with WarehouseResource(path=env["AIMATRIX_WAREHOUSE"]).writer():
        pass  # the schema exists before the runs, as after any first run: the deadlines time the work
    broken = _probe(env, "extract_statistics", "b01-a", "b07-b")
    healthy = _probe({**env, "BATCH_PROBE_TICK": "2026-03-01T12:05:00+00:00"}, "extract_statistics", "b03-s1", "b05-s3")
    yield {"broken": broken, "healthy": healthy, "dbs": dbs}
    for db in dbs.values():
        pg18.drop_database(db.name)


HEALTHY = ["b01-a", "b03-s1", "b04-s2", "b05-s3", "b07-b"]


def test_every_healthy_project_is_its_own_materialized_partition_while_the_broken_ones_fail(batch):
    run = batch["broken"]
    assert not run["success"]
    materialized = run["materialized"]
    assert len(materialized) >= 8  # every statistics asset
    for asset, partitions in materialized.items():
        # each partition's materialization carries its own project's metadata; the down project
        # has none, the slow one none from its slow snapshot on (its source is given up in this run)
        step = f"raw__{asset.split('/')[1]}"
        assert {p: partitions.get(p) for p in HEALTHY} == {p: p for p in HEALTHY}, (asset, run["failures"].get(step))
        assert "b02-down" not in partitions, asset
    assert "b06-slow" not in materialized["raw/database_stats"]
    # every step failed for the down project and, from the slow snapshot on, the slow one: never
    # for a healthy one; each failure names the projects and why
    assert set(run["failures"]) == {f"raw__{a.split('/')[1]}" for a in materialized}
    for step, text in run["failures"].items():
        assert "project(s) failed, the others were materialized" in text, (step, text)
        assert "b02-down: " in text and "$BATCH_DOWN_DB_URL" in text
        assert not any(f"{p}:" in text for p in HEALTHY), (step, text)
    stats = run["failures"]["raw__database_stats"]
    assert "2 of 7 project(s) failed" in stats
    assert "b06-slow: no result within 15s on its source (AIMATRIX_PROJECT_DEADLINE_S)" in stats


def test_the_healthy_projects_checks_are_evaluated_per_partition_in_a_failed_batch(batch):
    checks = batch["broken"]["checks"]
    for name in RULE_CHECKS:
        by_partition = checks[name]
        for project in HEALTHY:
            assert by_partition[project] in ("SUCCEEDED", "FAILED"), (name, project)
        # a failed project's check never reported: the alert sensor reads it as "could not evaluate"
        assert by_partition["b02-down"] == "PLANNED"
    assert checks["raw/database_stats:extraction_stale"]["b06-slow"] == "PLANNED"


def test_a_healthy_batch_succeeds_with_per_partition_checks_and_within_the_connection_cap(batch):
    run = batch["healthy"]
    assert run["success"] and not run["failures"]
    projects = ["b03-s1", "b04-s2", "b05-s3"]
    for asset, partitions in run["materialized"].items():
        assert {p: partitions[p] for p in projects} == {p: p for p in projects}, asset
    for name in RULE_CHECKS:
        assert all(run["checks"][name][p] in ("SUCCEEDED", "FAILED") for p in projects), name
    # the same run derived what the snapshots feed, each project its own partition (checked above)
    assert {"analytics/pg_stat_statements_deltas", "analytics/database_health",
            "analytics/optimization_recommendations"} <= set(run["materialized"])
    # three projects on one source with max_connections 1, four workers: never two sessions at once
    shared = batch["dbs"]["shared"].name
    assert 1 <= run["peak_sessions"].get(shared, 0) <= 1, run["peak_sessions"]
