"""Shared fixtures: real PostgreSQL servers (embedded PG 18, Debian PG 15) and a real DuckDB file.

Clusters start once per test session under `AIMATRIX_TEST_DIR` (default: a temp dir); each test
that needs a source gets its own fresh database with the demo schema, so tests never share state.
`source_db` is parametrised over both majors, so every source-facing test runs on 15 and 18.
"""

from __future__ import annotations

import itertools
import os
import shutil
import signal
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from aimatrix_pipeline.demo import database as demo_db
from aimatrix_pipeline.demo.local_postgres import LocalPostgres, debian_bin_dir, embedded_bin_dir
from aimatrix_pipeline.resources.warehouse import WarehouseResource
from tests.installed_package import venv_python, wheel  # noqa: F401 - session fixtures: one wheel per suite

pytest_plugins = ["tests.timings"]

_counter = itertools.count()
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _base_dir() -> Path:
    base = os.environ.get("AIMATRIX_TEST_DIR")
    path = Path(base) if base else Path(tempfile.gettempdir()) / f"aimatrix-tests-{os.getpid()}"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def _stop_postmaster(data_dir: Path) -> None:
    """SIGQUIT (immediate shutdown) to the cluster's postmaster, if that pid is still a postgres."""
    try:
        pid = int((data_dir / "postmaster.pid").read_text().splitlines()[0])
        comm = Path(f"/proc/{pid}/comm").read_text().strip()
    except (OSError, ValueError, IndexError):
        return
    if comm == "postgres":
        try:
            os.kill(pid, signal.SIGQUIT)
        except OSError:
            return
        for _ in range(100):
            if not _alive(pid):
                break
            time.sleep(0.1)


def sweep_stale_runs(tmp: Path) -> list[Path]:
    """A session killed hard (SIGKILL, a CI timeout) cannot clean up: its clusters keep running and
    its dir stays. The next session stops and removes those of sessions whose process is gone."""
    swept = []
    for run_dir in tmp.glob("aimatrix-tests-*"):
        pid = run_dir.name.rsplit("-", 1)[-1]
        if not pid.isdigit() or int(pid) == os.getpid() or _alive(int(pid)):
            continue
        for pid_file in run_dir.rglob("postmaster.pid"):
            _stop_postmaster(pid_file.parent)
        shutil.rmtree(run_dir, ignore_errors=True)
        swept.append(run_dir)
    return swept


def pytest_sessionstart(session):
    if not os.environ.get("AIMATRIX_TEST_DIR"):
        sweep_stale_runs(Path(tempfile.gettempdir()))


@pytest.hookimpl(trylast=True)  # after pytest's own, which tears down the session fixtures when interrupted
def pytest_sessionfinish(session, exitstatus):
    """Remove the clusters' temp dir once they have stopped (session fixtures are torn down by now):
    each run would otherwise leave a few hundred MB behind. A dir named by AIMATRIX_TEST_DIR is
    the caller's to keep."""
    if not os.environ.get("AIMATRIX_TEST_DIR"):
        shutil.rmtree(Path(tempfile.gettempdir()) / f"aimatrix-tests-{os.getpid()}", ignore_errors=True)


# With pytest-xdist (`-n`), tests go to the workers one by one, and a module- or session-scoped
# fixture is built again on every worker that runs one of its tests. Tests sharing such a fixture
# go to one worker (`--dist loadgroup`), so an expensive fixture is still paid once: the wheel, the
# demo's two runs, the fleet, the S3 server. Each worker has its own PostgreSQL clusters and temp
# dir (named by its pid), so `pg15`/`pg18` are the one exception: they are per worker by design.
_PER_WORKER_FIXTURES = {"pg15", "pg18", "tmp_path_factory", "worker_id", "testrun_uid"}


# Tests that mostly wait for the clock: a real `dagster-daemon` whose schedules tick once a minute
# (tests/alerts/test_daemon_*.py, each five to ten minutes and about a fifth of a core). On `-n
# auto` they get workers of their own on top of one per core, so the CPU-bound tests keep every
# core while the daemons wait; a run that leaves slow tests out has none and gets one per core.
CLOCK_BOUND_WORKERS = 2


def pytest_xdist_auto_num_workers(config):
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    if "not slow" in (config.getoption("markexpr", "") or ""):
        return cores
    return cores + CLOCK_BOUND_WORKERS


