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

import functools
import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
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
# Functions that run SQL held in a string: the names in that string would escape the check below.
META_FUNCTIONS = frozenset({"query", "query_table", "json_execute_serialized_sql"})
# The postgres extension's functions, refused on every reader (loaded or not) so a statement gets the
# same answer whatever the warehouse: they reach the DuckLake catalog's connection as its role.
CATALOG_FUNCTIONS = frozenset({"postgres_execute", "postgres_query", "postgres_scan", "postgres_scan_pushdown",
                               "postgres_attach", "postgres_configure_pool", "pg_clear_cache"})
# DuckLake attaches its catalog database under this prefix (hidden from duckdb_databases()).
CATALOG_DATABASE_PREFIX = "__ducklake_metadata"
CATALOG_HINT = ("`sql` reads the warehouse's tables only: no extension function (the DuckLake catalog's "
                "connection: postgres_execute, postgres_query, postgres_scan, ...) and no SQL run from a string")

Params = Mapping[str, object] | Sequence[object] | None


class QueryRefused(ValueError):
    """A statement the read-only warehouse reader never runs (ATTACH, INSTALL, COPY without files)."""


@functools.cache
def _core_functions() -> frozenset[str]:
    """The functions of DuckDB itself (no extension loaded). Whatever else a reader's connection has
    came from an extension the warehouse loaded (postgres_scanner, ducklake, httpfs)."""
    conn = duckdb.connect(":memory:", config={"autoload_known_extensions": False,
                                              "autoinstall_known_extensions": False})
    try:
        return frozenset(r[0].lower() for r in conn.execute("select distinct function_name from duckdb_functions()").fetchall())
    finally:
        conn.close()


def refused_names(conn: duckdb.DuckDBPyConnection) -> frozenset[str]:
    """Names no statement may use on `conn`: every function an extension added (DuckDB offers no way
    to unload one, and the postgres extension's reach the DuckLake catalog as its role, with
    external access off or not), and the functions that run SQL from a string."""
    loaded = {r[0].lower() for r in conn.execute("select distinct function_name from duckdb_functions()").fetchall()}
    return frozenset(loaded - _core_functions()) | META_FUNCTIONS | CATALOG_FUNCTIONS


_BARE_NAME = re.compile(r"[^\s\"'.,;:()\[\]{}<>=!+\-*/%|&^~@#?]+")


def _names(sql: str) -> Iterator[tuple[str, bool]]:
    """Every identifier and keyword in `sql` as DuckDB's own tokenizer splits it (comments and string
    constants are not names), unquoted and lowercased as DuckDB resolves them, and whether it is
    called (the next token is `(`: a column may be named `query`, a call may not)."""
    tokens = duckdb.tokenize(sql)
    for i, (start, kind) in enumerate(tokens):
        if kind not in (duckdb.token_type.identifier, duckdb.token_type.keyword):
            continue
        called = i + 1 < len(tokens) and sql.startswith("(", tokens[i + 1][0])
        if sql.startswith('"', start):
            end, parts = start + 1, []
            while end < len(sql):
                stop = sql.find('"', end)
                if stop < 0:
                    break
                parts.append(sql[end:stop])
                if sql.startswith('"', stop + 1):
                    parts.append('"')
                    end = stop + 2
                    continue
                break
            yield "".join(parts).lower(), called
        else:
            found = _BARE_NAME.match(sql, start)
            if found:
                yield found.group(0).lower(), called


def _strings(sql: str) -> Iterator[str]:
    """The string constants of `sql` (tokenizer positions), unquoted."""
    for start, kind in duckdb.tokenize(sql):
        if kind != duckdb.token_type.string_const:
            continue
        if sql.startswith("'", start):
            end, parts = start + 1, []
            while True:
                stop = sql.find("'", end)
                if stop < 0:
                    parts.append(sql[end:])
                    break
                parts.append(sql[end:stop])
                if sql.startswith("'", stop + 1):
                    parts.append("'")
                    end = stop + 2
                    continue
                break
            yield "".join(parts)
        elif sql.startswith("$", start):
            found = re.match(r"(\$[^$]*\$)(.*?)\1", sql[start:], re.S)
            if found:
                yield found.group(2)


def _protected_target(text: str, protected: Sequence[str]) -> str | None:
    """The protected location `text` (a path or URL a statement writes to) resolves to, if any."""
    if re.match(r"^[a-z][a-z0-9+.-]*://", text, re.I) and not text.lower().startswith("file://"):
        target = text.rstrip("/")
        for place in protected:
            if "://" in place and (target + "/").startswith(place.rstrip("/") + "/"):
                return place
        return None
    path = text[len("file://"):] if text.lower().startswith("file://") else text
    if not path.strip():
        return None
    resolved = Path(path).expanduser().resolve()
    for place in protected:
        if "://" in place:
            continue
        root = Path(place).expanduser().resolve()
        if resolved == root or root in resolved.parents:
            return place
    return None


def refusal(conn: duckdb.DuckDBPyConnection, sql: str, allow_files: bool,
            protected: Sequence[str] = ()) -> str | None:
    """Why `sql` is refused, or None. Parsed by DuckDB itself, statement by statement.

    `protected`: paths (and object-store prefixes) no COPY or EXPORT may write to even with
    `allow_files`: the warehouse, its WAL and lock, the lake's data, the Dagster instance."""
    denied = refused_names(conn)
    for statement in conn.extract_statements(sql):
        kind = statement.type.name
        if kind in REFUSED_ALWAYS:
            return REFUSED_ALWAYS[kind]
        if kind in FILE_STATEMENTS and not allow_files:
            return f"{kind} reads or writes files: {FILES_HINT}"
        text = statement.query
        for name, called in _names(text):
            if called and name in denied:
                return f"{name} is refused: {CATALOG_HINT}"
            if name.startswith(CATALOG_DATABASE_PREFIX):
                return f"the DuckLake catalog database is refused: {CATALOG_HINT}"
        if kind in FILE_STATEMENTS:
            for value in _strings(text):
                place = _protected_target(value, protected)
                if place:
                    return (f"{kind} may not write to {value!r}: it resolves to the warehouse's own files "
                            f"({place}); write elsewhere")
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
        reason = refusal(conn, sql, allow_files, wh.protected_paths() if allow_files else ())
        if reason:
            raise QueryRefused(reason)
        try:
            cur = conn.execute(sql, params) if params is not None else conn.execute(sql)
        except duckdb.Error as exc:
            from aimatrix_pipeline.resources.warehouse import damage_of

            damage = damage_of(exc, wh.file)
            if damage is not None:
                raise damage from exc
            raise
        yield cur


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
