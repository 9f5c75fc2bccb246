"""Hostile values in the environment variables the pipeline reads as numbers, dates or names.

Every row: a `ConfigError` that names the variable (never a traceback, never NaN or Infinity
accepted as a budget, threshold or retention period). The loaders are called with an explicit
environment mapping, the way the code location and the CLI call them; six rows go through
`aimatrix-pipeline config check` (exit 2, one line): two as a real command in a process of its own
(the exit status, and nothing else a library prints at import reaching stderr), four through the
command's `main()` in this process with the same environment and working directory.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import fields

import pytest

from aimatrix_pipeline.config_commands import check_all
from aimatrix_pipeline.fleet.retention import policy_from_env
from aimatrix_pipeline.settings import ConfigError, load_settings
from aimatrix_pipeline.shared.thresholds import Thresholds, load_thresholds

NUMBERS = ["nan", "NaN", "-nan", "inf", "Infinity", "-inf", "1e400", "lots", "0x10", "1_000", "5 apples", "\x00",
           "\x1b[31m1", "１２"]  # the last: full-width digits

CASES = [  # (variable, hostile value)
    *[("SUPABASE_MONTHLY_BUDGET_USD", v) for v in [*NUMBERS, "-1", "1e23"]],
    *[("AIMATRIX_ANALYTICS_SLOW_QUERY_MS", v) for v in [*NUMBERS, "-1", "1e23"]],
    *[("AIMATRIX_ANALYTICS_SUMMARY_MIN_CALLS", v) for v in [*NUMBERS, "1.5", "-3", "1e3", "9" * 40]],
    *[("AIMATRIX_ANALYTICS_CACHE_HIT_RATIO_MIN", v) for v in ["nan", "inf", "1.5", "-0.1", "high"]],
    *[("AIMATRIX_ANALYTICS_REGRESSION_MEAN_GROWTH", v) for v in ["0", "nan", "-2"]],
    *[(f"AIMATRIX_RETENTION_{name}_DAYS", v) for name in ("FULL", "HOURLY", "APP_LOG")
      for v in ["nan", "inf", "7.5", "-1", "ninety", "1e3", "99999999", "\x1b[2J"]],
    *[("AIMATRIX_COST_START_DATE", v) for v in ["soon", "2025-13-01", "2025-02-30", "1900-01-01", "2999-01-01",
                                                "2025-01-01; drop", "20250101", "nan"]],
    *[(name, v) for name in ("AIMATRIX_STATS_CRON", "AIMATRIX_DASHBOARD_CRON", "AIMATRIX_RETENTION_CRON")
      for v in ["lots", "99 * * * *", "* * * * * *", "*/5 * * * *; rm -rf /", ""]],
    *[(name, v) for name in ("AIMATRIX_ALERT_SENSOR_INTERVAL_S", "AIMATRIX_AUTOMATION_INTERVAL_S")
      for v in ["nan", "0", "-5", "30s", "1e9", "\x1b[2J"]],
    *[("SUPABASE_PLAN", v) for v in ["gold", "pro\n", "\x1b[31mpro"]],
    *[("SUPABASE_COMPUTE_SIZE", v) for v in ["small; drop table x", "x" * 1000, "../../etc"]],
    *[("SUPABASE_PROJECT_REF", v) for v in ["../../etc/passwd", "a b", "x" * 1000]],
    # URLs and DSNs outside their documented ranges (second round)
    *[("SUPABASE_API_URL", v) for v in ["ftp://api.example.test", "file:///etc/passwd", "api.example.test",
                                        "https://", "https://api.example.test:99999", "javascript:alert(1)"]],
    *[(name, v) for name in ("SUPABASE_DB_URL", "AIMATRIX_APPLY_DB_URL")
      for v in ["mysql://u:p@127.0.0.1/db", "host=127.0.0.1 dbname=postgres user=u password=p", "127.0.0.1:5432",
                "postgresql://u:pa[ss@127.0.0.1:5432/db", "postgresql://u:pa]ss@127.0.0.1/db",
                "postgresql://u:p@127.0.0.1:port/db", "http://u:p@127.0.0.1/db"]],
]


def _base_env(tmp_path) -> dict[str, str]:
    """A clean environment: no projects file (single-database mode), the repository's rules and prices."""
    return {"AIMATRIX_WAREHOUSE": str(tmp_path / "warehouse.duckdb")}


