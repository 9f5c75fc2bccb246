"""The scale-out configuration in deploy/ is valid, and the warehouse switch is configuration.

Instance files are validated with Dagster's own instance schema, and the run launcher and run
coordinator configs with the classes' own config schemas (dagster-k8s and dagster-docker are dev
dependencies, so the real classes are loaded). The Docker instance is loaded for real on
PostgreSQL storage (the embedded PG 18). Workspaces are validated with Dagster's workspace schema
and their code locations load and together cover the whole code location.
"""

from __future__ import annotations

import importlib
import shutil
from pathlib import Path

import dagster as dg
import duckdb
import pytest
import yaml
from dagster._config import process_config, resolve_to_config_type
from dagster._core.errors import DagsterInvalidConfigError
from dagster._core.instance.config import dagster_instance_config
from dagster._core.workspace.config_schema import ensure_workspace_config

ROOT = Path(__file__).resolve().parents[2]
INSTANCE_FILES = [ROOT / "dagster.yaml", ROOT / "deploy/k8s/dagster.yaml", ROOT / "deploy/docker/dagster.yaml"]
WORKSPACES = [ROOT / "deploy/k8s/workspace.yaml", ROOT / "deploy/docker/workspace.yaml"]


def _validate_instance(path: Path, tmp_path: Path) -> dict:
    home = tmp_path / path.parent.name
    home.mkdir(exist_ok=True)
    shutil.copy(path, home / "dagster.yaml")
    config, _ = dagster_instance_config(str(home))
    for key in ("run_launcher", "run_coordinator"):
        if key in config:
            cls = getattr(importlib.import_module(config[key]["module"]), config[key]["class"])
            result = process_config(resolve_to_config_type(cls.config_type()), config[key].get("config") or {})
            assert result.success, f"{path}: {key}: {[e.message for e in result.errors]}"
    return config


