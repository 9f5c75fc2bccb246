"""Point-in-time snapshots of a monitored database's statistics views into `raw.*`.

A snapshot is keyed by (project, snapshot_at). Writing one deletes any rows already stored for
that key and inserts the new ones in a single DuckDB transaction, so re-running the same snapshot
(e.g. a retried schedule tick, which carries the same `snapshot_at`) replaces instead of doubling.

Catalog snapshots are small (at most a few thousand rows: pg_stat_statements is capped by
`pg_stat_statements.max`), so they are read in one round trip through psycopg and handed to DuckDB
as an Arrow table. The app logs, which can be millions of rows, take the bulk path in `app_logs`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable

import psycopg
import pyarrow as pa
from psycopg import sql

from aimatrix_pipeline import querytext
from aimatrix_pipeline.extract.source_errors import SourceQueryError, explain
from aimatrix_pipeline.resources.source_postgres import SourcePostgresResource
from aimatrix_pipeline.resources.warehouse import WarehouseResource
from aimatrix_pipeline.settings import Project
from aimatrix_pipeline.shared.errors import redacted
from aimatrix_pipeline.sql_files import load_sql

# Canonical pg_stat_statements columns (PG 18 names) and the older names they replace.
STATEMENT_COLUMNS: tuple[str, ...] = (
    "userid", "dbid", "toplevel", "queryid", "plans", "total_plan_time", "min_plan_time",
    "max_plan_time", "mean_plan_time", "stddev_plan_time", "calls", "total_exec_time",
    "min_exec_time", "max_exec_time", "mean_exec_time", "stddev_exec_time", "rows",
    "shared_blks_hit", "shared_blks_read", "shared_blks_dirtied", "shared_blks_written",
    "local_blks_hit", "local_blks_read", "local_blks_dirtied", "local_blks_written",
    "temp_blks_read", "temp_blks_written", "shared_blk_read_time", "shared_blk_write_time",
    "local_blk_read_time", "local_blk_write_time", "temp_blk_read_time", "temp_blk_write_time",
    "wal_records", "wal_fpi", "wal_bytes", "wal_buffers_full", "jit_functions",
    "jit_generation_time", "jit_inlining_count", "jit_inlining_time", "jit_optimization_count",
    "jit_optimization_time", "jit_emission_count", "jit_emission_time", "jit_deform_count",
    "jit_deform_time", "parallel_workers_to_launch", "parallel_workers_launched", "stats_since",
    "minmax_stats_since",
)
LEGACY_NAMES = {"shared_blk_read_time": "blk_read_time", "shared_blk_write_time": "blk_write_time"}
CASTS = {"userid": "bigint", "dbid": "bigint", "queryid": "bigint", "wal_bytes": "float8"}


@dataclass(frozen=True)
class SnapshotSpec:
    """One raw snapshot asset: the SQL it sends and the table(s) it fills."""

    name: str
    table: str
    sql_file: str
    description: str
    transform: Callable[[pa.Table], pa.Table] | None = None
    extra_tables: tuple[str, ...] = field(default_factory=tuple)
    # (table, sql file) read in the same source transaction and replaced with the main table
    extra_sql: tuple[tuple[str, str], ...] = field(default_factory=tuple)


def _with_query_preview(table: pa.Table) -> pa.Table:
    """Replace the `query` column by a literal-free `query_preview` (no PII in the warehouse)."""
    idx = table.schema.get_field_index("query")
    if idx < 0:
        return table
    previews = [querytext.preview(q, 1000) if q else None for q in table.column("query").to_pylist()]
    return table.remove_column(idx).append_column("query_preview", pa.array(previews, pa.string()))


SPECS: dict[str, SnapshotSpec] = {
    s.name: s
    for s in (
        SnapshotSpec(
            "table_stats", "table_stats", "source/stats/table_stats.sql",
            "Per user table: live/dead tuples, seq vs index scans, vacuum/analyze history, heap and "
            "index I/O, sizes, primary-key presence, reloptions and XID age (pg_stat_user_tables, "
            "pg_statio_user_tables, pg_class).",
        ),
        SnapshotSpec(
            "index_stats", "index_stats", "source/stats/index_stats.sql",
            "Per user index: scans, size, unique/primary/valid flags, whether it backs a constraint, "
            "columns, operator classes and definition (pg_stat_user_indexes, pg_index).",
        ),
        SnapshotSpec(
            "database_stats", "database_stats", "source/stats/database_stats.sql",
            "The monitored database: size, commits/rollbacks, cache hits, deadlocks, connections by "
            "state against max_connections, XID age, server start; plus the server settings the "
            "health rules read (raw.server_settings).",
            extra_tables=("server_settings",),
        ),
        SnapshotSpec(
            "sequences", "sequences", "source/stats/sequences.sql",
            "Sequences with last and maximum value, and the column each feeds whose type runs out "
            "first (DEFAULT nextval() or identity), for exhaustion warnings (pg_sequences, pg_depend).",
        ),
        SnapshotSpec(
            "not_valid_constraints", "not_valid_constraints", "source/stats/not_valid_constraints.sql",
            "Constraints added NOT VALID and never validated (pg_constraint.convalidated).",
        ),
        SnapshotSpec(
            "bloat", "bloat", "source/stats/bloat.sql",
            "Estimated bloat of tables, materialized views and btree indexes: pages they have "
            "against pages their rows need (reltuples and pg_stats widths; no extension). Only "
            "relations whose columns the role may read have statistics to estimate from.",
        ),
        SnapshotSpec(
            "replication_slots", "replication_slots", "source/stats/replication_slots.sql",
            "Replication slots (physical, and this database's logical ones): active or not, WAL "
            "status and the WAL bytes each retains (pg_replication_slots).",
        ),
        SnapshotSpec(
            "activity", "activity", "source/stats/activity.sql",
            "Non-idle client backends at snapshot time: state, waits, runtime, and the pids blocking "
            "them (pg_blocking_pids), with literal-free query previews.",
            transform=_with_query_preview,
        ),
        SnapshotSpec(
            "foreign_keys", "foreign_keys", "source/stats/foreign_keys.sql",
            "Foreign keys with the valid index whose leading columns cover them, if any.",
        ),
        SnapshotSpec(
            "vector_indexes", "vector_indexes", "source/stats/vector_indexes.sql",
            "pgvector columns with their HNSW/IVFFlat indexes: access method, operator class, "
            "effective parameters (lists, m, ef_construction), dimensions, rows and sizes.",
        ),
        SnapshotSpec(
            "pg_stat_statements", "pg_stat_statements_snapshots", "source/stats/pg_stat_statements.sql",
            "Cumulative pg_stat_statements counters per (dbid, userid, queryid, toplevel), with the "
            "reset/eviction context (raw.pg_stat_statements_info) and literal-free query texts "
            "(raw.pg_stat_statements_queries). The source is never reset.",
            extra_tables=("pg_stat_statements_info", "pg_stat_statements_queries"),
        ),
        SnapshotSpec(
            "security", "relation_security", "source/security/relations.sql",
            "What the security advisors judge: tables, views, materialized views and foreign tables "
            "with row level security, policy count, anon/authenticated privileges and view options; "
            "RLS policies (raw.policies), functions with SECURITY DEFINER, search_path and execute "
            "privileges (raw.functions), installed extensions with their schema and newest version "
            "(raw.extensions), and the schemas the Data API serves (raw.api_schemas, from "
            "PostgREST's pgrst.db_schemas setting, default public).",
            extra_tables=("api_schemas", "policies", "functions", "extensions"),
            extra_sql=(
                ("api_schemas", "source/security/api_schemas.sql"),
                ("policies", "source/security/policies.sql"),
                ("functions", "source/security/functions.sql"),
                ("extensions", "source/security/extensions.sql"),
            ),
        ),
    )
}


def rows_to_arrow(cursor: psycopg.Cursor) -> pa.Table:
    names = [d.name for d in cursor.description]
    rows = cursor.fetchall()
    columns = list(zip(*rows)) if rows else [[] for _ in names]
    arrays = []
    for col in columns:
        try:
            arrays.append(pa.array(list(col)))
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            arrays.append(pa.array([None if v is None else str(v) for v in col], pa.string()))
    return pa.Table.from_arrays(arrays, names=names)


def replace_snapshot(
    conn, table: str, project: str, snapshot_at: datetime, data: pa.Table
) -> int:
    """Delete-then-insert one snapshot's rows (caller holds the transaction)."""
    conn.execute(f"delete from raw.{table} where project = ? and snapshot_at = ?", [project, snapshot_at]).fetchall()
    if data.num_rows == 0:
        return 0
    conn.register("_snapshot_rows", data)
    try:
        conn.execute(
            f"insert into raw.{table} by name "
            "select ?::varchar as project, ?::timestamptz as snapshot_at, * from _snapshot_rows",
            [project, snapshot_at],
        ).fetchall()
    finally:
        conn.unregister("_snapshot_rows")
    return data.num_rows


