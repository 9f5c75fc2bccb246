"""Materialization metadata every asset reports: row counts and the table's column schema.

Dagster's UI shows `dagster/row_count` and plots numeric metadata over materializations, and
renders `dagster/column_schema` as the asset's column list; both come straight from DuckDB here so
they can never drift from the warehouse.
"""

from __future__ import annotations

import dagster as dg


def _table_schema(rows) -> dg.TableSchema:
    return dg.TableSchema(
        columns=[
            dg.TableColumn(name, dtype, constraints=dg.TableColumnConstraints(nullable=nullable == "YES"))
            for name, dtype, nullable in rows
        ]
    )


def column_schema(conn, qualified_table: str) -> dg.TableSchema:
    schema, table = qualified_table.split(".", 1)
    rows = conn.execute(
        "select column_name, data_type, is_nullable from information_schema.columns "
        "where table_schema = ? and table_name = ? order by ordinal_position",
        [schema, table],
    ).fetchall()
    return _table_schema(rows)


def all_column_schemas(conn) -> dict[str, dg.TableSchema]:
    """Every table's and view's column schema in one catalog query (as cheap as one table's: the
    information schema is built whole either way)."""
    grouped: dict[str, list] = {}
    for schema, table, name, dtype, nullable in conn.execute(
        "select table_schema, table_name, column_name, data_type, is_nullable from information_schema.columns "
        "where table_catalog = current_database() order by table_schema, table_name, ordinal_position"
    ).fetchall():
        grouped.setdefault(f"{schema}.{table}", []).append((name, dtype, nullable))
    return {table: _table_schema(rows) for table, rows in grouped.items()}


# Column schemas read in this process, per warehouse and DDL version: they change only with the DDL
# (sql/warehouse/ddl), which every writer brings to the current version before it writes.
_SCHEMAS: dict[tuple[str, str, str], dg.TableSchema] = {}


def cached_column_schema(warehouse: str, qualified_table: str) -> dg.TableSchema | None:
    from aimatrix_pipeline.resources.warehouse import schema_digest

    return _SCHEMAS.get((warehouse, schema_digest(), qualified_table))


def table_metadata(conn, qualified_table: str, row_count: int, *, _schema: dg.TableSchema | None = None,
                   _cache_key: str | None = None, **extra) -> dict:
    """Standard metadata for a materialization that wrote `row_count` rows to `qualified_table`.
    (`WarehouseResource.table_metadata` passes a cached `_schema`, or a `_cache_key` to fill it.)"""
    if _schema is None and _cache_key is not None:
        from aimatrix_pipeline.resources.warehouse import schema_digest

        digest = schema_digest()
        for table, found in all_column_schemas(conn).items():
            _SCHEMAS[(_cache_key, digest, table)] = found
        _schema = _SCHEMAS.get((_cache_key, digest, qualified_table))
    if _schema is None:
        _schema = column_schema(conn, qualified_table)
    meta = {
        "dagster/row_count": dg.MetadataValue.int(int(row_count)),
        "dagster/column_schema": _schema,
        "dagster/table_name": qualified_table,
    }
    meta.update(extra)
    return meta
