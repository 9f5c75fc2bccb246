"""The monitored databases users have: a plain PostgreSQL, the design document's app log tables,
and the Supabase-like demo shape. Each gets the same small workload so every shape has slow
statements in pg_stat_statements and a table without a primary key to recommend on."""

from __future__ import annotations

import os
from pathlib import Path

import psycopg

from tests.conftest import SourceDb, _counter, make_source_db

FIXTURES = Path(__file__).parent / "fixtures"
SHAPES = ("plain", "design_doc", "demo")

WORKLOAD = """
create table if not exists public.events_without_pk (kind text, payload text, at timestamptz default now());
insert into public.events_without_pk (kind, payload) select 'k' || (i % 7), repeat('x', 50)
from generate_series(1, 5000) i;
analyze public.events_without_pk;
"""
SLOW = "select count(*) from public.events_without_pk a join public.events_without_pk b using (kind) where a.kind = %s"

APP_LOG_ROWS = {
    "query_performance_logs": "insert into public.query_performance_logs (query_hash, query_text, execution_time_ms, "
                              "created_at) select 'h' || i, 'select * from orders where id = ' || i, 900 + i, "
                              "now() - i * interval '1 minute' from generate_series(1, 30) i",
    "vector_query_logs": "insert into public.vector_query_logs (query_type, similarity_threshold, vector_dimension, "
                         "query_time_ms, result_count, index_used, created_at) select 'knn', 0.8, 1536, 40 + i, 10, "
                         "true, now() - i * interval '1 minute' from generate_series(1, 20) i",
    "embedding_generation_logs": "insert into public.embedding_generation_logs (token_count, generation_time_ms, "
                                 "error, created_at) select 100 + i, 200, case when i % 5 = 0 then 'timeout' end, "
                                 "now() - i * interval '1 minute' from generate_series(1, 20) i",
}


def make_shape(server, shape: str) -> SourceDb:
    if shape == "demo":
        db = make_source_db(server, prefix="demo")
    else:
        name = f"{shape}_{os.getpid()}_{next(_counter)}"
        url = server.create_database(name)
        db = SourceDb(server, name, url, server.server_version_num() // 10000, False)
        with psycopg.connect(url, autocommit=True) as conn:
            if shape == "plain":
                conn.execute("create extension if not exists pg_stat_statements")
            else:
                conn.execute((FIXTURES / "design_doc_app_logs.sql").read_text())
    with psycopg.connect(db.url, autocommit=True) as conn:
        conn.execute(WORKLOAD)
        if shape != "plain":
            for insert in APP_LOG_ROWS.values():
                conn.execute(insert)
    return db


def traffic(db: SourceDb, rounds: int = 6) -> None:
    with psycopg.connect(db.url, autocommit=True) as conn:
        for i in range(rounds):
            conn.execute(SLOW, (f"k{i % 7}",)).fetchall()
