"""`aimatrix-pipeline demo`, end to end, as a user runs it (real subprocesses), on one data dir.

First run (--no-ui): creates the cluster, seeds, drives traffic, materializes every asset once with
Dagster's storage in the embedded PostgreSQL, prints row counts, stops the cluster. Second run:
reuses everything (no re-seed, same monitoring password, same Dagster history). Then SIGTERM
mid-workload, and the UI mode on the reused storage with Ctrl-C.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import duckdb
import psycopg
import pytest

from aimatrix_pipeline.demo import runner
from aimatrix_pipeline.demo.local_postgres import LocalPostgres, free_port
from tests.conftest import _base_dir

DEMO_ARGS = ("--no-ui", "--scale", "0.05", "--seed", "4")


def _run_demo(data_dir: Path, *extra: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIMATRIX_", "SUPABASE_", "DAGSTER_"))}
    return subprocess.run(
        [sys.executable, "-m", "aimatrix_pipeline.cli", "demo", "--data-dir", str(data_dir), *DEMO_ARGS, *extra],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        check=False,  # the tests assert on the exit code themselves
    )


def _explain(proc: subprocess.CompletedProcess) -> str:
    failures = [line for line in proc.stderr.splitlines() if "Error" in line or "FAILED" in line]
    return (proc.stdout[-3000:] + "\n--- errors ---\n" + "\n".join(dict.fromkeys(failures))[-3000:]
            + "\n--- stderr tail ---\n" + proc.stderr[-1500:])


@pytest.fixture(scope="module")
def two_runs():
    # Not under pytest's tmp_path: a concurrent pytest session resets /tmp/pytest-of-<user> to
    # 0700, which would lock the cluster's service user out (the conftest clusters avoid it too).
    data_dir = _base_dir() / f"demo-{uuid.uuid4().hex[:8]}"
    first = _run_demo(data_dir, "--duration", "2")
    after_first = _state(data_dir)
    # the second start only reuses (the UI test then starts Dagster on the reused storage)
    second = _run_demo(data_dir, "--duration", "1", "--no-materialize")
    after_second = _state(data_dir)
    yield data_dir, first, after_first, second, after_second
    shutil.rmtree(data_dir, ignore_errors=True)


def _state(data_dir: Path) -> dict:
    """What the data dir holds after a run; the cluster must be stopped by then."""
    pg = LocalPostgres(data_dir / "pg")
    state = {"running_after_exit": pg.is_running()}
    pg.start()
    try:
        with psycopg.connect(pg.url(runner.DEMO_DATABASE)) as conn:
            state["comment"] = conn.execute(
                "select shobj_description(oid, 'pg_database') from pg_database where datname = current_database()"
            ).fetchone()[0]
            state["customers"] = conn.execute("select count(*) from app.customers").fetchone()[0]
        with psycopg.connect(pg.url(runner.DAGSTER_DATABASE)) as conn:
            state["runs"] = conn.execute("select count(*) from runs").fetchone()[0]
    finally:
        pg.stop()
    state["password"] = (data_dir / runner.PASSWORD_FILE).read_text()
    state["password_mode"] = stat.S_IMODE((data_dir / runner.PASSWORD_FILE).stat().st_mode)
    return state


def _warehouse(data_dir: Path, query: str):
    with duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True) as conn:
        return conn.execute(query).fetchall()


def test_first_run_seeds_materializes_and_stops(two_runs):
    _data_dir, first, state, _, _ = two_runs
    assert first.returncode == 0, _explain(first)
    assert "[demo] seeding supabase_demo" in first.stdout
    assert "raw.pg_stat_statements_snapshots" in first.stdout  # the row-count report
    assert state["running_after_exit"] is False
    assert state["comment"].startswith(runner.SEED_MARKER)
    assert state["password_mode"] == 0o600
    assert state["runs"] >= 1  # Dagster's run storage is the embedded PostgreSQL


def test_first_run_fills_the_warehouse(two_runs):
    data_dir, first, _, _, _ = two_runs
    assert first.returncode == 0, _explain(first)
    for table in ("raw.pg_stat_statements_snapshots", "raw.table_stats", "raw.index_stats",
                  "raw.query_performance_logs", "raw.vector_indexes"):
        assert _warehouse(data_dir, f"select count(*) from {table}")[0][0] > 0, table
    # the workload's slow report reached the warehouse through pg_stat_statements
    slow = _warehouse(
        data_dir,
        "select max(mean_exec_time) from raw.pg_stat_statements_snapshots s "
        "join raw.pg_stat_statements_queries q using (project, dbid, queryid) "
        "where q.query_preview ilike '%pg_sleep%'",
    )[0][0]
    assert slow is not None and slow > 1000


def test_first_run_prices_the_month_so_far_and_reports_the_unused_index(two_runs):
    """The demo prices this month's finished days when it starts (not at the next 02:15 UTC), so
    its report has no day missing; and the deliberately unused index is big enough to report."""
    data_dir, first, _, _, _ = two_runs
    assert first.returncode == 0, _explain(first)
    today = dt.datetime.now(dt.UTC).date()
    month = today.replace(day=1)
    days = _warehouse(data_dir, f"select count(distinct usage_date) from raw.usage_daily "
                                f"where usage_date >= date '{month}' and usage_date < date '{today}'")[0][0]
    assert days == today.day - 1
    if today.day > 1:
        assert f"[demo] pricing {month}..{today - dt.timedelta(days=1)} (this month so far)" in first.stdout
    report = _warehouse(data_dir, f"select line_item, missing_days from cost.monthly_cost_report "
                                  f"where month = date '{month}'")
    assert report and all(missing == 0 for _, missing in report)
    assert "usage_not_extracted" not in {item for item, _ in report}
    found = _warehouse(data_dir, "select name, object_name from analytics.optimization_recommendations "
                                 "where object_name = 'orders_note_idx'")
    assert ("unused_index", "orders_note_idx") in found


def test_second_run_reuses_everything(two_runs):
    data_dir, _first, after_first, second, after_second = two_runs
    assert second.returncode == 0, _explain(second)
    assert "[demo] reusing the seeded database supabase_demo" in second.stdout
    assert "[demo] seeding" not in second.stdout
    assert after_second["comment"] == after_first["comment"]  # same seed marker, same anchor
    assert after_second["customers"] == after_first["customers"]
    assert after_second["password"] == after_first["password"]
    assert after_second["runs"] == after_first["runs"]  # Dagster's history kept
    assert after_second["running_after_exit"] is False
    # the warehouse from the first run is still there and still reported
    assert _warehouse(data_dir, "select count(*) from raw.pg_stat_statements_snapshots")[0][0] > 0
    assert "raw.pg_stat_statements_snapshots" in second.stdout


SCHEDULES_QUERY = """
{ workspaceOrError { ... on Workspace { locationEntries { locationOrLoadError {
    ... on RepositoryLocation { repositories { schedules { name scheduleState { status } } } } } } } } }
