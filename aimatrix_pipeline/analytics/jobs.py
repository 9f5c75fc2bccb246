"""The analytics job: every analytics asset of a project partition, or of a range of them, in
dependency order.

The extract jobs derive what their raw assets feed in the same run (`DERIVED_IN_EXTRACT_RUNS`,
extract/jobs.py). The assets also carry an eager automation condition: with the automation sensor
on, they follow a raw materialization that did not derive them (a backfill or a manual run of a raw
asset, or a range run whose step failed for one project and skipped its downstream steps). This job
is for backfills, manual runs and the demo. Every asset
it selects has `BackfillPolicy.single_run()`, so a backfill or a range run of the job derives
all its projects in one run (each one its own partition, analytics/assets.py).
"""

from __future__ import annotations

import dagster as dg

from aimatrix_pipeline.shared.partitions import PROJECTS_PARTITIONS

# Every per-project analytics table: the group without the monitoring dashboard (same group, not
# partitioned), which has its own job and schedule.
PROJECT_ANALYTICS = dg.AssetSelection.groups("analytics") - dg.AssetSelection.keys(
    dg.AssetKey(["analytics", "monitoring_dashboard"]))

ANALYTICS_JOB = dg.define_asset_job(
    "analytics_job",
    selection=PROJECT_ANALYTICS,
    partitions_def=PROJECTS_PARTITIONS,
    description="Derive every analytics.* table for a project (or a range of projects, in one run) "
    "from its raw.* rows.",
)


def derived_in_extract_runs(raw: dg.AssetSelection,
                            analytics: dg.AssetSelection = PROJECT_ANALYTICS) -> dg.AssetSelection:
    """`raw` and every per-project analytics asset downstream of it: what an extract run derives
    after its raw steps, in the same run.

    Why: as a separate run launched by the automation sensor, each extract run cost a second
    process start (2-3 s of CPU) and a sensor interval before any rule on an analytics table was
    judged; and the sensor's backfills came in pieces (~14 analytics runs queued per shard of 50 at
    200 projects, docs/benchmarks.md): Dagster's asset backfill puts a parent and its child in one
    run only when both are asked for the same partitions, and assets fed by extracts that land at
    different times (statistics, app logs, plans) were asked for different sets, so each level of
    the graph went in a run of its own. In the extract run, each derivation starts once its
    parents' steps are done, for the same range of projects. The index advice (group advisors, it connects to the source) is not
    included: it keeps its own schedule."""
    return raw | (raw.downstream() & analytics)
