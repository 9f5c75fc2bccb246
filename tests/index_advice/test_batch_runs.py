"""Index advice over a shard of projects in one run, as the hourly `advise_indexes` schedule asks
for it: each project is advised under its own partition, with its own metadata and its own
`suggestions_well_formed` result, and a project whose source is down fails alone.

The `index_advice` job runs in a fresh process that loads the code location with a projects file
(tests/fleet/batch_probe.py), over a range of partitions as a scheduled shard does; the workload is
real (PG 18, tests/index_advice/workload.py), observed for two projects that watch the same
database.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from aimatrix_pipeline.demo.local_postgres import free_port
from aimatrix_pipeline.settings import Project
from tests.index_advice import helpers, workload

ROOT = Path(__file__).resolve().parents[2]
PROBE = ROOT / "tests" / "fleet" / "batch_probe.py"
SECRET = "s3cret-advice-pw"
pytestmark = pytest.mark.slow  # a code-location load in a child process

HEALTHY = ("i01-a", "i03-a")
DOWN = "i02-down"


def test_a_range_run_advises_each_project_under_its_own_partition_and_a_down_source_fails_alone(
        pg18_plain, warehouse, monkeypatch, tmp_path):
    shared_db = pg18_plain
    monkeypatch.setenv("ADVICE_A_DB_URL", shared_db.url)
    projects = [Project(name=n, organization="o1", db_url_env="ADVICE_A_DB_URL") for n in HEALTHY]
    for project in projects:
        helpers.snapshot(warehouse, project=project)
    workload.run_workload(shared_db.url, 20)
    for project in projects:
        helpers.snapshot(warehouse, project=project)
        helpers.derive_deltas(warehouse, project=project)
    (tmp_path / "projects.yaml").write_text(
        "organizations:\n  - {slug: o1}\nprojects:\n"
        f"  - {{name: {HEALTHY[0]}, organization: o1, db_url_env: ADVICE_A_DB_URL}}\n"
        f"  - {{name: {DOWN}, organization: o1, db_url_env: ADVICE_DOWN_DB_URL}}\n"
        f"  - {{name: {HEALTHY[1]}, organization: o1, db_url_env: ADVICE_A_DB_URL}}\n")
    env = {k: v for k, v in os.environ.items() if k not in ("SUPABASE_DB_URL", "DAGSTER_HOME")}
    env.update({
        "AIMATRIX_WAREHOUSE": warehouse.path,
        "AIMATRIX_PROJECTS_FILE": str(tmp_path / "projects.yaml"),
        "ADVICE_A_DB_URL": shared_db.url,
        "ADVICE_DOWN_DB_URL": f"postgresql://postgres:{SECRET}@127.0.0.1:{free_port()}/gone",
    })
    done = subprocess.run([sys.executable, str(PROBE), "index_advice", HEALTHY[0], HEALTHY[1]], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    assert SECRET not in done.stdout and SECRET not in done.stderr
    run = json.loads(done.stdout.strip().splitlines()[-1])

    # one run, three partitions: the two healthy projects materialized, each under its own
    # partition with its own metadata; the down one failed alone, named with its cause
    assert run["success"] is False
    assert run["materialized"]["analytics/index_suggestions"] == {p: p for p in HEALTHY}
    (text,) = run["failures"].values()
    assert text.startswith(f"1 of 3 project(s) failed, the others were materialized: {DOWN}: ")
    assert not any(f"{p}:" in text for p in HEALTHY)
    checks = run["checks"]["analytics/index_suggestions:suggestions_well_formed"]
    assert {p: checks.get(p) for p in HEALTHY} == {p: "SUCCEEDED" for p in HEALTHY}
    assert DOWN not in checks or checks[DOWN] != "SUCCEEDED"
    # each healthy project got its own advice: the workload's needed indexes, rows under its name
    with warehouse.reader() as conn:
        cur = conn.execute("select project, object_schema, object_name, columns from analytics.index_suggestions "
                           "where name = 'index_suggestion'")
        rows = cur.fetchall()
    for project in HEALTHY:
        got = {(s, t, tuple(c)) for p, s, t, c in rows if p == project}
        assert workload.EXPECTED <= got, (project, got)
    assert not any(p == DOWN for p, *_ in rows)