"""


def _schedule_states(port: int) -> dict[str, str]:
    """Schedule name -> status, as the UI shows it (through the webserver's GraphQL API)."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql",
        data=json.dumps({"query": SCHEDULES_QUERY}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as resp:
        doc = json.load(resp)
    states = {}
    for entry in doc["data"]["workspaceOrError"]["locationEntries"]:
        location = entry.get("locationOrLoadError") or {}
        for repo in location.get("repositories", []):
            for schedule in repo["schedules"]:
                states[schedule["name"]] = schedule["scheduleState"]["status"]
    return states


def test_ui_mode_serves_dagster_with_schedules_on_and_stops_on_ctrl_c(two_runs):
    """The default mode: the UI answers with every schedule RUNNING, and SIGINT (what Ctrl-C
    sends) stops the UI and the cluster and exits 0."""
    data_dir = two_runs[0]
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIMATRIX_", "SUPABASE_", "DAGSTER_"))}
    log_path = data_dir / "ui.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "aimatrix_pipeline.cli", "demo", "--data-dir", str(data_dir),
             "--port", str(port), "--no-workload"],
            stdout=log, stderr=subprocess.STDOUT, text=True, env=env,
        )
        try:
            deadline = time.monotonic() + 150
            states: dict[str, str] = {}
            while time.monotonic() < deadline and proc.poll() is None:
                time.sleep(1)
                try:
                    states = _schedule_states(port)
                except (OSError, KeyError, TypeError, ValueError):
                    continue
                if states:
                    break
            assert states, log_path.read_text(errors="replace")[-3000:]
            assert set(states.values()) == {"RUNNING"}, states
            proc.send_signal(signal.SIGINT)
            assert proc.wait(90) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
    output = log_path.read_text(errors="replace")
    assert "[demo] reusing the seeded database supabase_demo" in output
    assert "[demo] stopped;" in output
    if dt.datetime.now(dt.UTC).day > 1:  # the month so far is priced before the UI starts
        assert "(this month so far) ..." in output
        # the demo's own lines (a failed pricing run says "run <id> FAILED"); Dagster's gRPC
        # status names (UNAVAILABLE, FAILED_PRECONDITION) in its own log lines are not a run's result
        assert not [line for line in output.splitlines() if line.startswith("[demo]") and "FAILED" in line]
    with pytest.raises(OSError):
        urllib.request.urlopen(f"http://127.0.0.1:{port}/server_info", timeout=2)
    assert not LocalPostgres(data_dir / "pg").is_running()