# -- pg_stat_statements ------------------------------------------------------------------------
def _statements_schema(conn: psycopg.Connection, project: str) -> str:
    row = conn.execute(
        "select n.nspname from pg_extension e join pg_namespace n on n.oid = e.extnamespace "
        "where e.extname = 'pg_stat_statements'"
    ).fetchone()
    if row is None:
        raise SourceQueryError(
            f"[{project}] raw.pg_stat_statements: the pg_stat_statements extension is not installed "
            "in this database. Enable it: CREATE EXTENSION pg_stat_statements WITH SCHEMA extensions "
            "(Supabase: Database > Extensions), with pg_stat_statements in shared_preload_libraries."
        )
    return row[0]


def _statement_columns(conn: psycopg.Connection, schema: str) -> sql.Composable:
    available = {
        r[0]
        for r in conn.execute(
            "select a.attname from pg_attribute a join pg_class c on c.oid = a.attrelid "
            "join pg_namespace n on n.oid = c.relnamespace "
            "where n.nspname = %s and c.relname = 'pg_stat_statements' and a.attnum > 0",
            (schema,),
        )
    }
    parts = []
    for name in STATEMENT_COLUMNS:
        source = name if name in available else LEGACY_NAMES.get(name)
        if source is None or source not in available:
            continue  # column not on this server version: stored as NULL
        expr = sql.SQL("s.{}").format(sql.Identifier(source))
        if name in CASTS:
            expr = sql.SQL("{}::{}").format(expr, sql.SQL(CASTS[name]))
        parts.append(sql.SQL("{} as {}").format(expr, sql.Identifier(name)))
    return sql.SQL(", ").join(parts)


