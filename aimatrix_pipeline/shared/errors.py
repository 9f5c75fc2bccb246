"""The error families the pipeline expects, and how a failure keeps its cause without a secret.

Why: catching `Exception` and re-raising `Failure(str(exc)) from None` turned every bug (a
TypeError, a KeyError) into a one-line message without a traceback. Assets catch these families
only, the conditions a run can meet in normal operation (a source or API that fails, a busy or
damaged warehouse, a configuration mistake), and chain them (`from exc`) so the UI shows where
it happened; anything else is a bug and propagates with its own traceback.

Driver errors may carry a DSN (a connection failure quotes it, a password split at an unencoded
`@` shows up in "failed to resolve host"): `redacted(exc, dsn)` is the cause to chain for those,
the same traceback with the text masked by `redact_dsn` (both in resources/source_postgres.py).
"""

from __future__ import annotations

import adbc_driver_manager
import duckdb
import httpx
import psycopg
import pyarrow as pa

from aimatrix_pipeline.config_checks import ConfigError
from aimatrix_pipeline.resources.ducklake_warehouse import CommitConflict, WarehouseConfigError
from aimatrix_pipeline.resources.source_postgres import (
    RedactedError,
    SourceConfigError,
    SourceUnavailable,
    redacted,
)
from aimatrix_pipeline.resources.supabase_api import SupabaseApiError
from aimatrix_pipeline.resources.warehouse import WarehouseDamaged, WarehouseLockTimeout

# A monitored database: its drivers (psycopg, ADBC), decoding its rows, the network.
SOURCE_ERRORS: tuple[type[BaseException], ...] = (
    psycopg.Error, adbc_driver_manager.Error, pa.ArrowException, OSError, SourceConfigError, SourceUnavailable,
)
# The DuckDB warehouse (or DuckLake catalog).
WAREHOUSE_ERRORS: tuple[type[BaseException], ...] = (
    duckdb.Error, WarehouseLockTimeout, WarehouseDamaged, WarehouseConfigError, CommitConflict,
)
# The Supabase Management API and other HTTP endpoints.
API_ERRORS: tuple[type[BaseException], ...] = (httpx.HTTPError, SupabaseApiError)
CONFIG_ERRORS: tuple[type[BaseException], ...] = (ConfigError,)

__all__ = ["API_ERRORS", "CONFIG_ERRORS", "SOURCE_ERRORS", "WAREHOUSE_ERRORS", "RedactedError", "redacted"]
