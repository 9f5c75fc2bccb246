"""Query the warehouse from a notebook or a script: `query(sql, params=None)` -> pandas DataFrame.

    >>> from aimatrix_pipeline.warehouse import query
    >>> query("select fingerprint, calls, mean_time_ms from analytics.slow_queries_summary "
    ...       "where project = $project order by total_time_ms desc limit 10", {"project": "default"})

It goes through the same reader as `aimatrix-pipeline sql` (`user_query`, which the CLI calls too),
so it is as safe to run while schedules write:
- the warehouse is the one the code location uses (`AIMATRIX_WAREHOUSE`, default
  the settings' default warehouse; a DuckLake warehouse works the same way), unless `warehouse=` names one;
- it waits for a running write to commit (the shared lock; `WarehouseLockTimeout` after the
  resource's `lock_timeout_s`), never sees half-written data, and holds the lock only while the
  query runs, so a notebook left open never blocks a run (`timeout_s` interrupts a long query);
- it is read-only and sandboxed: no file but the warehouse unless `allow_files=True`, no extension
  download or load, no ATTACH, and the configuration is locked so no statement can undo that.
  Refused statements raise `QueryRefused` before anything runs.

`params` are bound by DuckDB (`$name` with a dict, `?` with a list), never pasted into the SQL.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING

import duckdb

if TYPE_CHECKING:
    import pandas

    from aimatrix_pipeline.resources.warehouse import WarehouseResource

# What `sql` and `query` refuse by statement type, before anything runs (DuckDB's own sandbox,
# external access off and the configuration locked, stops the rest: file functions, replacement scans).
REFUSED_ALWAYS = {
    "ATTACH": "ATTACH is refused: `sql` queries the warehouse only (open other databases in your own DuckDB session)",
    "DETACH": "DETACH is refused: `sql` queries the warehouse only",
    "LOAD": "INSTALL and LOAD are refused: `sql` never downloads or loads extensions",
    "EXTENSION": "extension statements are refused: `sql` never downloads or loads extensions",
    "COPY_DATABASE": "COPY FROM DATABASE is refused: `sql` writes to no database",
}
FILE_STATEMENTS = {"COPY", "EXPORT"}
FILES_HINT = "`sql` touches no file but the warehouse; pass --allow-files to read and write files"

Params = Mapping[str, object] | Sequence[object] | None


class QueryRefused(ValueError):
    """A statement the read-only warehouse reader never runs (ATTACH, INSTALL, COPY without files)."""


def refusal(conn: duckdb.DuckDBPyConnection, sql: str, allow_files: bool) -> str | None:
    """Why `sql` is refused, or None. Parsed by DuckDB itself, statement by statement."""
    for statement in conn.extract_statements(sql):
        kind = statement.type.name
        if kind in REFUSED_ALWAYS:
            return REFUSED_ALWAYS[kind]
        if kind in FILE_STATEMENTS and not allow_files:
            return f"{kind} reads or writes files: {FILES_HINT}"
    return None


def _resolve(warehouse: WarehouseResource | str | None) -> WarehouseResource:
    from aimatrix_pipeline.resources.ducklake_warehouse import warehouse_for
    from aimatrix_pipeline.resources.warehouse import warehouse_from_env

    if warehouse is None:
        return warehouse_from_env()
    if isinstance(warehouse, str):
        return warehouse_for(warehouse)
    return warehouse


@contextmanager
def user_query(sql: str, params: Params = None, *, warehouse: WarehouseResource | str | None = None,
               timeout_s: float | None = None, allow_files: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
    """Run SQL a person typed on the locked-down reader; yields the connection holding its result.

    The one code path of `aimatrix-pipeline sql` and `query`: read the result inside the block
    (the shared lock is released, and the connection closed, when it ends)."""
    wh = _resolve(warehouse)
    with wh.reader(timeout_s=timeout_s, allow_files=allow_files, locked=True) as conn:
        reason = refusal(conn, sql, allow_files)
        if reason:
            raise QueryRefused(reason)
        yield conn.execute(sql, params) if params is not None else conn.execute(sql)


def query(sql: str, params: Params = None, *, warehouse: WarehouseResource | str | None = None,
          timeout_s: float | None = None, allow_files: bool = False) -> pandas.DataFrame:
    """The result of `sql` on the warehouse as a pandas DataFrame (see the module docstring).

    `warehouse`: a `WarehouseResource` or a warehouse string as `AIMATRIX_WAREHOUSE` takes it;
    default the code location's. `timeout_s`: interrupt the query after this many seconds
    (default the resource's `reader_timeout_s`).

    Raises FileNotFoundError (no warehouse yet), QueryRefused, WarehouseLockTimeout,
    duckdb.InterruptException (timeout), duckdb.PermissionException (a file without
    `allow_files`) and duckdb.Error for a bad query.
    """
    with user_query(sql, params, warehouse=warehouse, timeout_s=timeout_s, allow_files=allow_files) as cur:
        return cur.df()  # DuckDB builds the frame itself (pandas is a dependency for this)