def _known_queryids(warehouse: WarehouseResource, project: str) -> set[int]:
    if not warehouse.file.exists():
        return set()
    with warehouse.writer() as conn:
        rows = conn.execute(
            "select distinct queryid from raw.pg_stat_statements_queries where project = ?", [project]
        ).fetchall()
    return {r[0] for r in rows}


def fetch_statements(
    conn: psycopg.Connection, project: str, known_queryids: set[int]
) -> tuple[pa.Table, pa.Table, pa.Table]:
    """Counters, info row and (only for new queryids) normalised texts."""
    schema = _statements_schema(conn, project)
    schema_sql = sql.Identifier(schema).as_string(conn)
    info = rows_to_arrow(conn.execute(load_sql("source/stats/pg_stat_statements_info.sql").format(schema=schema_sql)))
    columns = _statement_columns(conn, schema).as_string(conn)
    counters = rows_to_arrow(
        conn.execute(load_sql("source/stats/pg_stat_statements.sql").format(schema=schema_sql, columns=columns))
    )
    info = info.append_column("statements_count", pa.array([counters.num_rows] * info.num_rows, pa.int32()))
    info = info.append_column("extension_schema", pa.array([schema] * info.num_rows, pa.string()))
    new_ids = sorted({q for q in counters.column("queryid").to_pylist() if q is not None} - known_queryids)
    texts_rows: dict[str, list] = {"dbid": [], "queryid": [], "fingerprint": [], "query_preview": []}
    if new_ids:
        dbid = info.column("dbid")[0].as_py() if info.num_rows else None
        cur = conn.execute(
            load_sql("source/stats/pg_stat_statements_texts.sql").format(schema=schema_sql),
            {"queryids": new_ids},
        )
        for queryid, text in cur:
            analysed = querytext.analyse(text)
            texts_rows["dbid"].append(dbid)
            texts_rows["queryid"].append(queryid)
            texts_rows["fingerprint"].append(analysed.fingerprint)
            texts_rows["query_preview"].append(analysed.preview)
    texts = pa.table(
        {
            "dbid": pa.array(texts_rows["dbid"], pa.int64()),
            "queryid": pa.array(texts_rows["queryid"], pa.int64()),
            "fingerprint": pa.array(texts_rows["fingerprint"], pa.string()),
            "query_preview": pa.array(texts_rows["query_preview"], pa.string()),
        }
    )
    return counters, info, texts


