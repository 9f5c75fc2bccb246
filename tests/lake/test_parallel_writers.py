"""Parallel writers on one DuckLake catalog: N processes (standing in for N hosts, each its own DuckDB
and no shared file lock) extract N different projects at the same time, twice each; every row lands
exactly once. Data on a shared directory: which data path the files go to does not change what the
catalog decides (the S3 path runs every asset in test_assets_and_cli.py)."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime

import pytest

from tests.conftest import make_source_db
from tests.lake.test_assets_and_cli import PROBE, ROOT, _env

# several full runs in subprocesses: minutes on a loaded 2-core host
pytestmark = [pytest.mark.slow, pytest.mark.timeout(2400)]

WRITERS = 3
TICKS = ["2026-03-01T12:00:00+00:00", "2026-03-01T12:05:00+00:00"]


@pytest.mark.parametrize("lake", ["dir"], indirect=True)
def test_parallel_writer_processes_lose_and_double_nothing(lake, pg18, tmp_path):
    sources = [make_source_db(pg18, f"lake_w{i}") for i in range(WRITERS)]
    try:
        projects = [f"p{i}" for i in range(WRITERS)]
        lines = ["organizations:", "  - {slug: org, plan: pro}", "projects:"]
        env = {**lake.env, "AIMATRIX_PROJECTS_FILE": str(tmp_path / "projects.yaml")}
        for i, (name, db) in enumerate(zip(projects, sources)):
            db.execute("insert into public.error_events (name, message, severity) "
                       "select 'E', 'boom ' || g, 'error' from generate_series(1, %s) g", [10 * (i + 1)])
            lines.append(f"  - {{name: {name}, organization: org, db_url_env: LAKE_W{i}_DB_URL}}")
            env[f"LAKE_W{i}_DB_URL"] = db.url
        (tmp_path / "projects.yaml").write_text("\n".join(lines) + "\n")
        with lake.resource().writer():
            pass  # the catalog exists before the writers race (as after the first deployment)

        procs = [subprocess.Popen([sys.executable, str(PROBE), "extract", name, *TICKS], env=_env(env),
                                  cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for name in projects]
        results = {}
        for name, proc in zip(projects, procs):
            out, err = proc.communicate(timeout=1500)
            assert proc.returncode == 0, err[-4000:]
            results[name] = json.loads(out.strip().splitlines()[-1])["runs"]

        with lake.resource().reader() as conn:
            snapshot_tables = {t for (t,) in conn.execute(
                "select table_name from information_schema.columns where table_schema = 'raw' "
                "and column_name = 'snapshot_at'").fetchall()}
            checked = 0
            for name, runs in results.items():
                assert [r["tick"] for r in runs] == TICKS
                for run in runs:
                    assert run["success"], run["failed"]
                    for table, reported in run["rows"].items():
                        if table not in snapshot_tables or table == "pg_stat_statements_queries":
                            continue
                        stored = conn.execute(f"select count(*) from raw.{table} where project = ? "
                                              "and snapshot_at = ?::timestamptz", [name, run["tick"]]).fetchone()[0]
                        assert stored == reported, (name, run["tick"], table)
                        checked += 1
                # one snapshot per tick and table, nothing from another project's writer
                for table in ("table_stats", "pg_stat_statements_snapshots", "database_stats"):
                    ticks = conn.execute(f"select distinct snapshot_at from raw.{table} where project = ? "
                                         "order by 1", [name]).fetchall()
                    assert [t for (t,) in ticks] == [datetime.fromisoformat(t) for t in TICKS], (name, table)
            assert checked >= WRITERS * len(TICKS) * 5
            logs = dict(conn.execute("select project, count(*) from raw.error_events group by all").fetchall())
            assert logs == {f"p{i}": 10 * (i + 1) for i in range(WRITERS)}
            assert conn.execute("select count(*) - count(distinct (project, id)) from raw.error_events").fetchone()[0] == 0
            doubled = conn.execute("select count(*) from (select project, dbid, queryid from "
                                   "raw.pg_stat_statements_queries group by all having count(*) > 1)").fetchone()[0]
            assert doubled == 0
    finally:
        for db in sources:
            pg18.drop_database(db.name)
