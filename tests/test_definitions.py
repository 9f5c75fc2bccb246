"""The code location loads, and its public surface is snapshotted so a rename is never silent.

If a change adds or renames an asset, check, job, schedule or sensor on purpose, regenerate the
snapshot with `AIMATRIX_UPDATE_SNAPSHOTS=1 pytest tests/test_definitions.py` and commit the diff.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import dagster as dg

SNAPSHOT = Path(__file__).parent / "snapshots" / "definitions.json"


def surface(defs: dg.Definitions) -> dict:
    repo = defs.get_repository_def()
    graph = repo.asset_graph
    assets = {}
    for key in sorted(graph.get_all_asset_keys(), key=lambda k: k.to_user_string()):
        node = graph.get(key)
        assets[key.to_user_string()] = {
            "group": node.group_name,
            "kinds": sorted(node.kinds),
            "partitioned": node.partitions_def is not None,
            "has_description": bool(node.description),
        }
    checks = sorted(
        f"{k.asset_key.to_user_string()}:{k.name}" for k in graph.asset_check_keys
    )
    # the run shape: assets whose runs carry a range of partitions in one step (the batched schedules
    # request shards of projects; BackfillPolicy.single_run)
    range_runs = sorted(
        key.to_user_string() for key in graph.get_all_asset_keys()
        if graph.get(key).backfill_policy == dg.BackfillPolicy.single_run()
    )
    return {
        "assets": assets,
        "range_run_assets": range_runs,
        "asset_checks": checks,
        # each job with the assets one of its runs materializes: an extract run derives its analytics
        "jobs": {
            j.name: sorted(k.to_user_string() for k in j.asset_layer.selected_asset_keys)
            for j in sorted(repo.get_all_jobs(), key=lambda j: j.name) if not j.name.startswith("__")
        },
        "schedules": sorted(
            f"{s.name} [{s.cron_schedule}] -> {s.job_name} ({s.default_status.value})" for s in repo.schedule_defs
        ),
        "sensors": sorted(f"{s.name} ({s.default_status.value})" for s in repo.sensor_defs),
        "resources": sorted(repo.get_top_level_resources().keys()),
    }


def test_definitions_load_and_match_snapshot(monkeypatch):
    for var in ("AIMATRIX_PROJECTS_FILE", "AIMATRIX_STATS_CRON", "AIMATRIX_LOGS_CRON"):
        monkeypatch.delenv(var, raising=False)
    from aimatrix_pipeline.definitions import defs

    current = surface(defs)
    if os.environ.get("AIMATRIX_UPDATE_SNAPSHOTS") == "1":
        SNAPSHOT.parent.mkdir(exist_ok=True)
        SNAPSHOT.write_text(json.dumps(current, indent=2, sort_keys=True) + "\n")
    assert SNAPSHOT.exists(), "no snapshot yet: run with AIMATRIX_UPDATE_SNAPSHOTS=1 and commit it"
    assert current == json.loads(SNAPSHOT.read_text())


def test_every_asset_is_documented_and_typed():
    from aimatrix_pipeline.definitions import defs

    graph = defs.get_repository_def().asset_graph
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        name = key.to_user_string()
        assert node.description, f"{name} has no description"
        assert node.group_name in {"extract", "analytics", "advisors", "cost", "alerts"}, name
        assert node.kinds, f"{name} has no kinds"
