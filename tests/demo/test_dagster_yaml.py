"""The repository's dagster.yaml loads on Dagster 1.13 and puts runs into PostgreSQL."""

from __future__ import annotations

import shutil
from pathlib import Path

import dagster as dg
import psycopg
import pytest
import yaml

from aimatrix_pipeline.demo.runner import repo_root
from aimatrix_pipeline.resources import WAREHOUSE_POOL

DAGSTER_YAML = Path(__file__).resolve().parents[2] / "dagster.yaml"


@pytest.fixture
def instance(pg18, tmp_path, monkeypatch):
    """A DagsterInstance from the repo's dagster.yaml, storage in a fresh database on PG 18."""
    name = f"dagster_{tmp_path.name[-20:].replace('-', '_').lower()}"
    pg18.drop_database(name)
    url = pg18.create_database(name)
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copyfile(DAGSTER_YAML, home / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    # SQLAlchemy 2.1 maps postgresql:// to psycopg 3, which dagster-postgres' NOTIFY cannot use.
    monkeypatch.setenv("DAGSTER_PG_URL", url.replace("postgresql://", "postgresql+psycopg2://"))
    with dg.DagsterInstance.get() as inst:
        yield inst, url
    pg18.drop_database(name)


def test_repo_root_finds_this_checkout():
    assert repo_root() / "dagster.yaml" == DAGSTER_YAML


def test_storage_is_postgres_and_runs_are_recorded_there(instance):
    inst, url = instance
    assert type(inst.run_storage).__module__.startswith("dagster_postgres")
    assert type(inst.event_log_storage).__module__.startswith("dagster_postgres")
    assert type(inst.schedule_storage).__module__.startswith("dagster_postgres")

    @dg.asset(pool=WAREHOUSE_POOL)
    def tiny_warehouse_writer() -> int:
        return 1

    result = dg.materialize([tiny_warehouse_writer], instance=inst)
    assert result.success
    with psycopg.connect(url) as conn:
        status = conn.execute("select status from runs where run_id = %s", (result.run_id,)).fetchone()
        events = conn.execute(
            "select count(*) from event_logs where run_id = %s and dagster_event_type = 'ASSET_MATERIALIZATION'",
            (result.run_id,),
        ).fetchone()[0]
    assert status == ("SUCCESS",)
    assert events == 1


def test_limits_are_what_the_file_says(instance):
    inst, _ = instance
    doc = yaml.safe_load(DAGSTER_YAML.read_text())
    config = inst.get_concurrency_config()
    assert config.pool_config.default_pool_limit == doc["concurrency"]["pools"]["default_limit"] == 1
    assert config.pool_config.pool_granularity.value == doc["concurrency"]["pools"]["granularity"] == "run"
    assert config.run_queue_config.max_concurrent_runs == doc["concurrency"]["runs"]["max_concurrent_runs"]
    assert config.run_queue_config.tag_concurrency_limits == doc["concurrency"]["runs"]["tag_concurrency_limits"]
    assert doc["telemetry"] == {"enabled": False}
    assert inst.telemetry_enabled is False


def test_the_pool_serialises_warehouse_writers(instance):
    """The pool gets the file's default limit (1 slot): a second holder waits for the first."""
    inst, _ = instance
    storage = inst.event_log_storage
    assert storage.initialize_concurrency_limit_to_default(WAREHOUSE_POOL)
    assert storage.get_concurrency_info(WAREHOUSE_POOL).slot_count == 1
    first = storage.claim_concurrency_slot(WAREHOUSE_POOL, "run-a", "raw__table_stats")
    second = storage.claim_concurrency_slot(WAREHOUSE_POOL, "run-b", "raw__index_stats")
    assert first.is_claimed
    assert not second.is_claimed
    storage.free_concurrency_slot_for_step("run-a", "raw__table_stats")
    again = storage.claim_concurrency_slot(WAREHOUSE_POOL, "run-b", "raw__index_stats")
    assert again.is_claimed
