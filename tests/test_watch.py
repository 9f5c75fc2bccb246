"""`aimatrix-pipeline watch` on a plain PostgreSQL, Dagster storage that just works, one-line errors.

Everything runs as a user runs it: the CLI as a subprocess, the real `dagster dev` (webserver +
daemon) with its schedules, Dagster's storage in the embedded PostgreSQL the command starts, or in
a database given by a plain postgresql:// DAGSTER_PG_URL.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import dagster as dg
import duckdb
import psycopg
import pytest

from aimatrix_pipeline.demo.local_postgres import LocalPostgres, free_port
from aimatrix_pipeline.instance_storage import dagster_pg_url
from tests.conftest import _base_dir

ROOT = Path(__file__).resolve().parents[1]
CLI = [sys.executable, "-m", "aimatrix_pipeline.cli"]


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIMATRIX_", "SUPABASE_", "DAGSTER_"))}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
    return {**env, **extra}


@pytest.fixture
def plain_postgres(pg18):
    """A database as a user has it: nothing of ours in it, pg_stat_statements created."""
    name = f"plain_{uuid.uuid4().hex[:8]}"
    url = pg18.create_database(name)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("create extension if not exists pg_stat_statements")
        conn.execute("create table orders (id bigint primary key, total numeric)")
    yield url
    pg18.drop_database(name)


def test_watch_runs_a_schedule_on_a_plain_postgres_and_stops_on_sigint(plain_postgres):
    # not under pytest's tmp_path: the cluster's service user must reach it (see tests/demo)
    data_dir = _base_dir() / f"watch-{uuid.uuid4().hex[:8]}"
    port = free_port()
    env = _env(SUPABASE_DB_URL=plain_postgres, AIMATRIX_STATS_CRON="* * * * *", AIMATRIX_LOGS_CRON="0 0 1 1 *")
    proc = subprocess.Popen([*CLI, "watch", "--data-dir", str(data_dir), "--port", str(port)], env=env,
                            cwd=data_dir.parent, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    cluster = LocalPostgres(data_dir / "pg")
    try:
        deadline = time.monotonic() + 300
        runs: list = []
        while time.monotonic() < deadline and proc.poll() is None:
            time.sleep(3)
            port_file = data_dir / "pg" / "aimatrix_port"
            if not port_file.exists():
                continue
            try:
                with psycopg.connect(f"postgresql://postgres@127.0.0.1:{port_file.read_text()}/dagster",
                                     connect_timeout=3) as conn:
                    runs = conn.execute("select pipeline_name, status from runs").fetchall()
            except psycopg.Error:
                continue  # not created yet
            if ("extract_statistics", "SUCCESS") in runs:
                break
        assert ("extract_statistics", "SUCCESS") in runs, runs
        proc.send_signal(signal.SIGINT)  # what Ctrl-C in the terminal sends to the command
        output, _ = proc.communicate(timeout=150)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            cluster.stop("immediate")
    assert proc.returncode == 0, output[-3000:]
    assert "[watch] stopped" in output
    assert not cluster.is_running()
    with duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True) as conn:
        assert conn.execute("select count(*) from raw.table_stats where project = 'default' "
                            "and relname = 'orders'").fetchone()[0] >= 1
    shutil.rmtree(data_dir, ignore_errors=True)


def _one_line_error(proc: subprocess.CompletedProcess) -> str:
    lines = [line for line in proc.stderr.splitlines() if line.strip() and "Warning" not in line
             and "return Path(self.user_runtime_dir)" not in line]
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    assert len(lines) == 1, lines
    return lines[0]


@pytest.mark.parametrize("command", [["watch"], ["dagster", "--", "instance", "info"]])
def test_missing_database_variable_is_one_line_and_exit_2(command, tmp_path):
    proc = subprocess.run([*CLI, *command, "--data-dir", str(tmp_path / "d")] if command == ["watch"]
                          else [*CLI, "dagster", "--data-dir", str(tmp_path / "d"), *command[1:]],
                          env=_env(), cwd=tmp_path, capture_output=True, text=True, timeout=120)
    line = _one_line_error(proc)
    assert line.startswith("configuration error: SUPABASE_DB_URL is not set")
    assert not (tmp_path / "d" / "pg").exists()  # nothing started


def test_projects_file_without_its_dsn_variable_is_one_line_and_exit_2(tmp_path):
    projects = tmp_path / "projects.yaml"
    projects.write_text("organizations:\n  - slug: acme\n    plan: pro\nprojects:\n  - name: prod-app\n"
                        "    organization: acme\n    db_url_env: PROD_APP_DB_URL\n")
    proc = subprocess.run([*CLI, "watch", "--data-dir", str(tmp_path / "d")], env=_env(AIMATRIX_PROJECTS_FILE=str(projects)),
                          cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert _one_line_error(proc) == ("configuration error: PROD_APP_DB_URL (project prod-app) not set: "
                                     "each project's db_url_env must hold its DSN")


def test_unreachable_dagster_pg_url_is_one_line_without_the_password(tmp_path):
    port = free_port()
    proc = subprocess.run([*CLI, "watch", "--data-dir", str(tmp_path / "d")], cwd=tmp_path, capture_output=True,
                          text=True, timeout=120,
                          env=_env(SUPABASE_DB_URL="postgresql://u@127.0.0.1:1/x",
                                   DAGSTER_PG_URL=f"postgresql://dagster:s3cret-pw@127.0.0.1:{port}/dagster"))
    line = _one_line_error(proc)
    assert line.startswith(f"configuration error: cannot connect to DAGSTER_PG_URL (127.0.0.1:{port}/dagster)")
    assert "s3cret-pw" not in proc.stderr + proc.stdout


def test_dagster_pg_url_names_psycopg2():
    assert dagster_pg_url("postgresql://u:p@h:5432/d") == "postgresql+psycopg2://u:p@h:5432/d"
    assert dagster_pg_url("postgres://u@h/d") == "postgresql+psycopg2://u@h/d"
    assert dagster_pg_url("postgresql+psycopg://u@h/d") == "postgresql+psycopg2://u@h/d"
    assert dagster_pg_url("postgresql+psycopg2://u@h/d") == "postgresql+psycopg2://u@h/d"
    assert dagster_pg_url("postgresql+pg8000://u@h/d") == "postgresql+pg8000://u@h/d"


@pytest.fixture
def plain_url_home(pg18, tmp_path):
    """DAGSTER_HOME with the repository's dagster.yaml and a plain postgresql:// DAGSTER_PG_URL."""
    name = f"dagster_{uuid.uuid4().hex[:8]}"
    url = pg18.create_database(name)
    assert url.startswith("postgresql://")
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copyfile(ROOT / "dagster.yaml", home / "dagster.yaml")
    yield home, url
    pg18.drop_database(name)


