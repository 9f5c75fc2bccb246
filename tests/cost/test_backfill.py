"""`aimatrix-pipeline backfill`, as a new user runs it: on a fresh demo instance with no earlier
run, with the README's relative `AIMATRIX_WAREHOUSE` export, and nothing else exported (the demo's
instance carries its own settings). The month's invoice must be in the warehouse that export names.

Everything runs as subprocesses of the installed command; the demo's embedded PostgreSQL holds the
monitored database and Dagster's run storage.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import stat
import subprocess
import sys
import uuid
from pathlib import Path

import duckdb
import psycopg
import pytest

from aimatrix_pipeline.demo.instance_settings import SETTINGS_FILE
from aimatrix_pipeline.demo.local_postgres import LocalPostgres
from aimatrix_pipeline.resources import WAREHOUSE_POOL
from aimatrix_pipeline.watch.backfill import BackfillKeyError, BackfillRange, backfill_range
from tests.conftest import _base_dir

CLI = [sys.executable, "-m", "aimatrix_pipeline.cli"]
TODAY = dt.date(2026, 12, 7)


def _user_env(**extra: str) -> dict[str, str]:
    """A fresh shell: none of the pipeline's settings, only what the test exports."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIMATRIX_", "SUPABASE_", "DAGSTER_"))}
    return {**env, **extra}


def _run(args: list[str], cwd: Path, **extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *args], cwd=cwd, env=_user_env(**extra), capture_output=True, text=True,
                          timeout=600)


# -- the keys --------------------------------------------------------------------------------------
def test_month_and_day_ranges():
    assert backfill_range("2026-10", None, None, "2025-01-01", TODAY) == BackfillRange(
        "2026-10-01", "2026-10-31", "2026-10-01", "2026-10-01")
    # the running month: through yesterday; its report carries the projection
    assert backfill_range("2026-12", None, None, "2025-01-01", TODAY) == BackfillRange(
        "2026-12-01", "2026-12-06", "2026-12-01", "2026-12-01")
    # on the 1st nothing is finished yet: only the report
    assert backfill_range("2026-12", None, None, "2025-01-01", dt.date(2026, 12, 1)) == BackfillRange(
        None, None, "2026-12-01", "2026-12-01")
    # the first month starts at the configured start date
    assert backfill_range("2025-03", None, None, "2025-03-15", TODAY).first_day == "2025-03-15"
    assert backfill_range(None, "2026-03-01", "2026-05-31", "2025-01-01", TODAY) == BackfillRange(
        "2026-03-01", "2026-05-31", "2026-03-01", "2026-05-01")
    assert backfill_range(None, "2026-11-20", None, "2025-01-01", TODAY).last_day == "2026-12-06"


@pytest.mark.parametrize(("month", "day_from", "day_to", "message"), [
    ("2026-10-01", None, None, "--month '2026-10-01' is not a month: give YYYY-MM (e.g. 2026-12); months run "
                               "from 2025-01 to 2026-12 (the running month)"),
    ("2027-01", None, None, "--month 2027-01 is outside the cost partitions: months run from 2025-01 to 2026-12"),
    ("2024-12", None, None, "outside the cost partitions"),
    (None, "2026-10", None, "--from '2026-10' is not a day: give YYYY-MM-DD (e.g. 2026-12-06); days run from "
                            "2025-01-01 to 2026-12-06 (yesterday, UTC)"),
    (None, "2026-12-07", None, "--from 2026-12-07 is outside the daily partitions"),
    (None, "2026-10-05", "2026-10-01", "--to 2026-10-01 is before --from 2026-10-05"),
    (None, None, "2026-10-01", "give --month YYYY-MM or --from YYYY-MM-DD"),
])
def test_a_wrong_key_names_the_format_and_the_valid_range(month, day_from, day_to, message):
    with pytest.raises(BackfillKeyError) as err:
        backfill_range(month, day_from, day_to, "2025-01-01", TODAY)
    assert message in str(err.value)


# -- end to end ------------------------------------------------------------------------------------
@pytest.fixture
def fresh_folder():
    # not under pytest's tmp_path: the demo's cluster runs as a service user when started as root
    folder = _base_dir() / f"backfill-{uuid.uuid4().hex[:8]}"
    folder.mkdir(mode=0o755)
    yield folder
    pg = LocalPostgres(folder / ".aimatrix-demo" / "pg")
    if pg.initialised and pg.is_running():
        pg.stop()
    shutil.rmtree(folder, ignore_errors=True)


def _runs(data_dir: Path) -> list[tuple[str, str, bool]]:
    """(run id, status, whether the run takes the warehouse pool) in the order they were created."""
    pg = LocalPostgres(data_dir / "pg")
    pg.start()
    try:
        with psycopg.connect(pg.url("dagster")) as conn:
            if conn.execute("select to_regclass('runs')").fetchone()[0] is None:
                return []  # Dagster creates its tables with the instance's first use
            rows = conn.execute("select run_id, status, run_body from runs order by create_timestamp").fetchall()
    finally:
        pg.stop()
    return [(run_id, status, WAREHOUSE_POOL in json.dumps(json.loads(body).get("run_op_concurrency")))
            for run_id, status, body in rows]


