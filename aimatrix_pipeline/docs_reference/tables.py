"""docs/reference/tables.md: every warehouse table and column, from the DDL.

Names, types and column order come from applying `sql/warehouse/ddl/*.sql` to an in-memory DuckDB
(the same `apply_schema` every writer runs), so the page lists exactly what the warehouse holds.
What each table and column means comes from `sql/warehouse/ddl/tables.yaml`, kept beside the DDL.
"""

from __future__ import annotations

import duckdb
import yaml

from aimatrix_pipeline.docs_reference import GENERATED_NOTE, cell
from aimatrix_pipeline.sql_files import SQL_DIR

SCHEMAS = ("raw", "analytics", "cost", "alerts", "ops")
DESCRIPTIONS = "warehouse/ddl/tables.yaml"
SCHEMA_TEXT = {
    "raw": "copies of the monitored databases and the Supabase APIs, as extracted (group `extract`)",
    "analytics": "what to fix: derived from `raw` inside DuckDB (group `analytics`)",
    "cost": "usage priced with the price book (group `cost`)",
    "alerts": "alert incidents and notifications, rebuilt from the alert state store (group `alerts`)",
    "ops": "what operators did (`aimatrix-pipeline apply`)",
}


def load_descriptions() -> dict:
    return yaml.safe_load((SQL_DIR / DESCRIPTIONS).read_text())


def schema_columns(conn: duckdb.DuckDBPyConnection | None = None) -> dict[str, list[tuple[str, str]]]:
    """{"schema.table": [(column, type), ...]} of the warehouse DDL, in column order."""
    if conn is None:
        from aimatrix_pipeline.resources.warehouse import apply_schema

        conn = duckdb.connect()
        apply_schema(conn)
    rows = conn.execute(
        "select schema_name, table_name, column_name, data_type from duckdb_columns() "
        f"where schema_name in {SCHEMAS} and not internal order by schema_name, table_name, column_index"
    ).fetchall()
    out: dict[str, list[tuple[str, str]]] = {}
    for schema, table, column, data_type in rows:
        out.setdefault(f"{schema}.{table}", []).append((column, data_type))
    return out


def problems(columns: dict[str, list[tuple[str, str]]], descriptions: dict) -> list[str]:
    """What keeps the descriptions from matching the DDL: undescribed tables, stale names."""
    tables = descriptions.get("tables") or {}
    out = [f"{t}: no description in {DESCRIPTIONS}" for t in columns if not (tables.get(t) or {}).get("description")]
    for table, entry in tables.items():
        if table not in columns:
            out.append(f"{table}: described in {DESCRIPTIONS} but not in the DDL")
            continue
        names = {c for c, _ in columns[table]}
        out += [f"{table}.{c}: described in {DESCRIPTIONS} but not in the DDL"
                for c in (entry.get("columns") or {}) if c not in names]
    return out


def render(conn: duckdb.DuckDBPyConnection | None = None, descriptions: dict | None = None) -> str:
    columns = schema_columns(conn)
    descriptions = descriptions if descriptions is not None else load_descriptions()
    trouble = problems(columns, descriptions)
    if trouble:
        raise ValueError("warehouse table descriptions do not match the DDL:\n" + "\n".join(trouble))
    common = descriptions.get("common_columns") or {}
    tables = descriptions["tables"]
    lines = [GENERATED_NOTE.format(source="sql/warehouse/ddl/*.sql and sql/warehouse/ddl/tables.yaml"),
             "# Warehouse tables", "",
             "Every table and column of the DuckDB warehouse, as the DDL in `sql/warehouse/ddl/` creates "
             "them. Query them with `aimatrix-pipeline sql` (read-only, safe while schedules run). Every "
             "table of `raw`, `analytics`, `cost` and `ops` carries `project` or `organization`, so it "
             "reads across a fleet.", ""]
    for schema in SCHEMAS:
        names = [t for t in columns if t.split(".")[0] == schema]
        lines += [f"## {schema}", "", f"`{schema}.*`: {SCHEMA_TEXT[schema]}.", ""]
        lines += [f"- [`{t}`](#{t.replace('.', '')})" for t in names]
        lines.append("")
        for table in names:
            entry = tables[table]
            own = entry.get("columns") or {}
            lines += [f"### {table}", "", cell(entry["description"]), "",
                      "| column | type | meaning |", "| --- | --- | --- |"]
            for column, data_type in columns[table]:
                meaning = own.get(column, common.get(column, ""))
                lines.append(f"| `{column}` | {cell(data_type)} | {cell(meaning)} |")
            lines.append("")
    return "\n".join(lines).rstrip("\n") + "\n"
