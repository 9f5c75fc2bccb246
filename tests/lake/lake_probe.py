"""Run in a fresh process by the DuckLake tests (one process = one host's run worker): load the code
location as the environment says (`AIMATRIX_WAREHOUSE=ducklake:...`) and materialize assets.

  lake_probe.py all                       every asset once, as `aimatrix-pipeline demo` does
  lake_probe.py extract <project> <ts>... the extract assets of one project, once per snapshot time

Prints JSON on the last line: per run, success, failed steps and the rows each materialization
reported (`rows/<table>` metadata), so the test can check every row in the warehouse.
"""

from __future__ import annotations

import io
import json
import sys

import dagster as dg


def _rows(result) -> dict[str, int]:
    rows: dict[str, int] = {}
    for event in result.get_asset_materialization_events():
        for key, value in event.materialization.metadata.items():
            if key.startswith("rows/"):
                rows[key[5:]] = rows.get(key[5:], 0) + int(value.value)
    return rows


def main() -> None:
    mode, args = sys.argv[1], sys.argv[2:]
    out: dict = {"runs": []}
    with dg.instance_for_test() as instance:
        if mode == "all":
            from aimatrix_pipeline.demo.runner import materialize_all

            log = io.StringIO()
            for batch in materialize_all(instance, log):
                out["runs"].append({"partition": batch.partition_key, "assets": batch.asset_keys,
                                    "success": batch.success, "failed": batch.failed_steps})
        else:
            from aimatrix_pipeline.definitions import defs
            from aimatrix_pipeline.extract.assets import ALL_ASSETS, SNAPSHOT_ASSETS

            project, ticks = args[0], args[1:]
            graph = defs.resolve_asset_graph()
            assets = list(graph.assets_defs)
            keys = [a.key for a in ALL_ASSETS]
            for tick in ticks:
                ops = {a.key.to_python_identifier(): {"config": {"snapshot_at": tick}} for a in SNAPSHOT_ASSETS}
                result = dg.materialize(assets, instance=instance, partition_key=project,
                                        selection=dg.AssetSelection.assets(*keys),
                                        run_config={"ops": ops}, raise_on_error=False)
                failed = {e.step_key: (e.step_failure_data.error.message if e.step_failure_data.error else "")
                          for e in result.get_step_failure_events()}
                out["runs"].append({"partition": project, "tick": tick, "success": result.success,
                                    "failed": failed, "rows": _rows(result)})
    print(json.dumps(out, default=str))


if __name__ == "__main__":
    main()
