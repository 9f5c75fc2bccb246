"""Every asset and the warehouse commands, unchanged, against DuckLake (catalog on PostgreSQL 18,
data on S3): the code location is selected by `AIMATRIX_WAREHOUSE` only. S3 only, as the path with
more between the warehouse and its files (httpfs, keys, a server); both data paths' reads, writes
and conflicts are in test_resource.py, and writers on a directory in test_parallel_writers.py. Each
variant of this test costs about two minutes of a CI run kept under half an hour."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from aimatrix_pipeline.demo.local_postgres import free_port

# several full runs in subprocesses: minutes on a loaded 2-core host
pytestmark = [pytest.mark.slow, pytest.mark.timeout(2400)]

ROOT = Path(__file__).resolve().parents[2]
PROBE = Path(__file__).with_name("lake_probe.py")


def _env(extra: dict) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIMATRIX_", "SUPABASE_", "DAGSTER_"))}
    env.update(extra, PYTHONPATH=str(ROOT))
    return env


def run_probe(env: dict, *args: str) -> dict:
    done = subprocess.run([sys.executable, str(PROBE), *args], env=env, cwd=ROOT, capture_output=True,
                          text=True, timeout=1200, check=False)
    assert done.returncode == 0, done.stderr[-4000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def cli(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "aimatrix_pipeline.cli", *args], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=600, check=False)


def _nonempty_tables(conn) -> set[str]:
    tables = conn.execute("select table_schema || '.' || table_name from information_schema.tables "
                          "where table_type = 'BASE TABLE' and table_schema not in ('main', 'information_schema', "
                          "'pg_catalog') and table_catalog not in ('system', 'temp')").fetchall()
    return {t for (t,) in tables if conn.execute(f"select count(*) from {t}").fetchone()[0]}


@pytest.mark.parametrize("lake", ["s3"], indirect=True)
def test_every_asset_and_the_cli_work_unchanged_on_ducklake(lake, source_db18, tmp_path):
    source_db18.execute("insert into public.error_events (name, message, severity) "
                        "select 'E' || g, 'boom ' || g, 'error' from generate_series(1, 25) g")
    common = {"SUPABASE_DB_URL": source_db18.url, "AIMATRIX_DASHBOARD_DIR": str(tmp_path / "dash"),
              "SUPABASE_API_URL": f"http://127.0.0.1:{free_port()}"}  # no API: those assets fail alike
    lake_env = _env({**common, **lake.env})
    on_lake = run_probe(lake_env, "all")
    # the same code location on a single DuckDB file, as the baseline the lake must match
    file_env = _env({**common, "AIMATRIX_WAREHOUSE": str(tmp_path / "warehouse.duckdb")})
    on_file = run_probe(file_env, "all")

    outcome = lambda runs: [(r["partition"], r["assets"], r["success"], sorted(r["failed"])) for r in runs]  # noqa: E731
    assert outcome(on_lake["runs"]) == outcome(on_file["runs"])
    assert sum(len(r["assets"]) for r in on_lake["runs"]) > 30
    with duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True) as conn:
        expected = _nonempty_tables(conn)
    with lake.resource().reader() as conn:
        written = _nonempty_tables(conn)
        assert conn.execute("select count(*) from raw.error_events").fetchone()[0] == 25
    assert {"raw.error_events", "raw.table_stats", "raw.database_stats"} <= written
    assert written == expected
    assert lake.data_files()

    # the commands, unchanged
    done = cli(lake_env, "sql", "select count(*) as n from raw.error_events", "--format", "json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == [{"n": 25}]
    done = cli(lake_env, "sql", "delete from raw.error_events")
    assert done.returncode == 1 and "read" in done.stderr.lower()  # readers are read-only
    for report in (["report", "slow-queries"], ["report", "recommendations"]):
        done = cli(lake_env, *report)
        assert done.returncode == 0, done.stderr
    done = cli(lake_env, "dashboard", "build")
    assert done.returncode == 0, done.stderr
    data = json.loads((tmp_path / "dash" / "data.json").read_text())
    assert data and (tmp_path / "dash" / "index.html").stat().st_size > 1000
    done = cli(lake_env, "publish")
    assert done.returncode == 0, done.stderr
    assert "published" in done.stdout
    with lake.resource().reader() as conn:  # nothing above wrote
        assert conn.execute("select count(*) from raw.error_events").fetchone()[0] == 25
