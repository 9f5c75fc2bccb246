"""Warehouse writes shared by the appsignals extracts: high-water marks, quarantine, Arrow batches.

The statements live in `sql/warehouse/appsignals/*.sql`; this module only binds parameters and
registers Arrow batches (validated rows) under the names those files read from, always on a
connection the caller holds inside one warehouse transaction.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

import pyarrow as pa

from aimatrix_pipeline.sql_files import load_sql

QUARANTINE_SCHEMA = pa.schema([
    ("source_id", pa.string()), ("reason", pa.string()), ("row_json", pa.string()), ("payload", pa.binary()),
])


def q(name: str) -> str:
    return load_sql(f"warehouse/appsignals/{name}.sql")


def run(conn, name: str, **params):
    return conn.execute(q(name), params)


@contextmanager
def registered(conn, name: str, rows: list[dict], schema: pa.Schema) -> Iterator[None]:
    """Expose `rows` to SQL as relation `name` (an Arrow table: bulk, typed, no row-by-row inserts)."""
    conn.register(name, pa.Table.from_pylist(rows, schema=schema))
    try:
        yield
    finally:
        conn.unregister(name)


def get_state(conn, project: str, source_table: str) -> tuple[datetime | None, int]:
    rows = run(conn, "extract_state.select", project=project, source_table=source_table).fetchall()
    return (rows[0][0], rows[0][1] or 0) if rows else (None, 0)


def set_state(conn, project: str, source_table: str, hwm: datetime, total: int, now: datetime) -> None:
    run(conn, "extract_state.delete", project=project, source_table=source_table)
    run(conn, "extract_state.insert", project=project, source_table=source_table, hwm=hwm, total=total, now=now)


def quarantine(conn, project: str, source_table: str, bad: list[dict], now: datetime) -> None:
    """`bad` rows: source_id, reason, row_json, payload (bytes or None). Same ids are replaced."""
    if not bad:
        return
    rows = [{"payload": None, **b} for b in bad]
    with registered(conn, "_bad", rows, QUARANTINE_SCHEMA):
        run(conn, "quarantine.delete", project=project, source_table=source_table)
        run(conn, "quarantine.insert", project=project, source_table=source_table, now=now)


def owned_rows(conn, table: str, project: str) -> int:
    return conn.execute(q("owned_rows.count").format(table=table), {"project": project}).fetchone()[0]