@pytest.mark.parametrize("variable, value", CASES, ids=[f"{n}={v[:12]!r}" for n, v in CASES])
def test_hostile_environment_value_is_a_config_error_naming_the_variable(tmp_path, variable, value):
    env = {**_base_env(tmp_path), variable: value}
    with pytest.raises(ConfigError) as err:
        check_all(env)
    message = str(err.value)
    assert variable in message, message
    assert "\n" not in message and "\x1b" not in message and len(message) < 500, message


def test_every_threshold_variable_rejects_nan_and_infinity():
    for f in fields(Thresholds):
        name = "AIMATRIX_ANALYTICS_" + f.name.upper()
        for value in ("nan", "inf", "-inf", "lots"):
            with pytest.raises(ConfigError, match=name):
                load_thresholds(env={name: value})


def test_plain_values_still_work(tmp_path):
    env = {**_base_env(tmp_path), "SUPABASE_MONTHLY_BUDGET_USD": " 250.5 ", "AIMATRIX_ANALYTICS_SLOW_QUERY_MS": "2000",
           "AIMATRIX_ANALYTICS_SUMMARY_MIN_CALLS": "7", "AIMATRIX_RETENTION_FULL_DAYS": "3",
           "AIMATRIX_RETENTION_APP_LOG_DAYS": "", "AIMATRIX_COST_START_DATE": "2025-06-01",
           "SUPABASE_COMPUTE_SIZE": "Large", "SUPABASE_PROJECT_REF": "abcdefghijklmnopqrst",
           "SUPABASE_API_URL": "http://127.0.0.1:8080/", "AIMATRIX_APPLY_DB_URL": "postgres://u:p%5Bq@127.0.0.1/db",
           "SUPABASE_DB_URL": "postgresql://monitor:pa%5Bss%40x@127.0.0.1:5432/postgres?sslmode=disable"}
    assert check_all(env)["projects"] == 1
    settings = load_settings(env)
    assert settings.organization("default").monthly_budget_usd == 250.5
    assert settings.projects[0].compute_size == "large"
    t = load_thresholds(env=env)
    assert (t.slow_query_ms, t.summary_min_calls) == (2000.0, 7)
    policy = policy_from_env(env)
    assert (policy.full_days, policy.app_log_days) == (3, None)


# the rows run as a real `aimatrix-pipeline config check` process; the others call its main()
REAL_PROCESS = {("AIMATRIX_RETENTION_HOURLY_DAYS", "\x1b[2Jninety"), ("SUPABASE_DB_URL", "postgresql://u:s3cr[et@127.0.0.1/db")}


def config_check(tmp_path, monkeypatch, capsys, env: dict[str, str], *, real_process: bool) -> tuple[int, str]:
    """(exit status, stderr) of `aimatrix-pipeline config check` with exactly these AIMATRIX_/SUPABASE_ variables."""
    if real_process:
        full = {k: v for k, v in os.environ.items() if not k.startswith(("AIMATRIX_", "SUPABASE_"))}
        proc = subprocess.run([sys.executable, "-m", "aimatrix_pipeline.cli", "config", "check"], env={**full, **env},
                              cwd=tmp_path, capture_output=True, text=True, timeout=120)
        return proc.returncode, proc.stderr
    from aimatrix_pipeline.cli import main

    for name in [k for k in os.environ if k.startswith(("AIMATRIX_", "SUPABASE_"))]:
        monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(tmp_path)
    capsys.readouterr()
    status = main(["config", "check"])
    return status, capsys.readouterr().err


@pytest.mark.parametrize("variable, value", [("AIMATRIX_ANALYTICS_SLOW_QUERY_MS", "nan"),
                                             ("AIMATRIX_RETENTION_HOURLY_DAYS", "\x1b[2Jninety"),
                                             ("SUPABASE_API_URL", "ftp://api.example.test"),
                                             ("SUPABASE_DB_URL", "mysql://u:p@127.0.0.1/db"),
                                             ("SUPABASE_DB_URL", "host=127.0.0.1 dbname=postgres"),
                                             ("SUPABASE_DB_URL", "postgresql://u:s3cr[et@127.0.0.1/db")])
def test_cli_exits_2_with_one_line_naming_the_variable(tmp_path, monkeypatch, capsys, variable, value):
    status, stderr = config_check(tmp_path, monkeypatch, capsys, {**_base_env(tmp_path), variable: value},
                                  real_process=(variable, value) in REAL_PROCESS)
    assert status == 2, stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("configuration error: environment variable " + variable), lines
    assert "Traceback" not in stderr and "\x1b" not in stderr
    assert "s3cr" not in stderr  # a DSN's password is never quoted
