"""A code location of the analytics assets over four project partitions, for the batch tests.

The code location's own partitions are the projects of the projects file, read when it loads (one,
`default`, in the test process), so the tests build the same analytics assets (`build_asset`)
over `p1..p4`. The extract is stood in for by one asset per raw key the analytics read, with the
extract's shape (partitioned by project, `BackfillPolicy.single_run()`): the tests need its
materializations, not its source reads (tests/fleet covers those). With the real automation
sensor.
"""

import dagster as dg

from aimatrix_pipeline.analytics.assets import SPECS, build_asset
from aimatrix_pipeline.analytics.jobs import ANALYTICS_JOB
from aimatrix_pipeline.analytics.sensors import DERIVE_ANALYTICS_SENSOR
from aimatrix_pipeline.resources.settings_resource import SettingsResource
from aimatrix_pipeline.resources.warehouse import WarehouseResource
from aimatrix_pipeline.shared.selections import derived_in_extract_runs

PROJECTS = ["p1", "p2", "p3", "p4"]
PARTITIONS = dg.StaticPartitionsDefinition(PROJECTS)
ASSETS = [build_asset(spec, PARTITIONS) for spec in SPECS]
RAW_KEYS = sorted({d for spec in SPECS for d in spec.deps if d.path[0] == "raw"}, key=str)


@dg.multi_asset(specs=[dg.AssetSpec(k, partitions_def=PARTITIONS, group_name="extract") for k in RAW_KEYS],
                backfill_policy=dg.BackfillPolicy.single_run(), name="extract_shard")
def extract_shard(context: dg.AssetExecutionContext):
    """The extract's materializations of the run's projects (the rows are written by the test)."""
    for key in RAW_KEYS:
        yield dg.MaterializeResult(asset_key=key, metadata={"projects": ", ".join(context.partition_keys)})


EXTRACT_JOB = dg.define_asset_job("extract_shard_job", selection=[extract_shard], partitions_def=PARTITIONS)
# the extract as the code location's extract jobs are: the raw step, then the analytics it feeds
EXTRACT_AND_DERIVE_JOB = dg.define_asset_job(
    "extract_and_derive_job", partitions_def=PARTITIONS,
    selection=derived_in_extract_runs(dg.AssetSelection.assets(extract_shard), dg.AssetSelection.groups("analytics")))
# the analytics job over these partitions (its selection is the group without the monitoring
# dashboard, which this location does not have)
BATCH_ANALYTICS_JOB = dg.define_asset_job(ANALYTICS_JOB.name, selection=dg.AssetSelection.groups("analytics"),
                                          partitions_def=PARTITIONS)


def definitions(warehouse_path: str) -> dg.Definitions:
    return dg.Definitions(
        assets=[*ASSETS, extract_shard], jobs=[BATCH_ANALYTICS_JOB, EXTRACT_JOB, EXTRACT_AND_DERIVE_JOB], sensors=[DERIVE_ANALYTICS_SENSOR],
        resources={"warehouse": WarehouseResource(path=warehouse_path), "settings": SettingsResource()},
    )


def _location() -> dg.Definitions:
    import os

    return definitions(os.environ.get("AIMATRIX_WAREHOUSE", "warehouse.duckdb"))


defs = _location()