# The fast loop (`python -m pytest -m "not slow and not pg15"`, docs/operations.md) leaves out what
# costs more than about a second a test: whole modules that run Dagster or the demo as child
# processes, drive a browser, build the wheel or run `apply` end to end. CI runs them all.
SLOW_MODULES = {
    "tests/extract/test_shapes_cli.py",  # `dagster job execute` four times per database shape
    "tests/fleet/test_fleet.py",  # a fleet of projects through `dagster` child processes
    "tests/demo/test_runner.py",  # the demo itself, start to stop
    "tests/test_watch.py",  # `watch` and the Dagster it starts
    "tests/ui/test_browser.py",  # Chromium on the Dagster UI and the dashboard
    "tests/hostile/test_identifiers.py",  # `apply` end to end on hostile names
    "tests/extract/test_snapshots.py",  # snapshot extracts through Dagster on both majors
    "tests/remediation/test_apply_e2e.py",  # `apply` end to end
    "tests/dashboard/test_dashboard.py",  # a pipeline run shared by the module, then the CLI
    "tests/dashboard/test_previews.py",  # every analytics and cost asset materialized
    "tests/test_package.py",  # builds the wheel and installs it in a fresh venv
    "tests/extract/test_monitoring_role.py",  # the grant script and a full extract per shape
    "tests/lake/",  # a DuckLake catalog on PostgreSQL, several writer processes
    "tests/hostile/test_cli_args.py",  # every sandbox attack on the file and the DuckLake reader
    "tests/test_command_output.py",  # real pipes and a real Dagster child process
    "tests/analytics/test_plan_history.py",  # plans captured and analytics derived over several windows
    "tests/index_advice/test_index_advice.py",  # the workload run, advised, built and run again
    "tests/remediation/test_verified_saving.py",  # `apply`, then the next windows measured
    "tests/cost/test_completeness.py",  # Dagster UI metadata and `report cost` per month shape
    "tests/test_warehouse_access.py",  # writer and reader processes contending for the file
    "tests/analytics/test_workload_e2e.py",  # a known workload, then a statistics reset
    "tests/demo/",  # the demo's traffic and seed, timed by the clock
}


def is_slow_module(nodeid: str) -> bool:
    path = nodeid.split("::")[0]
    return any(path == m or (m.endswith("/") and path.startswith(m)) for m in SLOW_MODULES)


def _slow_first(items: list) -> None:
    """Modules with slow tests run first (order inside a module kept, modules kept whole, so
    module fixtures are built once): on two workers, a 10-minute test that starts last would
    run alone at the end while the other worker idles."""
    slow_modules = {item.nodeid.split("::")[0] for item in items if item.get_closest_marker("slow")}
    items.sort(key=lambda item: item.nodeid.split("::")[0] not in slow_modules)


def pytest_collection_modifyitems(config, items):
    for item in items:
        if is_slow_module(item.nodeid):
            item.add_marker(pytest.mark.slow)
    _slow_first(items)
    for item in items:
        info = getattr(item, "_fixtureinfo", None)
        if info is None:
            continue
        sessions, modules = [], []
        for name, defs in info.name2fixturedefs.items():
            scope = defs[-1].scope
            if name in _PER_WORKER_FIXTURES or scope == "function":
                continue
            (sessions if scope == "session" else modules).append(name)
        if sessions:  # a session fixture (the wheel) outranks a module's: it is the dearer one
            item.add_marker(pytest.mark.xdist_group(sorted(sessions)[0]))
        elif modules:
            item.add_marker(pytest.mark.xdist_group(item.module.__name__))


# Settings the code reads from the environment: a test that leaves one behind changes every test
# after it (a projects file under a tmp_path that is gone fails the rest of the suite).
_WATCHED_ENV = ("AIMATRIX_", "SUPABASE_", "DAGSTER_")


@pytest.fixture(autouse=True)
def _environment_is_left_as_found():
    def watched() -> dict[str, str]:
        return {k: v for k, v in os.environ.items() if k.startswith(_WATCHED_ENV)}

    before = watched()
    yield
    after = watched()
    if after != before:  # names only: values may be secrets
        changed = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
        os.environ.update(before)
        for k in after.keys() - before.keys():
            os.environ.pop(k, None)
        pytest.fail(f"the test left the environment changed: {changed} (use monkeypatch)")


