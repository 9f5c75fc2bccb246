"""Helpers for extract tests: materialize extract assets for the `default` project."""

from __future__ import annotations

import dagster as dg

from aimatrix_pipeline.extract.assets import ALL_ASSETS, APP_LOG_ASSETS, SNAPSHOT_ASSETS
from aimatrix_pipeline.resources.settings_resource import SettingsResource
from aimatrix_pipeline.resources.source_postgres import SourcePostgresResource

PROJECT = "default"


def op_name(asset: dg.AssetsDefinition) -> str:
    return asset.key.to_python_identifier()


def materialize(assets, warehouse, *, snapshot_at: str | None = None, raise_on_error=True,
                instance=None, log_config: dict | None = None):
    ops = {}
    for a in assets:
        if a in SNAPSHOT_ASSETS and snapshot_at:
            ops[op_name(a)] = {"config": {"snapshot_at": snapshot_at}}
        if a in APP_LOG_ASSETS and log_config:
            ops[op_name(a)] = {"config": log_config}
    return dg.materialize(
        assets,
        partition_key=PROJECT,
        resources={"warehouse": warehouse, "source": SourcePostgresResource(statement_timeout_ms=20_000),
                   "settings": SettingsResource()},
        run_config={"ops": ops} if ops else None,
        raise_on_error=raise_on_error,
        instance=instance,
    )


def failed_steps(result) -> dict[str, str]:
    """step key -> failure message, for a run materialized with raise_on_error=False."""
    out = {}
    for event in result.all_events:
        if event.event_type_value == "STEP_FAILURE":
            err = event.event_specific_data.error
            out[event.step_key] = (err.message if err else "") + "".join(
                (c.message for c in ([err.cause] if err and err.cause else []))
            )
    return out


__all__ = ["ALL_ASSETS", "APP_LOG_ASSETS", "SNAPSHOT_ASSETS", "materialize", "failed_steps", "op_name"]
