"""Resources shared by every domain, bound once in `aimatrix_pipeline.definitions`."""

from __future__ import annotations

from aimatrix_pipeline.resources.ducklake_warehouse import warehouse_for
from aimatrix_pipeline.resources.settings_resource import SettingsResource
from aimatrix_pipeline.resources.source_postgres import SourcePostgresResource
from aimatrix_pipeline.resources.supabase_api import SupabaseApiResource
from aimatrix_pipeline.resources.warehouse import WarehouseResource  # noqa: F401 - re-exported
from aimatrix_pipeline.settings import current_settings

WAREHOUSE_POOL = "duckdb_warehouse"
"""Dagster pool every warehouse-writing asset joins; dagster.yaml limits it to 1 slot."""


def shared_resources() -> dict:
    return {
        "settings": SettingsResource(),  # the typed settings, built again when each run starts
        # a DuckDB file, or DuckLake when AIMATRIX_WAREHOUSE starts with "ducklake:" (same interface)
        "warehouse": warehouse_for(settings=current_settings()),
        "source": SourcePostgresResource(),
        "supabase_api": SupabaseApiResource(),  # token/base URL read from the env at run time
    }
