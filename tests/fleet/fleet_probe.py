"""Run in a fresh process by the fleet tests: load the code location as the environment says,
evaluate one statistics schedule tick, run the statistics job for the requested partitions, and
print what happened as JSON on the last line.

A fresh process is the honest way to "re-load definitions with a changed projects file": the
partitions are built when the code location is loaded, exactly as the webserver/daemon do.
"""

from __future__ import annotations

import json
import os
import sys
from datetime import datetime

import dagster as dg


def main() -> None:
    run_partitions = [p for p in sys.argv[1:] if p]
    from aimatrix_pipeline.definitions import defs
    from aimatrix_pipeline.shared.partitions import PROJECTS_PARTITIONS

    schedule = defs.get_schedule_def("snapshot_statistics")
    ticks = [datetime.fromisoformat(t) for t in os.environ.get("FLEET_PROBE_TICKS", "2026-03-01T12:00:00+00:00").split(",")]
    tick = ticks[0]
    with dg.instance_for_test() as instance:
        ctx = dg.build_schedule_context(
            instance=instance, scheduled_execution_time=tick, repository_def=defs.get_repository_def()
        )
        requests = schedule.evaluate_tick(ctx).run_requests or []
        job = defs.get_job_def("extract_statistics")
        runs = {}
        for partition in run_partitions:
            for run_tick in ticks:  # every tick replaces its own snapshot; the last result is kept
                result = job.execute_in_process(
                    partition_key=partition,
                    instance=instance,
                    raise_on_error=False,
                    tags={"aimatrix/project": partition, "dagster/scheduled_execution_time": run_tick.isoformat()},
                )
            failures = {}
            for event in result.get_step_failure_events():
                data = event.step_failure_data
                text = data.user_failure_data.description if data.user_failure_data else None
                failures[event.step_key] = text or (data.error.message if data.error else "")
            succeeded = [e.step_key for e in result.get_step_success_events()]
            runs[partition] = {"success": result.success, "failures": failures, "succeeded": succeeded}
    print(json.dumps({
        "partitions": PROJECTS_PARTITIONS.get_partition_keys(),
        "requests": [{"partition": r.partition_key, "tags": dict(r.tags)} for r in requests],
        "runs": runs,
    }))


if __name__ == "__main__":
    main()