@pytest.mark.slow
def test_backfill_on_a_fresh_demo_instance_lands_the_invoice_where_the_export_points(fresh_folder):
    today = dt.datetime.now(dt.UTC).date()
    month = (today.replace(day=1) - dt.timedelta(days=1)).replace(day=1)  # last month: every day finished
    demo = _run(["demo", "--no-ui", "--no-materialize", "--duration", "0", "--scale", "0.05", "--seed", "3"],
                fresh_folder)
    assert demo.returncode == 0, demo.stdout[-2000:] + demo.stderr[-2000:]
    data_dir = fresh_folder / ".aimatrix-demo"
    settings_file = data_dir / SETTINGS_FILE
    assert stat.S_IMODE(settings_file.stat().st_mode) == 0o600  # it holds the monitor's password
    assert _runs(data_dir) == []  # a fresh instance: no earlier run
    password = (data_dir / "monitor_password").read_text().strip()

    # README: export AIMATRIX_WAREHOUSE=.aimatrix-demo/warehouse.duckdb (relative); nothing else
    export = {"AIMATRIX_WAREHOUSE": ".aimatrix-demo/warehouse.duckdb"}
    proc = _run(["backfill", "--data-dir", ".aimatrix-demo", "--month", f"{month:%Y-%m}"], fresh_folder, **export)
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert password not in proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    assert "settings of the demo instance" in proc.stderr

    runs = _runs(data_dir)
    # the days' usage in one run that takes no warehouse pool slot (it waits on Supabase's APIs),
    # their pricing in one pooled run, the month in one pooled run
    assert [(status, pooled) for _, status, pooled in runs] == [
        ("SUCCESS", False), ("SUCCESS", True), ("SUCCESS", True)]
    # the warehouse the export names, not a second one under the instance folder
    assert not (data_dir / "dagster_home" / ".aimatrix-demo").exists()
    with duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True) as conn:
        days = conn.execute("select count(distinct usage_date) from raw.usage_daily").fetchone()[0]
        fee = conn.execute("select status, cost_usd from cost.monthly_cost_report where month = ? "
                           "and line_item = 'plan_fee'", [month]).fetchall()
    next_month = (month + dt.timedelta(days=32)).replace(day=1)
    assert days == (next_month - month).days
    assert fee == [("known", 25.0)]  # the demo plays a Supabase project on the Pro plan

    report = _run(["report", "cost", "--month", f"{month:%Y-%m}", "--format", "csv"], fresh_folder, **export)
    assert report.returncode == 0, report.stderr
    total = next(line for line in report.stdout.splitlines() if ",TOTAL," in line)
    assert total.startswith("default,TOTAL,")
    assert "never extracted" not in report.stderr  # every day of the month was extracted
    assert "no Supabase project ref configured" in report.stderr  # the real cause of the unknown items

    # a wrong key is one line naming the format and the range, before anything starts
    wrong = _run(["backfill", "--data-dir", ".aimatrix-demo", "--month", f"{month:%Y-%m}-01"], fresh_folder,
                 **export)
    assert wrong.returncode == 2
    assert "give YYYY-MM" in wrong.stderr and "months run from" in wrong.stderr
    assert "Traceback" not in wrong.stderr and len(wrong.stderr.strip().splitlines()) <= 2


@pytest.mark.parametrize(("args", "problem"), [
    (["asset", "materialize", "--select", "raw/usage_daily,cost/price_book,cost/cost_breakdown_daily",
      "--partition", "2026-10"], "partition key '2026-10' is not a key of cost/cost_breakdown_daily, raw/usage_daily: "
                                  "daily keys are YYYY-MM-DD, from 2025-01-01 to 2026-12-06 (for a month: "
                                  "aimatrix-pipeline backfill --month 2026-10)"),
    (["asset", "materialize", "--select", "cost/monthly_cost_report", "--partition", "2026-10-05"],
     "monthly keys are the month's first day, YYYY-MM-01"),
    (["asset", "materialize", "--select", "raw/usage_daily", "--partition-range", "2026-03-01...2027-01-01"],
     "'2027-01-01' is not a key"),
    (["asset", "materialize", "--select", "raw/usage_daily", "--partition", "2026-10-01"], None),
    (["asset", "materialize", "--select", "cost/monthly_cost_report", "--partition", "2026-10-01"], None),
    (["asset", "materialize", "--select", "raw/table_stats", "--partition", "default"], None),  # Dagster judges
])
def test_the_dagster_passthrough_names_valid_cost_keys(args, problem):
    from aimatrix_pipeline.watch.backfill import dagster_partition_problem

    found = dagster_partition_problem(args, "2025-01-01", TODAY)
    assert (found is None) if problem is None else (problem in found)


def test_a_wrong_key_through_the_dagster_command_is_one_line(tmp_path):
    proc = _run(["dagster", "--data-dir", str(tmp_path / "d"), "--", "asset", "materialize", "-m",
                 "aimatrix_pipeline.definitions", "--select", "raw/usage_daily,cost/cost_breakdown_daily",
                 "--partition", "2026-10"], tmp_path, SUPABASE_DB_URL="postgresql://u@127.0.0.1:1/x")
    assert proc.returncode == 2
    assert "configuration error: partition key '2026-10' is not a key of" in proc.stderr
    assert "Traceback" not in proc.stderr and not (tmp_path / "d" / "pg").exists()  # nothing started