def test_plain_postgresql_url_records_runs_and_their_events(plain_url_home, monkeypatch):
    """The NOTIFY that failed under psycopg 3 runs on every event: a materialization proves it."""
    home, url = plain_url_home
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    monkeypatch.setenv("DAGSTER_PG_URL", url)

    @dg.asset
    def one() -> int:
        return 1

    with dg.DagsterInstance.get() as instance:
        result = dg.materialize([one], instance=instance)
    assert result.success
    with psycopg.connect(url) as conn:
        assert conn.execute("select status from runs where run_id = %s", (result.run_id,)).fetchone() == ("SUCCESS",)
    proc = subprocess.run([str(Path(sys.executable).with_name("dagster")), "instance", "info"], cwd=home,
                          env=_env(DAGSTER_HOME=str(home), DAGSTER_PG_URL=url), capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "PostgresRunStorage" in proc.stdout and "Traceback" not in proc.stderr


def test_dagster_passthrough_materializes_on_a_plain_url_instance(plain_url_home, plain_postgres, tmp_path):
    """The command-line backfill form of docs/getting-started.md: `aimatrix-pipeline dagster -- asset materialize ...`."""
    home, url = plain_url_home
    warehouse = tmp_path / "w.duckdb"
    proc = subprocess.run(
        [*CLI, "dagster", "--data-dir", str(tmp_path / "d"), "--", "asset", "materialize", "-m",
         "aimatrix_pipeline.definitions", "--select", "raw/table_stats", "--partition", "default"],
        env=_env(SUPABASE_DB_URL=plain_postgres, DAGSTER_PG_URL=url, AIMATRIX_WAREHOUSE=str(warehouse)),
        cwd=ROOT,  # the checkout, whose dagster.yaml used to be picked up without DAGSTER_PG_URL
        capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    with psycopg.connect(url) as conn:
        assert conn.execute("select count(*) from runs where status = 'SUCCESS'").fetchone()[0] == 1
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        assert conn.execute("select count(*) from raw.table_stats where relname = 'orders'").fetchone()[0] == 1


def test_dagster_dev_in_the_checkout_without_dagster_pg_url_is_one_line_and_exit_2(tmp_path):
    """`dagster dev` picks up the checkout's dagster.yaml (no DAGSTER_HOME): an unset DAGSTER_PG_URL
    is one line naming the variable and the alternative, not Dagster's config traceback."""
    shutil.copy(ROOT / "dagster.yaml", tmp_path / "dagster.yaml")
    shutil.copy(ROOT / "workspace.yaml", tmp_path / "workspace.yaml")
    proc = subprocess.run([str(Path(sys.executable).with_name("dagster")), "dev", "-w", "workspace.yaml",
                           "-p", str(free_port())],
                          env=_env(SUPABASE_DB_URL="postgresql://u@127.0.0.1:1/x"), cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    errors = [line for line in proc.stderr.splitlines() if "error" in line.lower()]
    assert errors == ["configuration error: DAGSTER_PG_URL is not set: this dagster.yaml keeps Dagster's "
                      "storage in PostgreSQL at DAGSTER_PG_URL; set it, or run `aimatrix-pipeline watch` "
                      "(storage in an embedded PostgreSQL)"]
