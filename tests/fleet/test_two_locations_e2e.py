"""The two-location deployment of deploy/, run for real on one machine: nobody launches anything.

Every process a container would run is started here from the installed package (the wheel of
tests/installed_package.py in a fresh venv, built once per suite; the checkout is not importable): the extract and derived
code servers as gRPC servers with exactly the commands deploy/ declares (`dagster code-server
start` as in the compose file, `dagster api grpc` with the Helm values' arguments), a workspace of
`grpc_server` entries with the deploy workspace's location names, and `dagster-daemon` with the
`QueuedRunCoordinator` and the deploy instance's queue limits on PostgreSQL storage (the embedded
PG 18). Runs go through the default launcher (each code server starts its run workers) instead of
Docker/Kubernetes. The warehouse is DuckLake: catalog on PostgreSQL, data on a directory.

The statistics schedule ticks once a minute for a few minutes (`AIMATRIX_STATS_CRON`), the other
schedules are out of the way, the automation sensor evaluates every 5 s. Checked: the scheduled
extract ran in the extract location through the queue and its rows are in the lake; the
automation sensor of the derived location then derived analytics from them, also in the lake.
Every process is killed at the end, and none is left.
"""

from __future__ import annotations

import importlib.metadata
import os
import signal
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import psutil
import pytest
import yaml

from aimatrix_pipeline.demo.local_postgres import free_port
from aimatrix_pipeline.resources.ducklake_warehouse import DuckLakeWarehouseResource
from tests.installed_package import clean_env

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
DEADLINE_S = 600  # per phase; about a minute each on an idle 2-core machine
TICKS = 5  # statistics ticks a minute apart from the next minute (enough to outlast a slow start)
FAST = {
    "AIMATRIX_LOGS_CRON": "0 0 1 1 *",
    "AIMATRIX_APPSIGNALS_CRON": "0 0 1 1 *",
    "AIMATRIX_DASHBOARD_CRON": "0 0 1 1 *",
    "AIMATRIX_RETENTION_CRON": "0 0 1 1 *",
    "AIMATRIX_AUTOMATION_INTERVAL_S": "5",
}
AUTOMATION_SENSOR = "derive_analytics_when_raw_data_lands"
SCRIPTS = ("dagster", "dagster-daemon")


def _console_scripts(python: Path) -> Path:
    """Dagster's console scripts in the venv, from its own entry points, as pip writes them (the
    venv gets the dependencies through a .pth line, so pip did not write them there)."""
    bin_dir = python.parent
    entry_points = {ep.name: ep for ep in importlib.metadata.distribution("dagster").entry_points
                    if ep.group == "console_scripts" and ep.name in SCRIPTS}
    assert set(entry_points) == set(SCRIPTS), entry_points
    for name, ep in entry_points.items():
        module, func = ep.module, ep.attr
        script = bin_dir / name
        script.write_text(f"#!{python}\nimport sys\nfrom {module} import {func}\n"
                          f"if __name__ == '__main__':\n    sys.exit({func}())\n")
        script.chmod(0o755)
    return bin_dir


def _deploy_servers() -> dict[str, dict]:
    """location name -> (command, port) of its code server, from the compose file (extract) and
    the Helm values (derived), with the host and port made local."""
    workspace = yaml.safe_load((DEPLOY / "docker/workspace.yaml").read_text())
    locations = {e["grpc_server"]["host"]: e["grpc_server"]["location_name"] for e in workspace["load_from"]}
    compose = yaml.safe_load((DEPLOY / "docker/docker-compose.yml").read_text())
    values = yaml.safe_load((DEPLOY / "k8s/values.yaml").read_text())
    helm_args = {d["name"]: d["dagsterApiGrpcArgs"] for d in values["dagster-user-deployments"]["deployments"]}
    servers = {}
    port = free_port()
    cmd = list(compose["services"]["aimatrix-extract"]["command"])
    cmd[cmd.index("-h") + 1], cmd[cmd.index("-p") + 1] = "127.0.0.1", str(port)
    servers[locations["aimatrix-extract"]] = {"command": cmd, "port": port}
    port = free_port()
    cmd = ["dagster", "api", "grpc", "-h", "127.0.0.1", "-p", str(port), *helm_args["aimatrix-derived"]]
    servers[locations["aimatrix-derived"]] = {"command": cmd, "port": port}
    return servers


