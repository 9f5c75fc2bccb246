"""What the command prints when used as people use it: through a pipe, and without library noise.

* `sql` and `report` piped into `head`: `head` exits after its lines and the pipe breaks; the
  command must end quietly (no BrokenPipeError traceback, no "Exception ignored" at exit).
* `report recommendations` shows the SQL to fix each finding (the README's promise) by default.
* Dagster's PreviewWarning / SupersessionWarning / BetaWarning and platformdirs' RuntimeDirWarning never reach
  a user's terminal from our commands, nor from the Dagster processes they start.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from aimatrix_pipeline import cli
from tests.conftest import _base_dir

CLI = str(Path(sys.executable).with_name("aimatrix-pipeline"))
# BetaWarning: Dagster's notice on every asset with a `backfill_policy` (thirty per process)
NOISE = ("PreviewWarning", "SupersessionWarning", "BetaWarning", "RuntimeDirWarning")


def _env(**extra) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIMATRIX_", "SUPABASE_", "DAGSTER_"))}
    env.pop("XDG_RUNTIME_DIR", None)  # what triggers RuntimeDirWarning (containers, sudo)
    env.update(extra)
    return env


def _piped_into_head(args: list[str], env: dict, lines: int = 2) -> tuple[str, str, int]:
    """`aimatrix-pipeline ARGS | head -n LINES` with a real pipe; (head's output, our stderr, our code)."""
    ours = subprocess.Popen([CLI, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    head = subprocess.Popen(["head", "-n", str(lines)], stdin=ours.stdout, stdout=subprocess.PIPE)
    ours.stdout.close()  # head holds the read end alone: when it exits, our writes break
    shown, _ = head.communicate(timeout=300)
    err = ours.stderr.read().decode()
    ours.stderr.close()
    return shown.decode(), err, ours.wait(timeout=300)


def _seed_slow_queries(warehouse, n: int) -> None:
    now = datetime.now(UTC)
    with warehouse.transaction() as conn:
        conn.execute(
            "insert into analytics.slow_queries_summary (project, source, fingerprint, query_preview, "
            "hour_bucket, calls, total_time_ms, max_time_ms, p95_ms) "
            "select 'p1', 'pg_stat_statements', 'fp' || i, 'select * from t where a = $1 and b = ' || i, "
            "date_trunc('hour', ?::timestamptz), 10, 1000 + i, 50, 40 from range(?) t(i)", [now, n])


def test_sql_and_report_piped_into_head_end_without_a_traceback(warehouse):
    _seed_slow_queries(warehouse, 4000)  # ~ 0.5 MB of table: far more than a pipe buffer
    env = _env(AIMATRIX_WAREHOUSE=str(warehouse.file))
    for args in (["sql", "select i, repeat('x', 80) as pad from range(200000) t(i)"],
                 ["sql", "--format", "csv", "select i from range(300000) t(i)"],
                 ["report", "slow-queries", "--limit", "4000"]):
        shown, err, code = _piped_into_head(args, env)
        assert len(shown.splitlines()) == 2, (args, shown)
        assert "Traceback" not in err and "BrokenPipeError" not in err and "Exception ignored" not in err, err
        assert code == cli.EXIT_BROKEN_PIPE, (args, code, err)


def test_report_recommendations_shows_the_sql_to_fix_each_finding(warehouse, monkeypatch, capsys):
    now = datetime.now(UTC)
    with warehouse.transaction() as conn:
        conn.execute("insert into analytics.optimization_recommendations (project, id, name, level, title, "
                     "detail, remediation_sql, impact, effort, object_key, first_seen, last_seen) values "
                     "('p1', 'a', 'unused_index', 'warning', 't', 'd', 'DROP INDEX CONCURRENTLY \"x\";', 4, 2, "
                     "'k1', ?, ?)", [now, now])
    monkeypatch.setenv("AIMATRIX_WAREHOUSE", str(warehouse.file))
    assert cli.main(["report", "recommendations", "--format", "json"]) == 0
    (rec,) = json.loads(capsys.readouterr().out)
    assert rec["remediation_sql"] == 'DROP INDEX CONCURRENTLY "x";'
    assert cli.main(["report", "recommendations"]) == 0
    assert 'DROP INDEX CONCURRENTLY "x";' in capsys.readouterr().out
    assert cli.main(["report", "recommendations", "--no-sql", "--format", "json"]) == 0
    assert "remediation_sql" not in json.loads(capsys.readouterr().out)[0]
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    assert "aimatrix-pipeline report recommendations            # findings with the SQL to fix them" in readme


def test_the_readme_slow_query_example_is_one_row_per_fingerprint(warehouse):
    """The README's query groups by fingerprint: one row each, not one per hour bucket and source."""
    import re

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    (query,) = re.findall(r'aimatrix-pipeline sql "(select fingerprint.*?)"', readme, flags=re.S)
    now = datetime.now(UTC)
    with warehouse.transaction() as conn:
        for hours_ago in range(3):
            for source in ("pg_stat_statements", "app_log"):
                conn.execute("insert into analytics.slow_queries_summary (project, source, fingerprint, "
                             "query_preview, hour_bucket, calls, total_time_ms) values "
                             "('p1', ?, 'fp1', 'select 1', date_trunc('hour', ?::timestamptz) - to_hours(?), 2, 10)",
                             [source, now, hours_ago])
    with warehouse.reader() as conn:
        rows = conn.execute(query).fetchall()
    assert len(rows) == 1 and rows[0][0] == "fp1" and rows[0][1] == 12


def test_commands_print_no_dagster_or_platformdirs_warning_noise(pg18, tmp_path):
    """`dagster -- asset list` loads the code location in a Dagster process, on the embedded
    storage cluster (whose wheel triggers RuntimeDirWarning without XDG_RUNTIME_DIR)."""
    data_dir = _base_dir() / f"quiet-{tmp_path.name}"
    source = pg18.create_database(f"quiet_{os.getpid()}")
    try:
        env = _env(SUPABASE_DB_URL=source, AIMATRIX_WAREHOUSE=str(tmp_path / "w.duckdb"))
        proc = subprocess.run([CLI, "dagster", "--data-dir", str(data_dir), "--", "asset", "list",
                               "-m", "aimatrix_pipeline.definitions"],
                              env=env, capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, proc.stderr[-3000:]
        assert "raw/activity" in proc.stdout
        for noise in NOISE:
            assert noise not in proc.stderr, proc.stderr[-3000:]
        proc = subprocess.run([CLI, "alerts", "rules"], env=env, capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0 and not any(n in proc.stderr for n in NOISE), proc.stderr
    finally:
        pg18.drop_database(f"quiet_{os.getpid()}")
        import shutil

        from aimatrix_pipeline.demo.local_postgres import LocalPostgres

        if (data_dir / "pg").exists():
            LocalPostgres(data_dir / "pg").stop("immediate")
        shutil.rmtree(data_dir, ignore_errors=True)


@pytest.mark.parametrize("args", [["--help"]])
def test_main_quiets_library_warnings_in_process(args, capsys):
    import warnings

    from dagster import PreviewWarning

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(SystemExit):
            cli.main(args)
        warnings.warn("x is currently in preview", PreviewWarning, stacklevel=1)
    assert not [w for w in caught if issubclass(w.category, PreviewWarning)]