@pytest.fixture(autouse=True)
def _no_instance_left_current():
    """Each test starts with no Dagster instance's definitions-state storage in the context. A
    `with DagsterInstance...` that one test entered can leave that storage current after its
    instance was disposed, and the next test that builds a repository then fails on the dead
    instance ("Attempted to resolve undefined DagsterInstance weakref"): a leftover of another
    test, which depends on the order xdist happens to give."""
    from dagster._core.storage.defs_state.base import set_defs_state_storage

    with set_defs_state_storage(None):
        yield


@pytest.fixture(scope="session")
def pg18():
    server = LocalPostgres(_base_dir() / "pg18", bin_dir=embedded_bin_dir()).start()
    yield server
    server.stop("immediate")


@pytest.fixture(scope="session")
def pg15():
    bin_dir = debian_bin_dir(15)
    if bin_dir is None:
        if IN_CI:
            pytest.fail("Debian's postgresql-15 is not installed; .ci/run installs it")
        pytest.skip("Debian's postgresql-15 is not installed")
    server = LocalPostgres(_base_dir() / "pg15", bin_dir=bin_dir).start()
    yield server
    server.stop("immediate")


@dataclass
class SourceDb:
    """A fresh database with the demo schema on one of the test clusters."""

    server: LocalPostgres
    name: str
    url: str
    major: int
    has_vector: bool

    def connect(self, **kwargs) -> psycopg.Connection:
        return psycopg.connect(self.url, **kwargs)

    def execute(self, query, params=None) -> list:
        with psycopg.connect(self.url, autocommit=True) as conn:
            cur = conn.execute(query, params)
            return cur.fetchall() if cur.description else []


# One demo-schema template per cluster (so per worker and server version), seeded by the first
# test that asks for a source: each later source database is a file copy of it (`CREATE DATABASE
# ... TEMPLATE`, about 0.02 s) instead of a fresh database with the schema's DDL run again (about
# 0.1 s, a few hundred times a run). A copy starts with no statistics: pg_stat_* and
# pg_stat_statements key their rows by the new database's oid.
_TEMPLATES: dict[str, tuple[str, bool]] = {}


def _demo_template(server: LocalPostgres) -> tuple[str, bool]:
    key = str(server.data_dir)
    if key not in _TEMPLATES:
        name = f"demo_template_{os.getpid()}"
        ident = sql.Identifier(name)
        with psycopg.connect(server.url(), autocommit=True) as conn:  # a kept cluster may hold a half-made one
            if conn.execute("select 1 from pg_database where datname = %s", (name,)).fetchone():
                conn.execute(sql.SQL("alter database {} is_template false").format(ident))
                conn.execute(sql.SQL("drop database {} with (force)").format(ident))
        has_vector = demo_db.install_schema(server.create_database(name))
        with psycopg.connect(server.url(), autocommit=True) as conn:  # nobody connects to it by mistake
            conn.execute(sql.SQL("alter database {} with is_template true allow_connections false").format(ident))
        _TEMPLATES[key] = (name, has_vector)
    return _TEMPLATES[key]


def make_source_db(server: LocalPostgres, prefix: str = "src") -> SourceDb:
    """A fresh database with the demo schema, copied from the cluster's template."""
    template, has_vector = _demo_template(server)
    name = f"{prefix}_{os.getpid()}_{next(_counter)}"
    with psycopg.connect(server.url(), autocommit=True) as conn:
        conn.execute(sql.SQL("create database {} template {}").format(sql.Identifier(name),
                                                                         sql.Identifier(template)))
    major = server.server_version_num() // 10000
    return SourceDb(server, name, server.url(name), major, has_vector)


@pytest.fixture(params=["pg18", pytest.param("pg15", marks=pytest.mark.pg15)])
def source_db(request) -> SourceDb:
    """Runs the test once on PG 18 (embedded) and once on PG 15 (Debian)."""
    server = request.getfixturevalue(request.param)
    db = make_source_db(server)
    yield db
    server.drop_database(db.name)


@pytest.fixture
def source_db18(pg18) -> SourceDb:
    """PG 18 only (pgvector cases)."""
    db = make_source_db(pg18)
    yield db
    pg18.drop_database(db.name)


@pytest.fixture
def warehouse(tmp_path) -> WarehouseResource:
    return WarehouseResource(path=str(tmp_path / "warehouse.duckdb"), lock_timeout_s=60)
