"""pgvector findings (PG 18, which has pgvector here) and the app-log statistics (vector query
logs, embedding generations, error events) through the real extract."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from tests.analytics.helpers import (
    FIXTURES,
    extract_logs,
    findings,
    project_for,
    run_analytics,
    run_remediation,
    snapshot,
)

THRESHOLDS = dict(vector_missing_index_min_rows=500, ivfflat_to_hnsw_min_rows=2500, vector_compute_headroom=0.02)

DEFECTS = {
    ("vector_missing_index", "v_noindex"),
    ("vector_ivfflat_lists", "v_ivf_bad_idx"),
    ("vector_ivfflat_to_hnsw", "v_ivf_big_idx"),
    ("vector_compute_undersized", "v_ivf_big"),
}
DECOY_OBJECTS = {"v_small", "v_ivf_ok", "v_ivf_ok_idx", "v_hnsw", "v_hnsw_idx"}


def seed_logs(source_db, now: datetime) -> None:
    with source_db.connect(autocommit=True) as conn:
        for ms, used, threshold in ((10, True, 0.7), (20, True, 0.8), (30, True, 0.8), (40, False, 0.9)):
            conn.execute(
                "insert into public.vector_query_logs (query_type, table_name, similarity_threshold, "
                "vector_dimension, query_time_ms, result_count, index_used, created_at) "
                "values ('match', 'v_hnsw', %s, 8, %s, 5, %s, %s)", (threshold, ms, used, now))
        for tokens, ms, error in ((100, 200, None), (300, 400, None), (200, 300, None), (400, 100, "rate limited")):
            conn.execute(
                "insert into public.embedding_generation_logs (model, token_count, generation_time_ms, error, created_at) "
                "values ('text-embedding-3-small', %s, %s, %s, %s)", (tokens, ms, error, now))
        for name, severity, age in (("TypeError", "error", 5), ("TypeError", "error", 10),
                                    ("TypeError", "error", 7200), ("RangeError", "critical", 20)):
            conn.execute(
                "insert into public.error_events (name, message, severity, created_at) values (%s, 'boom', %s, %s)",
                (name, severity, now - timedelta(seconds=age)))


def test_vector_defects_and_app_log_stats(source_db18, warehouse, monkeypatch):
    if not source_db18.has_vector:
        pytest.fail("the embedded PG 18 must ship pgvector")
    source_db18.execute((FIXTURES / "defects_vector.sql").read_text())
    now = datetime.now(timezone.utc).replace(microsecond=0)
    seed_logs(source_db18, now - timedelta(minutes=1))
    project = project_for(monkeypatch, source_db18, compute_size="micro")
    snapshot(warehouse, project, now, names=("vector_indexes", "table_stats", "index_stats"))
    extract_logs(warehouse, project, tables=("vector_query_logs", "embedding_generation_logs", "error_events"))
    run_analytics(warehouse, project, as_of=now, **THRESHOLDS)

    rows = findings(warehouse, "p1")
    found = {(r["name"], r["object_name"]) for r in rows if r["object_schema"] == "defects_vec"}
    assert DEFECTS <= found, f"missing: {DEFECTS - found}"
    assert not {f for f in found if f[1] in DECOY_OBJECTS and f[0].startswith("vector_")}
    by_key = {(r["name"], r["object_name"]): r for r in rows}
    lists = by_key[("vector_ivfflat_lists", "v_ivf_bad_idx")]
    assert "lists = 100" in lists["detail"] and "WITH (lists = 1);" in lists["remediation_sql"]
    hnsw = by_key[("vector_ivfflat_to_hnsw", "v_ivf_big_idx")]["remediation_sql"]
    assert 'USING hnsw ("embedding" "extensions".vector_cosine_ops)' in hnsw and "DROP INDEX CONCURRENTLY" in hnsw
    # operator classes are qualified with pgvector's schema: the DDL runs on a search_path
    # without it (this session's is the default, "$user", public)
    for key in (("vector_ivfflat_lists", "v_ivf_bad_idx"), ("vector_ivfflat_to_hnsw", "v_ivf_big_idx"),
                ("vector_missing_index", "v_noindex")):
        assert run_remediation(source_db18.url, by_key[key]["remediation_sql"]) >= 1
    assert "micro" in by_key[("vector_compute_undersized", "v_ivf_big")]["detail"]

    with warehouse.reader() as conn:
        vh = conn.execute(
            "select access_method, m, queries, p50_query_ms, p95_query_ms, index_used_share, "
            "min_similarity_threshold, max_similarity_threshold from analytics.vector_health "
            "where project = 'p1' and relname = 'v_hnsw'"
        ).fetchall()
        emb = conn.execute(
            "select total_generations, total_tokens, total_time_ms, error_count, avg_time_per_generation_ms, "
            "avg_tokens_per_generation, error_rate, cost_estimate_usd from analytics.embedding_stats where project = 'p1'"
        ).fetchall()
        errors = conn.execute(
            "select dimension, key, error_count, rank from analytics.error_stats "
            "where project = 'p1' and time_window = '1h' order by dimension, rank"
        ).fetchall()
        total_24h = conn.execute(
            "select error_count, errors_per_second from analytics.error_stats "
            "where project = 'p1' and time_window = '24h' and dimension = 'total'"
        ).fetchone()
    assert vh == [("hnsw", 16, 4, pytest.approx(25.0), pytest.approx(38.5), 0.75, 0.7, 0.9)]
    assert emb == [(4, 1000, 1000.0, 1, 250.0, 250.0, 0.25, pytest.approx(0.1))]
    assert errors == [("severity", "error", 2, 1), ("severity", "critical", 1, 2),
                      ("total", None, 3, 1), ("type", "TypeError", 2, 1), ("type", "RangeError", 1, 2)]
    assert total_24h == (4, pytest.approx(4 / 86400))