@pytest.mark.parametrize("path", INSTANCE_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_instance_files_validate(path, tmp_path, monkeypatch):
    monkeypatch.setenv("DAGSTER_PG_URL", "postgresql://dagster:x@127.0.0.1:5432/dagster")
    config = _validate_instance(path, tmp_path)
    if "deploy" in path.parts:
        assert config["run_coordinator"]["class"] == "QueuedRunCoordinator"
        runs = config["concurrency"]["runs"]
        assert runs["max_concurrent_runs"] > 1
        limits = {lim["key"]: lim for lim in runs["tag_concurrency_limits"]}
        assert limits["aimatrix/project"]["limit"] == 2
        assert limits["aimatrix/project"]["value"] == {"applyLimitPerUniqueValue": True}
        # scheduled runs carry a shard of projects: the limit applies per shard too
        assert limits["aimatrix/shard"]["limit"] == 2
        assert limits["aimatrix/shard"]["value"] == {"applyLimitPerUniqueValue": True}
        assert config["run_launcher"]["class"] in ("K8sRunLauncher", "DockerRunLauncher")


def test_validation_catches_a_broken_launcher_config(tmp_path, monkeypatch):
    monkeypatch.setenv("DAGSTER_PG_URL", "postgresql://dagster:x@127.0.0.1:5432/dagster")
    doc = yaml.safe_load((ROOT / "deploy/k8s/dagster.yaml").read_text())
    doc["run_launcher"]["config"]["job_namespce"] = doc["run_launcher"]["config"].pop("job_namespace")
    broken = tmp_path / "broken" / "instance.yaml"
    broken.parent.mkdir()
    broken.write_text(yaml.safe_dump(doc))
    with pytest.raises(AssertionError, match="job_namespce"):
        _validate_instance(broken, tmp_path)
    doc = yaml.safe_load((ROOT / "deploy/docker/dagster.yaml").read_text())
    doc["concurrency"]["runs"]["max_concurrent_runs"] = "eight"
    broken.write_text(yaml.safe_dump(doc))
    with pytest.raises(DagsterInvalidConfigError):
        _validate_instance(broken, tmp_path)
    doc = yaml.safe_load((ROOT / "deploy/docker/dagster.yaml").read_text())
    doc["run_coordinator"]["config"]["max_concurrent_runs"] = 8  # conflicts with concurrency.runs
    broken.write_text(yaml.safe_dump(doc))
    with pytest.raises(DagsterInvalidConfigError, match="incompatible"):
        _validate_instance(broken, tmp_path)


def test_docker_instance_loads_on_postgres_storage(pg18, tmp_path, monkeypatch):
    from dagster_docker import DockerRunLauncher

    url = pg18.create_database("dagster_deploy_check")
    monkeypatch.setenv("DAGSTER_PG_URL", url)
    home = tmp_path / "home"
    home.mkdir()
    shutil.copy(ROOT / "deploy/docker/dagster.yaml", home / "dagster.yaml")
    instance = dg.DagsterInstance.from_config(str(home))
    try:
        assert isinstance(instance.run_launcher, DockerRunLauncher)
        assert type(instance.run_coordinator).__name__ == "QueuedRunCoordinator"
        queue = instance.get_concurrency_config().run_queue_config
        assert queue.max_concurrent_runs == 8
        assert [lim["key"] for lim in queue.tag_concurrency_limits] == ["aimatrix/shard", "aimatrix/project",
                                                                          "dagster/backfill"]
        assert instance.get_runs() == []  # the storage really is the PostgreSQL database
    finally:
        instance.dispose()
        pg18.drop_database("dagster_deploy_check")


@pytest.mark.parametrize("path", WORKSPACES, ids=lambda p: str(p.relative_to(ROOT)))
def test_workspaces_validate_and_match_the_code_servers(path):
    workspace = yaml.safe_load(path.read_text())
    ensure_workspace_config(workspace, str(path))
    servers = {e["grpc_server"]["host"]: e["grpc_server"] for e in workspace["load_from"]}
    assert set(servers) == {"aimatrix-extract", "aimatrix-derived"}

    if "k8s" in path.parts:
        values = yaml.safe_load((path.parent / "values.yaml").read_text())
        deployments = {d["name"]: d for d in values["dagster-user-deployments"]["deployments"]}
        args = {name: d["dagsterApiGrpcArgs"] for name, d in deployments.items()}
        ports = {name: d["port"] for name, d in deployments.items()}
    else:
        compose = yaml.safe_load((path.parent / "docker-compose.yml").read_text())
        args = {name: compose["services"][name]["command"] for name in servers}
        ports = {name: int(cmd[cmd.index("-p") + 1]) for name, cmd in args.items()}
    for host, server in servers.items():
        assert ports[host] == server["port"]
        cmd = args[host]
        module, attr = cmd[cmd.index("-m") + 1], cmd[cmd.index("-a") + 1]
        assert isinstance(getattr(importlib.import_module(module), attr), dg.Definitions)


def test_code_locations_split_the_whole_code_location():
    from aimatrix_pipeline.definitions import defs
    from aimatrix_pipeline.locations import derived_defs, extract_defs

    def keys(d):
        repo = d.get_repository_def()
        return set(repo.asset_graph.get_all_asset_keys()) - {
            k for k in repo.asset_graph.get_all_asset_keys() if repo.asset_graph.get(k).is_external
        }

    extract, derived = keys(extract_defs), keys(derived_defs)
    assert extract and derived and not (extract & derived)
    assert extract | derived == keys(defs)
    assert dg.AssetKey(["raw", "snapshot_retention"]) in extract


# -- the warehouse behind one resource -----------------------------------------------------------
def test_warehouse_kind_is_configuration(monkeypatch, tmp_path):
    from aimatrix_pipeline.resources import shared_resources
    from aimatrix_pipeline.resources.ducklake_warehouse import DuckLakeWarehouseResource
    from aimatrix_pipeline.resources.warehouse import WarehouseResource, warehouse_from_env

    monkeypatch.setenv("AIMATRIX_WAREHOUSE", str(tmp_path / "w.duckdb"))
    plain = shared_resources()["warehouse"]
    assert type(plain) is WarehouseResource and type(warehouse_from_env()) is WarehouseResource

    monkeypatch.setenv("AIMATRIX_WAREHOUSE", "ducklake:postgres:host=127.0.0.1 dbname=lake user=aimatrix")
    monkeypatch.setenv("AIMATRIX_WAREHOUSE_DATA_PATH", str(tmp_path / "lake"))
    lake = shared_resources()["warehouse"]
    assert isinstance(lake, DuckLakeWarehouseResource) and isinstance(lake, WarehouseResource)
    assert isinstance(warehouse_from_env(), DuckLakeWarehouseResource)
    assert lake.file == (tmp_path / "lake").resolve()


def _ducklake_usable() -> bool:
    from aimatrix_pipeline.resources.ducklake_warehouse import WarehouseConfigError, extension_file

    try:
        extension_file("ducklake")
        extension_file("postgres_scanner")
        return True
    except WarehouseConfigError:
        return False


@pytest.mark.slow  # the whole warehouse schema created in a DuckLake catalog, as tests/lake/ does
def test_ducklake_warehouse_on_postgres_catalog(pg18, tmp_path):
    """Round trip when the version-matched extensions are installed; otherwise the clear refusal.

    (The project pins DuckDB 1.5.5 and installs its extension packages, so the round trip is what
    runs; tests/lake/ covers DuckLake in depth.)
    """
    from aimatrix_pipeline.resources.ducklake_warehouse import DuckLakeWarehouseResource, WarehouseConfigError

    pg18.create_database("aimatrix_lake_check")
    lake = DuckLakeWarehouseResource(
        path=f"ducklake:postgres:host=127.0.0.1 port={pg18.port} dbname=aimatrix_lake_check user=postgres",
        data_path=str(tmp_path / "lake"),
    )
    try:
        if not _ducklake_usable():
            with pytest.raises(WarehouseConfigError, match=rf"duckdb-extension-.*{duckdb.__version__}"), \
                    lake.writer():
                pass
            return
        with lake.transaction() as conn:
            conn.execute("insert into raw.error_events (project, id, created_at) values ('p1', uuid(), now())")
        with lake.reader() as conn:
            assert conn.execute("select count(*) from raw.error_events").fetchone()[0] == 1
    finally:
        pg18.drop_database("aimatrix_lake_check")
