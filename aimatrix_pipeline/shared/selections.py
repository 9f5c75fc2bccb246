"""Asset selections that more than one domain (and the composition root) agree on.

The per-project analytics are selected by group, so the extract jobs can end with the analytics
their raw assets feed without the extract domain importing the analytics domain.
"""

from __future__ import annotations

import dagster as dg

# Every per-project analytics table: the group without the monitoring dashboard (same group, not
# partitioned), which has its own job and schedule.
PROJECT_ANALYTICS = dg.AssetSelection.groups("analytics") - dg.AssetSelection.keys(
    dg.AssetKey(["analytics", "monitoring_dashboard"]))


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
    parents' steps are done, for the same range of projects. The index advice (group advisors, it
    connects to the source) is not included: it keeps its own schedule. A split deployment narrows
    the extract jobs to their raw assets (`build_definitions`)."""
    return raw | (raw.downstream() & analytics)
