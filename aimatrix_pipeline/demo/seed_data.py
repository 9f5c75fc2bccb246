"""Fill the demo database with a bounded, reproducible history (sql/demo/1*_seed_*.sql).

Why set-based SQL: seeding runs on every fresh demo start and in tests, so it must take seconds,
not minutes; `generate_series` inserts tens of thousands of rows (and 384-dim embeddings) in one
statement each. Why one session with `setseed()`: every `random()` then happens in a fixed order,
so the same seed, scale and anchor give byte-identical data (ids are md5-derived, not random).
Parallel query is switched off for the session because parallel workers would reorder random().
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime

import psycopg

from aimatrix_pipeline.demo import database as demo_db
from aimatrix_pipeline.sql_files import load_sql

SEED_FILES = (
    "demo/10_seed_app.sql",
    "demo/11_seed_auth_storage.sql",
    "demo/12_seed_vectors.sql",
    "demo/13_seed_app_logs.sql",
)

# Row counts at scale 1.0 (~95k rows: a few seconds of seeding plus the vector index builds).
BASE_COUNTS: dict[str, int] = {
    "customers": 2000,
    "products": 200,
    "orders": 10000,
    "page_views": 40000,
    "users": 1500,
    "audit": 6000,
    "sessions": 1000,
    "objects": 3000,
    "documents": 3000,  # never fewer than FLOORS
    "faq_chunks": 2000,  # with 500 IVFFlat lists: ~4 rows per list, the deliberate defect
    "query_logs": 5000,
    "vector_logs": 2000,
    "embedding_logs": 2000,
    "error_events": 300,
}
MIN_COUNT = 20
# Floors independent of scale: below ~2k rows PostgreSQL's planner prefers a sequential scan plus
# sort over the HNSW/IVFFlat index, and the demo must show searches that really use the index;
# 5,000 orders keep the deliberately unused orders_note_idx above the 10 MB unused-index threshold.
FLOORS: dict[str, int] = {"documents": 2500, "faq_chunks": 2000, "orders": 5000}

SEEDED_TABLES = (
    "app.customers",
    "app.products",
    "app.orders",
    "app.order_items",
    "app.page_views",
    "auth.users",
    "auth.audit_log_entries",
    "auth.sessions",
    "storage.buckets",
    "storage.objects",
    "public.documents",
    "public.faq_chunks",
    "public.query_performance_logs",
    "public.vector_query_logs",
    "public.embedding_generation_logs",
    "public.error_events",
)


@dataclass(frozen=True)
class SeedResult:
    seed: int
    scale: float
    anchor: datetime
    vectors: bool
    row_counts: dict[str, int]


def counts_for_scale(scale: float) -> dict[str, int]:
    """Row counts for `scale` (1.0 = the demo default); never below MIN_COUNT per table."""
    if not (scale > 0 and math.isfinite(scale)):
        raise ValueError(f"scale must be a positive number, got {scale!r}")
    return {
        name: max(MIN_COUNT, FLOORS.get(name, 0), round(n * scale)) for name, n in BASE_COUNTS.items()
    }


def _seed_fraction(seed: int) -> float:
    """setseed() wants a value in [-1, 1]; map any integer seed onto it deterministically."""
    return ((seed * 2654435761) % 2_000_003) / 1_000_001.5 - 1.0


def seed(
    dsn: str,
    *,
    scale: float = 1.0,
    seed: int = 1,
    anchor: datetime | None = None,
    vectors: bool | None = None,
    build_indexes: bool = True,
) -> SeedResult:
    """Create the schema and fill it. Run once on an empty database (ids are explicit).

    `anchor` is "now" for the generated history (default: the current hour); pass a fixed value
    to get identical timestamps too. Everything except the vector index builds happens in one
    transaction, so a failure leaves no half-seeded tables behind.
    """
    counts = counts_for_scale(scale)
    anchor = anchor or datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    has_vectors = demo_db.install_schema(dsn, vectors=vectors)
    with psycopg.connect(dsn, autocommit=True) as conn, conn.transaction():
        conn.execute("set local max_parallel_workers_per_gather = 0")
        conn.execute("select set_config('aimatrix.anchor', %s, true)", (anchor.isoformat(),))
        for name, n in counts.items():
            conn.execute("select set_config(%s, %s, true)", (f"aimatrix.n_{name}", str(n)))
        conn.execute("select setseed(%s)", (_seed_fraction(seed),))
        for name in SEED_FILES:
            if name == "demo/12_seed_vectors.sql" and not has_vectors:
                continue
            conn.execute(load_sql(name))
    if has_vectors and build_indexes:
        demo_db.build_vector_indexes(dsn)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("analyze")
        row_counts = table_row_counts(conn)
    return SeedResult(seed, scale, anchor, has_vectors, row_counts)


def table_row_counts(conn: psycopg.Connection) -> dict[str, int]:
    """Exact row counts of the seeded tables that exist (vector tables may not)."""
    counts: dict[str, int] = {}
    for table in SEEDED_TABLES:
        if conn.execute("select to_regclass(%s)", (table,)).fetchone()[0] is None:
            continue
        counts[table] = conn.execute(f"select count(*) from {table}").fetchone()[0]
    return counts


def table_checksums(dsn: str) -> dict[str, str]:
    """md5 over every row of every seeded table, in a stable order (what determinism tests compare)."""
    out: dict[str, str] = {}
    with psycopg.connect(dsn) as conn:
        for table in SEEDED_TABLES:
            if conn.execute("select to_regclass(%s)", (table,)).fetchone()[0] is None:
                continue
            out[table] = conn.execute(
                f"select md5(coalesce(string_agg(md5(t::text), ',' order by md5(t::text)), '')) from {table} t"
            ).fetchone()[0]
    return out
