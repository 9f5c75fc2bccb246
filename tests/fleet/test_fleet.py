"""A fleet in one code location: projects come and go with the projects file, failures stay in
their own partition, and every warehouse table can be read across the fleet.

The code location is loaded in a fresh process per projects-file version (tests/fleet/fleet_probe.py),
the way the webserver and daemon load it; the statistics job runs for real against PG 18 sources.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from aimatrix_pipeline.analytics import derive
from aimatrix_pipeline.demo.local_postgres import free_port
from aimatrix_pipeline.resources.warehouse import WarehouseResource
from aimatrix_pipeline.sql_files import load_sql

PROBE = Path(__file__).with_name("fleet_probe.py")
ROOT = Path(__file__).resolve().parents[2]


def _probe(env: dict, partitions: list[str], ticks: str | None = None) -> dict:
    full = {k: v for k, v in os.environ.items()
            if k not in ("SUPABASE_DB_URL", "AIMATRIX_STATS_CRON", "AIMATRIX_LOGS_CRON", "DAGSTER_HOME")}
    full.update(env)
    if ticks:
        full["FLEET_PROBE_TICKS"] = ticks
    done = subprocess.run([sys.executable, str(PROBE), *partitions], env=full, cwd=ROOT,
                          capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def _projects_file(path: Path, projects: list[tuple[str, str, str]]) -> str:
    lines = ["organizations:", "  - {slug: org-a, plan: pro}", "  - {slug: org-b, plan: team}", "projects:"]
    lines += [f"  - {{name: {n}, organization: {o}, db_url_env: {e}}}" for n, o, e in projects]
    path.write_text("\n".join(lines) + "\n")
    return str(path)


@pytest.fixture(scope="module")
def fleet(pg18, tmp_path_factory):
    """Two projects, then the file changes: one removed, one added, one down, one misconfigured."""
    from tests.conftest import make_source_db

    work = tmp_path_factory.mktemp("fleet")
    db_a, db_b = make_source_db(pg18, "fleet_a"), make_source_db(pg18, "fleet_b")
    env = {
        "AIMATRIX_WAREHOUSE": str(work / "warehouse.duckdb"),
        "FLEET_A_DB_URL": db_a.url,
        "FLEET_B_DB_URL": db_b.url,
        "FLEET_DOWN_DB_URL": f"postgresql://postgres:s3cretpw@127.0.0.1:{free_port()}/gone",
    }
    env.pop("FLEET_MISSING_DB_URL", None)
    v1 = _projects_file(work / "v1.yaml", [("p1", "org-a", "FLEET_A_DB_URL"), ("p2", "org-b", "FLEET_B_DB_URL")])
    first = _probe({**env, "AIMATRIX_PROJECTS_FILE": v1}, ["p1", "p2"],
                   ticks="2026-03-01T12:00:00+00:00,2026-03-01T12:05:00+00:00")
    v2 = _projects_file(work / "v2.yaml", [
        ("p1", "org-a", "FLEET_A_DB_URL"),
        ("p3", "org-b", "FLEET_A_DB_URL"),
        ("p-down", "org-a", "FLEET_DOWN_DB_URL"),
        ("p-misconfigured", "org-b", "FLEET_MISSING_DB_URL"),
    ])
    second = _probe({**env, "AIMATRIX_PROJECTS_FILE": v2}, ["p3", "p-down", "p-misconfigured"])
    yield {"first": first, "second": second, "warehouse": WarehouseResource(path=env["AIMATRIX_WAREHOUSE"])}
    for db in (db_a, db_b):
        pg18.drop_database(db.name)


def test_projects_file_decides_partitions_and_schedule(fleet):
    first, second = fleet["first"], fleet["second"]
    assert first["partitions"] == ["p1", "p2"]
    # one run per shard of AIMATRIX_BATCH_SIZE (default 50) consecutive projects: both in one range run
    assert [(r["partition"], r["tags"]["aimatrix/shard"]) for r in first["requests"]] == [(None, "p1..p2")]
    assert all(run["success"] for run in first["runs"].values())

    # p2 removed, p3 (and two broken projects) added: no code change, only the file
    assert second["partitions"] == ["p1", "p3", "p-down", "p-misconfigured"]
    assert [r["tags"]["aimatrix/shard"] for r in second["requests"]] == ["p1..p-misconfigured"]
    assert [(r["tags"]["dagster/asset_partition_range_start"], r["tags"]["dagster/asset_partition_range_end"])
            for r in second["requests"]] == [("p1", "p-misconfigured")]


def test_removed_project_keeps_its_history(fleet):
    with fleet["warehouse"].reader() as conn:
        rows = dict(conn.execute(
            "select project, count(distinct snapshot_at) from raw.pg_stat_statements_snapshots group by 1"
        ).fetchall())
        overview = conn.execute(load_sql("warehouse/fleet/projects_overview.sql")).fetchall()
    assert rows["p2"] == 2 and rows["p1"] == 2 and rows["p3"] == 1
    assert [r[0] for r in overview] == ["p1", "p2", "p3"]


def test_one_broken_project_fails_only_its_partition(fleet):
    runs = fleet["second"]["runs"]
    assert runs["p3"]["success"] and not runs["p3"]["failures"]

    down = runs["p-down"]
    assert not down["success"] and not down["succeeded"]
    assert len(down["failures"]) >= 8  # every snapshot asset failed on its own, with the reason
    for message in down["failures"].values():
        assert "cannot connect to the database in $FLEET_DOWN_DB_URL" in message
        assert "s3cretpw" not in message

    misconfigured = runs["p-misconfigured"]
    assert not misconfigured["success"]
    for message in misconfigured["failures"].values():
        assert "environment variable FLEET_MISSING_DB_URL is not set" in message


def test_fleet_wide_queries(fleet):
    wh = fleet["warehouse"]
    now = datetime(2026, 3, 1, 13, 0, tzinfo=UTC)
    with wh.transaction() as conn:
        for project in ("p1", "p2"):
            params = derive.base_params(project, as_of=now)
            for table in ("pg_stat_statements_intervals", "pg_stat_statements_deltas", "slow_queries_summary"):
                derive.replace_rows(conn, table, params)
        conn.execute(
            "insert into cost.projects (project, organization) values ('p1', 'org-a'), ('p2', 'org-b')"
        )
        conn.execute(
            "insert into cost.cost_breakdown_daily (project, organization, date, line_item, usage, unit, cost_usd, status) "
            "values ('p1', 'org-a', DATE '2026-03-01', 'compute', 24, 'hours', 0.32, 'known'), "
            "       ('p3', 'org-a', DATE '2026-03-01', 'compute', 24, 'hours', 0.32, 'known'), "
            "       ('p2', 'org-b', DATE '2026-03-01', 'compute', 24, 'hours', 2.4, 'known')"
        )
    with wh.reader() as conn:
        top = conn.execute(load_sql("warehouse/fleet/top_slow_queries.sql"),
                           {"since": datetime(2026, 1, 1, tzinfo=UTC), "limit": 20}).fetchall()
        by_org = conn.execute(load_sql("warehouse/fleet/cost_by_organization.sql"),
                              {"since": datetime(2026, 1, 1).date()}).fetchall()
    assert 0 < len(top) <= 20
    assert {r[0] for r in top} == {"p1", "p2"}
    assert {(r[0], r[1]) for r in top} == {("p1", "org-a"), ("p2", "org-b")}
    means = [r[7] for r in top]
    assert means == sorted(means, reverse=True)
    assert [(r[0], r[2], round(r[3], 2), r[4]) for r in by_org] == [("org-b", 1, 2.4, 0), ("org-a", 2, 0.64, 0)]


# Tables about the warehouse itself, not about any project: one row for the whole file.
WAREHOUSE_METADATA = {"raw.schema_version"}


def test_every_table_carries_the_project_or_organization(warehouse):
    with warehouse.writer() as conn:
        tables = conn.execute(
            "select table_schema || '.' || table_name, list(column_name) from information_schema.columns "
            "where table_schema in ('raw', 'analytics', 'cost', 'ops') group by 1"
        ).fetchall()
    assert len(tables) > 30
    missing = [t for t, cols in tables if "project" not in cols and "organization" not in cols
               and t not in WAREHOUSE_METADATA]
    assert missing == []