def _stats_cron(now: datetime) -> str:
    """A few ticks a minute apart, then none: an extract run in progress holds back the eager
    derivations of its project, so a tick every minute forever could keep them waiting."""
    minutes = sorted({(now.minute + k) % 60 for k in range(1, TICKS + 1)})
    return f"{','.join(map(str, minutes))} * * * *"


def _instance_yaml(home: Path) -> None:
    """The Docker deployment's instance (queue, limits, DuckLake's warehouse pool of 4, storage),
    with the default run launcher instead of Docker's."""
    doc = yaml.safe_load((DEPLOY / "docker/dagster.yaml").read_text())
    assert doc["concurrency"]["pools"]["default_limit"] > 1
    doc.pop("run_launcher")
    (home / "dagster.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))


class Processes:
    """Each process in its own session; stop() kills the groups and every descendant seen."""

    def __init__(self, work: Path, env: dict[str, str]):
        self.work, self.env, self.procs = work, env, {}

    def start(self, name: str, command: list[str]) -> None:
        log = open(self.work / f"{name}.log", "w")  # noqa: SIM115 - closed in stop()
        proc = subprocess.Popen(command, env=self.env, cwd=self.work, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
        self.procs[name] = (proc, log)

    def check_alive(self) -> None:
        for name, (proc, _) in self.procs.items():
            if proc.poll() is not None:
                raise AssertionError(f"{name} exited ({proc.returncode}):\n{self.tail(name)}")

    def tail(self, name: str, chars: int = 4000) -> str:
        return (self.work / f"{name}.log").read_text(errors="replace")[-chars:]

    def tails(self) -> str:
        return "\n".join(f"--- {n}\n{self.tail(n, 2500)}" for n in self.procs)

    def stop(self) -> list[int]:
        seen: list[psutil.Process] = []
        for proc, _ in self.procs.values():
            try:
                seen += psutil.Process(proc.pid).children(recursive=True)
            except psutil.Error:
                pass
        for sig in (signal.SIGTERM, signal.SIGKILL):
            for proc, _ in self.procs.values():
                try:
                    os.killpg(proc.pid, sig)
                except ProcessLookupError:
                    pass
            for p in seen:
                try:
                    p.send_signal(sig)
                except psutil.Error:
                    pass
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and any(p.poll() is None for p, _ in self.procs.values()):
                time.sleep(0.2)
            _, alive = psutil.wait_procs(seen, timeout=10)
            if not alive and all(p.poll() is not None for p, _ in self.procs.values()):
                break
        for proc, log in self.procs.values():
            proc.wait(10)
            log.close()
        return [p.pid for p in seen if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]


def _wait(predicate, what: str, procs: Processes, timeout_s: float = DEADLINE_S):
    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if value:
            return value
        procs.check_alive()
        if time.monotonic() > deadline:
            raise AssertionError(f"no {what} within {timeout_s:.0f} s\n{procs.tails()}")
        time.sleep(2)


def _server_ready(port: int) -> bool:
    from dagster._grpc.client import DagsterGrpcClient

    try:
        DagsterGrpcClient(port=port, host="127.0.0.1").list_repositories()
        return True
    except Exception:  # noqa: BLE001 - not up (or still loading its code) yet
        return False


def _runs(instance, **tags) -> list:
    return [r for r in instance.get_runs(filters=dg.RunsFilter(tags=tags))]


def test_scheduled_extract_and_derived_analytics_land_in_ducklake_across_two_locations(
        venv_python, source_db18, pg18, tmp_path, monkeypatch):
    work = tmp_path / "deploy"
    home = work / "dagster_home"
    home.mkdir(parents=True)
    suffix = os.getpid()
    dagster_url = pg18.create_database(f"dagster_two_locations_{suffix}")
    lake_db = f"lake_two_locations_{suffix}"
    pg18.create_database(lake_db)
    catalog = f"ducklake:postgres:host=127.0.0.1 port={pg18.port} dbname={lake_db} user=postgres"
    data = work / "lake"
    bin_dir = _console_scripts(venv_python)
    env = clean_env(
        DAGSTER_HOME=str(home), DAGSTER_PG_URL=dagster_url, SUPABASE_DB_URL=source_db18.url,
        AIMATRIX_WAREHOUSE=catalog, AIMATRIX_WAREHOUSE_DATA_PATH=str(data),
        AIMATRIX_ALERT_STATE=str(work / "alerts_outbox.sqlite"),
        AIMATRIX_STATS_CRON=_stats_cron(datetime.now(UTC)), **FAST,
    )
    env["PATH"] = os.pathsep.join([str(bin_dir), "/usr/bin", "/bin"])
    _instance_yaml(home)
    servers = _deploy_servers()
    (work / "workspace.yaml").write_text(yaml.safe_dump({"load_from": [
        {"grpc_server": {"host": "127.0.0.1", "port": s["port"], "location_name": name}}
        for name, s in servers.items()]}))

    procs = Processes(work, env)
    instance = None
    leftovers: list[int] = []
    try:
        for name, server in servers.items():
            procs.start(name, [str(bin_dir / server["command"][0]), *server["command"][1:]])
        for name, server in servers.items():
            _wait(lambda port=server["port"]: _server_ready(port), f"code server {name}", procs, 300)
        procs.start("daemon", [str(bin_dir / "dagster-daemon"), "run", "-w", str(work / "workspace.yaml")])

        monkeypatch.setenv("DAGSTER_PG_URL", dagster_url)
        instance = dg.DagsterInstance.from_config(str(home))
        assert type(instance.run_coordinator).__name__ == "QueuedRunCoordinator"

        def extract_done():
            runs = _runs(instance, **{"dagster/schedule_name": "snapshot_statistics"})
            return [r for r in runs if r.status == dg.DagsterRunStatus.SUCCESS]

        extract = _wait(extract_done, "successful scheduled extract run", procs)[0]

        def analytics_done():
            runs = _runs(instance, **{"dagster/sensor_name": AUTOMATION_SENSOR})
            return [r for r in runs if r.status == dg.DagsterRunStatus.SUCCESS
                    and dg.AssetKey(["analytics", "database_health"]) in (r.asset_selection or ())]

        derived = _wait(analytics_done, "successful analytics run from the automation sensor", procs)[0]
        enqueued = {r.run_id for r in (extract, derived)
                    if instance.all_logs(r.run_id, of_type=dg.DagsterEventType.RUN_ENQUEUED)}
        all_runs = instance.get_runs()
    finally:
        leftovers = procs.stop()
        if instance is not None:
            instance.dispose()

    try:
        # the extract ran in the extract location, the derivation in the derived one, both queued
        assert extract.job_name == "extract_statistics"
        assert extract.remote_job_origin.location_name == "aimatrix_extract"
        assert extract.tags["aimatrix/project"] == "default"  # what the per-project queue limit keys on
        assert derived.remote_job_origin.location_name == "aimatrix_derived"
        assert derived.tags.get("dagster/partition") == "default"
        assert enqueued == {extract.run_id, derived.run_id}
        assert all(r.tags.get("dagster/schedule_name") or r.tags.get("dagster/sensor_name") for r in all_runs)

        # both landed in the DuckLake warehouse: catalog on PostgreSQL, Parquet in the data dir
        lake = DuckLakeWarehouseResource(path=catalog, data_path=str(data))
        with lake.reader() as conn:
            raw_rows = conn.execute("select count(*) from raw.table_stats where project = 'default'").fetchone()[0]
            health = conn.execute("select count(*) from analytics.database_health "
                                  "where project = 'default'").fetchone()[0]
        assert raw_rows > 0 and health > 0
        assert list(data.rglob("*.parquet"))
        assert not list(work.rglob("*.duckdb"))  # no file warehouse anywhere: every writer used the lake
        assert leftovers == []
    finally:
        pg18.drop_database(lake_db)
        pg18.drop_database(f"dagster_two_locations_{suffix}")
