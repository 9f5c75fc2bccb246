"""Build the Supabase-like demo database from `sql/demo/`.

Used by `aimatrix-pipeline demo` and by the test fixtures, so both exercise the same schema:
Supabase's `auth`/`storage`/`extensions` schemas, the application's log tables, a small app with
deliberate defects and, where pgvector is installed, vector tables with HNSW and IVFFlat indexes.
"""

from __future__ import annotations

import psycopg
from psycopg import sql

from aimatrix_pipeline.sql_files import load_sql

CORE_FILES = ("demo/01_supabase_schemas.sql", "demo/02_app_log_tables.sql", "demo/03_app_schema.sql")
VECTOR_FILE = "demo/04_vectors.sql"
VECTOR_INDEX_FILE = "demo/05_vector_indexes.sql"
MONITOR_ROLE_FILE = "demo/06_monitoring_role.sql"
MONITOR_ROLE = "aimatrix_monitor"


def has_extension_available(conn: psycopg.Connection, name: str) -> bool:
    row = conn.execute("select 1 from pg_available_extensions where name = %s", (name,)).fetchone()
    return row is not None


def install_schema(dsn: str, *, vectors: bool | None = None) -> bool:
    """Create the demo schema (idempotent). Returns whether the vector tables were created."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        for name in CORE_FILES:
            conn.execute(load_sql(name))
        if vectors is None:
            vectors = has_extension_available(conn, "vector")
        if vectors:
            conn.execute(load_sql(VECTOR_FILE))
    return bool(vectors)


def build_vector_indexes(dsn: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("set maintenance_work_mem = '256MB'")
        conn.execute(load_sql(VECTOR_INDEX_FILE))


def create_monitoring_role(dsn: str, password: str, *, grant_explain: bool = False) -> None:
    """Create `aimatrix_monitor` (pg_monitor + SELECT on the columns the pipeline reads) with `password`;
    `grant_explain` opts in to the index advice's SECURITY DEFINER functions (see the script)."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("select set_config('aimatrix.grant_explain', %s, false)", ("on" if grant_explain else "off",))
        conn.execute(load_sql(MONITOR_ROLE_FILE))
        conn.execute(
            sql.SQL("alter role {} password {}").format(sql.Identifier(MONITOR_ROLE), sql.Literal(password))
        )