def _write_statement_texts(conn, project: str, snapshot_at: datetime, texts: pa.Table) -> int:
    if texts.num_rows == 0:
        return 0
    conn.register("_texts", texts)
    try:
        conn.execute(
            "insert into raw.pg_stat_statements_queries "
            "select ?, t.dbid, t.queryid, t.fingerprint, t.query_preview, ?, ? from _texts t "
            "where not exists (select 1 from raw.pg_stat_statements_queries q "
            "  where q.project = ? and q.queryid = t.queryid and q.dbid is not distinct from t.dbid)",
            [project, snapshot_at, snapshot_at, project],
        ).fetchall()
    finally:
        conn.unregister("_texts")
    return texts.num_rows


# -- entry point -----------------------------------------------------------------------------------
@dataclass
class SnapshotResult:
    name: str
    rows: dict[str, int]
    data: pa.Table  # the main table's rows, for metadata previews
    notes: list[str] = field(default_factory=list)  # what is missing on the source, and how to fix it


def take_snapshot(
    name: str,
    source: SourcePostgresResource,
    warehouse: WarehouseResource,
    project: Project,
    snapshot_at: datetime,
) -> SnapshotResult:
    """Read one snapshot from the project's database and replace it in the warehouse."""
    spec = SPECS[name]
    what = f"raw.{spec.table}"
    known = _known_queryids(warehouse, project.name) if name == "pg_stat_statements" else set()
    extras: dict[str, pa.Table] = {}
    notes: list[str] = []
    with source.connect(project.db_url_env) as conn:
        try:
            if name == "pg_stat_statements":
                data, info, texts = fetch_statements(conn, project.name, known)
                extras = {"pg_stat_statements_info": info, "pg_stat_statements_queries": texts}
            else:
                data = rows_to_arrow(conn.execute(load_sql(spec.sql_file)))
                if name == "database_stats":
                    extras["server_settings"] = rows_to_arrow(
                        conn.execute(load_sql("source/stats/server_settings.sql"))
                    )
                for table, sql_file in spec.extra_sql:
                    extras[table] = rows_to_arrow(conn.execute(load_sql(sql_file)))
            if name == "vector_indexes" and data.num_rows == 0:
                has_vector = conn.execute("select 1 from pg_extension where extname = 'vector'").fetchone()
                if not has_vector:
                    notes.append(
                        "pgvector is not installed in this database, so there is no vector health to "
                        "report. Enable it with: CREATE EXTENSION vector WITH SCHEMA extensions "
                        "(Supabase: Database > Extensions > vector)."
                    )
            conn.rollback()
        except SourceQueryError:
            raise
        except (psycopg.Error, OSError) as exc:
            raise explain(exc, what, project.name) from redacted(exc)
    if spec.transform:
        data = spec.transform(data)

    rows: dict[str, int] = {}
    with warehouse.transaction() as wconn:
        rows[spec.table] = replace_snapshot(wconn, spec.table, project.name, snapshot_at, data)
        for table, extra in extras.items():
            if table == "pg_stat_statements_queries":
                rows[table] = _write_statement_texts(wconn, project.name, snapshot_at, extra)
            else:
                rows[table] = replace_snapshot(wconn, table, project.name, snapshot_at, extra)
        _record_run(wconn, name, project.name, snapshot_at, rows[spec.table])
    return SnapshotResult(name, rows, data, notes)


def _record_run(conn, name: str, project: str, snapshot_at: datetime, rows: int) -> None:
    """One row per stored snapshot, also when it had no rows: "nothing any more" (the last NOT
    VALID constraint validated) must not read as "the older snapshot is the latest"."""
    conn.execute("delete from raw.snapshot_runs where project = ? and name = ? and snapshot_at = ?",
                 [project, name, snapshot_at]).fetchall()
    conn.execute("insert into raw.snapshot_runs (project, name, snapshot_at, rows) values (?, ?, ?, ?)",
                 [project, name, snapshot_at, rows]).fetchall()
