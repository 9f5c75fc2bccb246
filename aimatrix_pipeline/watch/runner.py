"""`aimatrix-pipeline watch`: the pipeline on the user's own database, Dagster storage included.

Why: Dagster needs an instance (DAGSTER_HOME with dagster.yaml, runs and schedule state in
PostgreSQL) before anything runs, and setting one up is not what someone who wants to watch a
database came for. This keeps Dagster's storage where the demo keeps it, in an embedded
PostgreSQL cluster under a data directory (the demo's LocalPostgres, database `dagster`), unless
DAGSTER_PG_URL names one. The code location gets exactly the production environment:
SUPABASE_DB_URL or AIMATRIX_PROJECTS_FILE from the user, a warehouse file, a DAGSTER_HOME.

`watch` runs `dagster dev` (webserver + daemon: schedules and sensors are RUNNING in code) until
Ctrl-C/SIGTERM, then stops it and the cluster. `dagster ARGS` runs any Dagster CLI command (a
backfill, `instance info`) on the same instance. Missing or broken configuration is one line on
stderr and exit code 2 (raised as ConfigError, reported by cli.main), never a traceback.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from aimatrix_pipeline.demo.instance_settings import load_instance_settings
from aimatrix_pipeline.demo.local_postgres import LocalPostgres
from aimatrix_pipeline.demo.runner import (
    DAGSTER_DATABASE,
    _dagster_cli,
    _stop_process_group,
    make_dagster_home,
    start_dagster_dev,
    wait_for_stop,
)
from aimatrix_pipeline.settings import ConfigError, load_settings, warehouse_in
from aimatrix_pipeline.sql_files import shipped_path

DEFAULT_DATA_DIR = Path(".aimatrix")
LOCATION = "aimatrix_pipeline"
WORKSPACE = (
    "# written by aimatrix-pipeline watch: the code location of this package\n"
    "load_from:\n  - python_module:\n      module_name: aimatrix_pipeline.definitions\n"
    f"      attribute: defs\n      location_name: {LOCATION}\n"
)


def _say(out: TextIO, message: str) -> None:
    out.write(f"[watch] {message}\n")
    out.flush()


def check_sources(environ: Mapping[str, str]) -> str:
    """What will be watched, or ConfigError when nothing (or a project without its DSN) is set."""
    if not (environ.get("SUPABASE_DB_URL") or environ.get("AIMATRIX_PROJECTS_FILE")):
        raise ConfigError(
            "SUPABASE_DB_URL is not set: export SUPABASE_DB_URL=postgresql://user:password@host:5432/db "
            "(the database to watch) or AIMATRIX_PROJECTS_FILE=projects.yaml (a fleet)"
        )
    settings = load_settings(environ)
    missing = [f"{p.db_url_env} (project {p.name})" for p in settings.projects if not environ.get(p.db_url_env)]
    if missing:
        raise ConfigError(f"{', '.join(missing)} not set: each project's db_url_env must hold its DSN")
    return ", ".join(p.name for p in settings.projects)


def _check_reachable(url: str) -> None:
    """One line naming host/port/database (never the password) when DAGSTER_PG_URL cannot be used."""
    import psycopg
    from psycopg.conninfo import conninfo_to_dict

    plain = url.split("://", 1)
    dsn = "postgresql://" + plain[1] if len(plain) == 2 and plain[0].startswith("postgres") else url
    try:
        where = conninfo_to_dict(dsn)
    except psycopg.ProgrammingError:
        raise ConfigError("DAGSTER_PG_URL is not a PostgreSQL URL (postgresql://user:password@host:5432/db)") \
            from None
    target = f"{where.get('host', 'localhost')}:{where.get('port', 5432)}/{where.get('dbname', '')}"
    try:
        with psycopg.connect(dsn, connect_timeout=10):
            pass
    except psycopg.Error as exc:
        first = " ".join(str(exc).split())[:200]
        raise ConfigError(f"cannot connect to DAGSTER_PG_URL ({target}): {first}") from None


@dataclass
class Instance:
    """Where Dagster keeps its state for `watch` and `dagster`, and the environment to run with."""

    dagster_home: Path
    workspace: Path
    env: dict[str, str]
    embedded: LocalPostgres | None


@contextlib.contextmanager
def dagster_instance(data_dir: Path, out: TextIO, environ: Mapping[str, str] | None = None) -> Iterator[Instance]:
    """DAGSTER_HOME under `data_dir`, storage in DAGSTER_PG_URL or in the embedded cluster (started
    here unless already running, e.g. by a `watch` in another shell, and then stopped again)."""
    env = dict(os.environ if environ is None else environ)
    data_dir = data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    pg: LocalPostgres | None = None
    started = False
    try:
        if env.get("DAGSTER_PG_URL"):
            _check_reachable(env["DAGSTER_PG_URL"])
            _say(out, "Dagster storage: DAGSTER_PG_URL")
        else:
            pg = LocalPostgres(data_dir / "pg")
            started = not (pg.initialised and pg.is_running())
            pg.start()
            env["DAGSTER_PG_URL"] = pg.create_database(DAGSTER_DATABASE)
            _say(out, f"Dagster storage: embedded PostgreSQL {pg.server_version_num()} in {pg.data_dir} "
                      f"(127.0.0.1:{pg.port}, database {DAGSTER_DATABASE})")
        home = make_dagster_home(data_dir, shipped_path("dagster.yaml"))
        workspace = home / "workspace.yaml"
        workspace.write_text(WORKSPACE)
        env["DAGSTER_HOME"] = str(home)
        if not env.get("AIMATRIX_WAREHOUSE"):
            env["AIMATRIX_WAREHOUSE"] = warehouse_in(data_dir)
        yield Instance(home, workspace, env, pg)
    finally:
        if pg is not None and started:
            _say(out, "stopping the embedded PostgreSQL")
            pg.stop()


def watch(data_dir: Path = DEFAULT_DATA_DIR, port: int = 3000, out: TextIO = sys.stdout,
          connect_check: bool = True) -> int:
    """`dagster dev` on the user's database until Ctrl-C/SIGTERM; 0 when stopped, 1 if it died.

    Before anything starts, every source is logged in to (`connect_check`): a database the
    pipeline cannot log in to is one line and exit code 2, not a UI full of failed runs."""
    projects = check_sources(os.environ)
    if connect_check:
        from aimatrix_pipeline.config_commands import check_connections

        check_connections(os.environ)
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
    child: subprocess.Popen | None = None
    try:
        with dagster_instance(data_dir, out) as inst:
            try:
                child = start_dagster_dev(inst.workspace, port, inst.env, inst.dagster_home)
                _say(out, f"watching: {projects}; warehouse {inst.env['AIMATRIX_WAREHOUSE']}")
                _say(out, f"Dagster UI: http://127.0.0.1:{port}  (DAGSTER_HOME={inst.dagster_home})")
                _say(out, "schedules and sensors run on their own; press Ctrl-C to stop everything")
                status = wait_for_stop(child, stop, out)
            finally:
                _say(out, "stopping ...")
                if child is not None and child.poll() is None:
                    _stop_process_group(child, out)
        _say(out, "stopped; run the same command again to continue where you left off")
        return status
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def instance_environment(data_dir: Path, out: TextIO, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for commands on the instance in `data_dir`: this process's, with the
    settings a demo saved there (its source, projects file and warehouse) in place of the user's,
    as the demo itself runs (a user's fleet is never contacted through the demo's instance)."""
    env = dict(os.environ if environ is None else environ)
    saved = load_instance_settings(data_dir)
    if saved:
        env.update(saved)
        env.pop("DAGSTER_PG_URL", None)  # the demo's run history is in its own cluster, found below
        _say(out, f"settings of the demo instance in {data_dir}: {', '.join(sorted(saved))}")
    return env


def run_dagster(args: list[str], data_dir: Path = DEFAULT_DATA_DIR, out: TextIO = sys.stderr) -> int:
    """`dagster ARGS` on the same instance as `watch` (e.g. a backfill); its exit code."""
    import datetime as dt

    from aimatrix_pipeline.watch.backfill import dagster_partition_problem

    env = instance_environment(data_dir, out)
    check_sources(env)
    problem = dagster_partition_problem(args, load_settings(env).cost_start_date, dt.datetime.now(dt.UTC).date())
    if problem:
        raise ConfigError(problem)
    with dagster_instance(data_dir, out, env) as inst:
        proc = subprocess.Popen([*_dagster_cli(), *args], cwd=inst.dagster_home, env=inst.env)
        try:
            return proc.wait()
        except KeyboardInterrupt:
            proc.send_signal(signal.SIGINT)
            proc.wait(60)
            return 130
