"""`aimatrix-pipeline watch` on a plain PostgreSQL, Dagster storage that just works, one-line errors.

Everything runs as a user runs it: the CLI as a subprocess, the real `dagster dev` (webserver +
daemon) with its schedules, Dagster's storage in the embedded PostgreSQL the command starts, or in
a database given by a plain postgresql:// DAGSTER_PG_URL.
"""

from __future__ import annotations

import contextlib
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


def test_unreachable_dagster_pg_url_is_one_line_without_the_password(tmp_path, plain_postgres):
    port = free_port()
    proc = subprocess.run([*CLI, "watch", "--data-dir", str(tmp_path / "d")], cwd=tmp_path, capture_output=True,
                          text=True, timeout=120,
                          env=_env(SUPABASE_DB_URL=plain_postgres,
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


def _ours(home: Path) -> list:
    """Every process, wherever it was reparented, that runs on this DAGSTER_HOME."""
    import psutil

    found = []
    for p in psutil.process_iter():
        try:
            if p.environ().get("DAGSTER_HOME") == str(home) and p.status() != psutil.STATUS_ZOMBIE:
                found.append(p)
        except psutil.Error:
            continue
    return found


def _a_run_has_started(data_dir: Path) -> bool:
    port_file = data_dir / "pg" / "aimatrix_port"
    if not port_file.exists():
        return False
    try:
        with psycopg.connect(f"postgresql://postgres@127.0.0.1:{port_file.read_text()}/dagster",
                             connect_timeout=3) as conn:
            return bool(conn.execute("select 1 from runs where status in ('STARTED', 'SUCCESS') "
                                     "limit 1").fetchall())
    except psycopg.Error:
        return False


def test_stopping_watch_leaves_no_process_behind_and_no_storage_retries(plain_postgres):
    """A real start (dagster dev, its webserver, daemon and `dagster api grpc` code server), Ctrl-C,
    and then: nothing running on the instance any more, and no storage reconnect attempts logged."""
    import psutil

    data_dir = _base_dir() / f"watch-stop-{uuid.uuid4().hex[:8]}"
    data_dir.mkdir(parents=True)
    home = data_dir / "dagster_home"
    log_path = data_dir.parent / f"{data_dir.name}.log"
    port = free_port()
    env = _env(SUPABASE_DB_URL=plain_postgres, AIMATRIX_STATS_CRON="* * * * *", AIMATRIX_LOGS_CRON="0 0 1 1 *")
    cluster = LocalPostgres(data_dir / "pg")
    with open(log_path, "w") as log:
        proc = subprocess.Popen([*CLI, "watch", "--data-dir", str(data_dir), "--port", str(port)], env=env,
                                cwd=data_dir.parent, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    seen: dict[int, psutil.Process] = {}
    try:
        deadline = time.monotonic() + 300
        grpc = []
        while time.monotonic() < deadline and proc.poll() is None:
            time.sleep(2)
            try:
                tree = psutil.Process(proc.pid).children(recursive=True)
            except psutil.Error:
                break
            seen.update({p.pid: p for p in tree})
            grpc = [p for p in tree if "grpc" in " ".join(p.cmdline())]
            if grpc and _a_run_has_started(data_dir):
                break  # stopped while a scheduled run is going, as a user would
        assert grpc, log_path.read_text(errors="replace")[-3000:]
        seen.update({p.pid: p for p in _ours(home)})
        proc.send_signal(signal.SIGINT)  # what Ctrl-C in the terminal sends to the command
        proc.wait(timeout=180)
        time.sleep(10)  # anything left behind would now be retrying the stopped storage
        left = [p for p in seen.values() if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
        left += [p for p in _ours(home) if p.pid not in {q.pid for q in left}]
        output = log_path.read_text(errors="replace")
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        for p in _ours(home):  # never leave them to the next test
            p.kill()
        cluster.stop("immediate")
    assert proc.returncode == 0, output[-3000:]
    assert [(p.pid, " ".join(p.cmdline())[:120]) for p in left] == []
    after_stop = output.split("[watch] stopping ...", 1)[1]
    assert "Retrying failed database connection" not in after_stop, after_stop[-3000:]
    assert "[watch] stopped" in after_stop
    shutil.rmtree(data_dir, ignore_errors=True)
    log_path.unlink()


@pytest.fixture
def role_that_cannot_log_in(pg18, plain_postgres):
    """A DSN whose role exists but may not log in, with a password in it that must never be shown."""
    role = f"nologin_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(plain_postgres, autocommit=True) as conn:
        conn.execute(f'create role "{role}" nologin')
    database = plain_postgres.rsplit("/", 1)[1]
    yield pg18.url(database, user=role, password="s3cret-pw")
    with psycopg.connect(plain_postgres, autocommit=True) as conn:
        conn.execute(f'drop role "{role}"')


def test_config_check_connect_and_watch_refuse_a_database_they_cannot_log_in_to(
        role_that_cannot_log_in, plain_postgres, tmp_path):
    env = _env(SUPABASE_DB_URL=role_that_cannot_log_in)
    # without --connect, `config check` validates the configuration only (unchanged)
    ok = subprocess.run([*CLI, "config", "check"], env=env, cwd=tmp_path, capture_output=True, text=True,
                        timeout=120)
    assert ok.returncode == 0, ok.stderr
    for command in (["config", "check", "--connect"], ["watch", "--data-dir", str(tmp_path / "d")]):
        proc = subprocess.run([*CLI, *command], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)
        line = _one_line_error(proc)
        assert line.startswith("configuration error: cannot connect to project default ($SUPABASE_DB_URL): "), line
        assert "not permitted to log in" in line
        assert "s3cret-pw" not in proc.stderr + proc.stdout
    assert not (tmp_path / "d" / "pg").exists()  # watch started nothing
    good = subprocess.run([*CLI, "config", "check", "--connect"], env=_env(SUPABASE_DB_URL=plain_postgres),
                          cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert good.returncode == 0 and "1 sources connected" in good.stdout, good.stderr


def test_config_check_connect_names_the_first_failing_project_of_a_fleet(plain_postgres, tmp_path):
    projects = tmp_path / "projects.yaml"
    projects.write_text("organizations:\n  - slug: acme\n    plan: pro\nprojects:\n"
                        "  - name: good\n    organization: acme\n    db_url_env: GOOD_DB_URL\n"
                        "  - name: gone\n    organization: acme\n    db_url_env: GONE_DB_URL\n")
    env = _env(AIMATRIX_PROJECTS_FILE=str(projects), GOOD_DB_URL=plain_postgres,
               GONE_DB_URL=f"postgresql://u:pw-not-shown@127.0.0.1:{free_port()}/x")
    proc = subprocess.run([*CLI, "config", "check", "--connect"], env=env, cwd=tmp_path, capture_output=True,
                          text=True, timeout=120)
    line = _one_line_error(proc)
    assert line.startswith("configuration error: cannot connect to project gone ($GONE_DB_URL): "), line
    assert "pw-not-shown" not in proc.stderr


_TREE = r"""
import os, signal, subprocess, sys, time
role = sys.argv[1]
if role == "leader":  # like `dagster dev`: starts a server, exits at once on SIGINT
    subprocess.Popen([sys.executable, __file__, "server"])
    subprocess.Popen([sys.executable, __file__, "tracker"], start_new_session=True)
    signal.signal(signal.SIGINT, lambda *_: os._exit(0))
elif role == "server":  # like `dagster api grpc`: takes a while to shut down
    signal.signal(signal.SIGINT, lambda *_: (time.sleep(3), os._exit(0)))
else:  # like a resource tracker in a session of its own: only a signal sent to it ends it
    signal.signal(signal.SIGINT, lambda *_: os._exit(0))
open(sys.argv[0] + "." + role, "w").close()
while True:
    time.sleep(0.1)
"""


def test_stopping_the_process_group_waits_for_everything_it_started(tmp_path):
    """`dagster dev` exiting is not the end: its code server may still be shutting down, and a
    helper in a session of its own never gets the group's signal. The stop returns only when
    every process the leader started is gone (so the cluster may stop after it)."""
    import io

    import psutil

    from aimatrix_pipeline.demo.runner import _stop_process_group

    script = tmp_path / "tree.py"
    script.write_text(_TREE)
    leader = subprocess.Popen([sys.executable, str(script), "leader"], start_new_session=True)
    started: list = []
    try:
        deadline = time.monotonic() + 60
        while not all((tmp_path / f"tree.py.{r}").exists() for r in ("leader", "server", "tracker")):
            assert time.monotonic() < deadline, "the process tree did not start"
            time.sleep(0.1)
        started = psutil.Process(leader.pid).children(recursive=True)
        assert len(started) == 2
        _stop_process_group(leader, io.StringIO())
        left = [p.pid for p in started if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    finally:  # only what this test started
        for p in started:
            with contextlib.suppress(psutil.Error):
                p.kill()
        if leader.poll() is None:
            leader.kill()
            leader.wait()
    assert leader.returncode == 0
    assert left == []
