"""Run in a fresh process by the batch-run tests: load the code location as the environment says
(the projects file decides the partitions), run one job over a range of project partitions, the way
a scheduled shard runs, and print what Dagster recorded as JSON on the last line.

argv: job name, first partition, last partition. Environment: the projects file and DSNs, plus
BATCH_PROBE_TICK (the tick the run stands for) and BATCH_PROBE_WATCH_URL (a database whose
sessions named `aimatrix_pipeline` are counted while the run goes, to see the connection cap).
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time

import dagster as dg
import psycopg


def _watch(url: str, stop: threading.Event, peak: dict) -> None:
    """Sample our sessions on the watched database's server, per database, until `stop`."""
    with psycopg.connect(url, autocommit=True) as conn:
        while not stop.is_set():
            rows = conn.execute("select datname, count(*) from pg_stat_activity "
                                "where application_name = 'aimatrix_pipeline' group by datname").fetchall()
            for datname, n in rows:
                peak[datname] = max(peak.get(datname, 0), int(n))
            time.sleep(0.01)


def main() -> None:
    job_name, first, last = sys.argv[1:4]
    from aimatrix_pipeline.definitions import defs

    job = defs.get_job_def(job_name)
    tick = os.environ.get("BATCH_PROBE_TICK", "2026-03-01T12:00:00+00:00")
    peak: dict[str, int] = {}
    stop = threading.Event()
    watcher = None
    if os.environ.get("BATCH_PROBE_WATCH_URL"):
        watcher = threading.Thread(target=_watch, args=(os.environ["BATCH_PROBE_WATCH_URL"], stop, peak), daemon=True)
        watcher.start()
    tags = {"dagster/scheduled_execution_time": tick}
    if first == last:
        kwargs = {"partition_key": first}
    else:
        tags.update({"dagster/asset_partition_range_start": first, "dagster/asset_partition_range_end": last})
        kwargs = {}
    with dg.instance_for_test() as instance:
        result = job.execute_in_process(instance=instance, raise_on_error=False, tags=tags, **kwargs)
        stop.set()
        if watcher:
            watcher.join(5)
        failures = {}
        for event in result.get_step_failure_events():
            data = event.step_failure_data
            text = data.user_failure_data.description if data.user_failure_data else None
            failures[event.step_key] = text or (data.error.message if data.error else "")
        materialized: dict[str, dict[str, str]] = {}
        checks: dict[str, dict[str, str]] = {}
        for key in job.asset_layer.executable_asset_keys:
            name = key.to_user_string()
            for record in instance.fetch_materializations(key, limit=1000).records:
                m = record.asset_materialization
                project = m.metadata.get("project")
                materialized.setdefault(name, {})[m.partition] = getattr(project, "value", project)
        for check_key in job.asset_layer.asset_graph.asset_check_keys:
            history = instance.event_log_storage.get_asset_check_execution_history(check_key, limit=1000)
            name = f"{check_key.asset_key.to_user_string()}:{check_key.name}"
            for record in history:
                checks.setdefault(name, {})[str(record.partition)] = record.status.value
    print(json.dumps({"success": result.success, "failures": failures, "materialized": materialized,
                      "checks": checks, "peak_sessions": peak}))


if __name__ == "__main__":
    main()
