"""Materialization metadata every asset reports: row counts and the table's column schema.

Dagster's UI shows `dagster/row_count` and plots numeric metadata over materializations, and
renders `dagster/column_schema` as the asset's column list; both come straight from DuckDB here so
they can never drift from the warehouse.
"""

from __future__ import annotations

import dagster as dg


def column_schema(conn, qualified_table: str) -> dg.TableSchema:
    schema, table = qualified_table.split(".", 1)
    rows = conn.execute(
        "select column_name, data_type, is_nullable from information_schema.columns "
        "where table_schema = ? and table_name = ? order by ordinal_position",
        [schema, table],
    ).fetchall()
    return dg.TableSchema(
        columns=[
            dg.TableColumn(name, dtype, constraints=dg.TableColumnConstraints(nullable=nullable == "YES"))
            for name, dtype, nullable in rows
        ]
    )


def table_metadata(conn, qualified_table: str, row_count: int, **extra) -> dict:
    """Standard metadata for a materialization that wrote `row_count` rows to `qualified_table`."""
    meta = {
        "dagster/row_count": dg.MetadataValue.int(int(row_count)),
        "dagster/column_schema": column_schema(conn, qualified_table),
        "dagster/table_name": qualified_table,
    }
    meta.update(extra)
    return meta