def test_a_half_made_demo_database_is_redone_and_a_seeded_one_kept(pg18):
    """An interrupted first start leaves a database without the seed marker: the next start drops
    and reseeds it; once the marker is there, starts keep the data."""
    out = io.StringIO()
    pg18.drop_database(runner.DEMO_DATABASE)
    pg18.create_database(runner.DEMO_DATABASE)
    with psycopg.connect(pg18.url(runner.DEMO_DATABASE), autocommit=True) as conn:
        conn.execute("create table half_seeded (x int)")
    try:
        assert runner.ensure_demo_database(pg18, scale=0.01, seed=1, out=out) is True
        assert runner.is_seeded(pg18)
        with psycopg.connect(pg18.url(runner.DEMO_DATABASE), autocommit=True) as conn:
            assert conn.execute("select to_regclass('half_seeded')").fetchone()[0] is None
            conn.execute("insert into app.products (sku, name, price_cents) values ('KEEP-ME', 'kept', 1)")
        assert runner.ensure_demo_database(pg18, scale=0.01, seed=1, out=out) is False
        with psycopg.connect(pg18.url(runner.DEMO_DATABASE)) as conn:
            kept = conn.execute("select count(*) from app.products where sku = 'KEEP-ME'").fetchone()[0]
        assert kept == 1
        assert "reusing the seeded database" in out.getvalue()
    finally:
        pg18.drop_database(runner.DEMO_DATABASE)


def test_sigterm_during_the_workload_stops_everything(two_runs):
    """SIGTERM (what a service manager sends) mid-run: workload and cluster stop, exit code 130."""
    data_dir = two_runs[0]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIMATRIX_", "SUPABASE_", "DAGSTER_"))}
    log_path = data_dir / "sigterm.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "aimatrix_pipeline.cli", "demo", "--data-dir", str(data_dir),
             *DEMO_ARGS, "--duration", "600"],
            stdout=log, stderr=subprocess.STDOUT, text=True, env=env,
        )
        try:
            deadline = time.monotonic() + 90
            while time.monotonic() < deadline and proc.poll() is None:
                if "[demo] running the workload" in log_path.read_text(errors="replace"):
                    break
                time.sleep(0.5)
            time.sleep(1)
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(60) == 130, log_path.read_text(errors="replace")[-2000:]
        finally:
            if proc.poll() is None:
                proc.kill()
    output = log_path.read_text(errors="replace")
    assert "[demo] stopping PostgreSQL" in output
    assert not LocalPostgres(data_dir / "pg").is_running()
