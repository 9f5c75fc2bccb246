"""Seeding: reproducible for a fixed seed, bounded by scale, and carrying the defects we promise."""

from __future__ import annotations

from datetime import UTC, datetime

import psycopg
import pytest

from aimatrix_pipeline.demo import seed_data
from tests.conftest import make_source_db

ANCHOR = datetime(2026, 11, 1, 12, tzinfo=UTC)
SCALE = 0.05


@pytest.fixture(scope="module")
def seeded_pair(pg18):
    """Two fresh databases seeded with the same seed, scale and anchor."""
    dbs = [make_source_db(pg18, prefix="seed") for _ in range(2)]
    # index builds do not change table contents: build them on the first database only
    results = [
        seed_data.seed(db.url, scale=SCALE, seed=11, anchor=ANCHOR, build_indexes=(i == 0))
        for i, db in enumerate(dbs)
    ]
    yield dbs, results
    for db in dbs:
        pg18.drop_database(db.name)


def test_same_seed_gives_identical_data(seeded_pair):
    (a, b), (ra, rb) = seeded_pair
    assert ra.row_counts == rb.row_counts
    sums_a, sums_b = seed_data.table_checksums(a.url), seed_data.table_checksums(b.url)
    assert set(sums_a) == set(seed_data.SEEDED_TABLES)  # PG 18 has pgvector: every table seeded
    assert sums_a == sums_b


def test_other_seed_gives_other_data(pg18, seeded_pair):
    (a, _), _ = seeded_pair
    other = make_source_db(pg18, prefix="seed")
    try:
        seed_data.seed(other.url, scale=SCALE, seed=12, anchor=ANCHOR, build_indexes=False)
        differ = {
            t for t, s in seed_data.table_checksums(other.url).items() if s != seed_data.table_checksums(a.url)[t]
        }
        assert {"app.orders", "auth.users", "public.documents", "public.query_performance_logs"} <= differ
    finally:
        pg18.drop_database(other.name)


def test_row_counts_follow_scale(seeded_pair):
    _, (result, _) = seeded_pair
    expected = seed_data.counts_for_scale(SCALE)
    counts = result.row_counts
    assert counts["app.customers"] == expected["customers"]
    assert counts["app.orders"] == expected["orders"]
    assert counts["auth.users"] == expected["users"]
    assert counts["public.documents"] == expected["documents"]
    assert counts["public.faq_chunks"] == expected["faq_chunks"]
    assert counts["storage.buckets"] == 3
    # generated rows plus the fixed malformed ones
    assert counts["public.query_performance_logs"] == expected["query_logs"] + 6
    assert seed_data.counts_for_scale(2)["orders"] == 2 * seed_data.BASE_COUNTS["orders"]
    with pytest.raises(ValueError):
        seed_data.counts_for_scale(0)


def test_seeded_content_has_the_promised_shapes(seeded_pair):
    (db, _), _ = seeded_pair
    rows = db.execute(
        """
        select
          (select count(*) from auth.users where is_anonymous and email is null),
          (select count(*) from auth.users where is_sso_user),
          (select count(*) from auth.audit_log_entries where payload->>'action' = 'login'
               and (payload->>'actor_id')::uuid in (select id from auth.users)),
          (select count(*) from auth.audit_log_entries where payload->>'action' = 'token_refreshed'),
          (select count(*) from storage.objects where (metadata->>'size')::bigint > 0),
          (select count(*) from public.query_performance_logs where execution_time_ms > 1000),
          (select count(*) from public.query_performance_logs where query_text like '%@example.com''%'),
          (select count(*) from public.query_performance_logs where created_at is null),
          (select count(*) from public.query_performance_logs where execution_time_ms < 0),
          (select max(length(query_text)) from public.query_performance_logs),
          (select count(*) from public.embedding_generation_logs where error is not null),
          (select count(*) from public.vector_query_logs where not index_used)
        """
    )[0]
    anonymous, sso, logins, refreshes, sized_objects, slow, with_email, null_created, negative, longest, \
        embedding_errors, unindexed_searches = rows
    assert anonymous > 0 and sso > 0
    assert logins > 0 and refreshes > 0
    assert sized_objects == seed_data.counts_for_scale(SCALE)["objects"]
    assert slow > 0 and with_email > 0
    assert null_created == 2 and negative == 2
    assert 1_000_000 <= longest < 1_200_000
    assert embedding_errors > 0 and unindexed_searches > 0


def test_vector_indexes_are_built_with_the_deliberate_defect(seeded_pair):
    (db, _), _ = seeded_pair
    indexes = dict(
        db.execute(
            "select c.relname, coalesce(array_to_string(c.reloptions, ','), '') from pg_index i "
            "join pg_class c on c.oid = i.indexrelid join pg_am am on am.oid = c.relam "
            "where am.amname in ('hnsw', 'ivfflat')"
        )
    )
    assert indexes["faq_chunks_embedding_ivfflat"] == "lists=500"
    assert "documents_embedding_hnsw" in indexes
    # the vacuum defect: autovacuum off and dead tuples left by the retention delete
    opts = db.execute("select reloptions from pg_class where oid = 'app.page_views'::regclass")[0][0]
    assert opts == ["autovacuum_enabled=off"]
    with psycopg.connect(db.url) as conn:
        emb = conn.execute("select count(distinct embedding::text) from public.documents").fetchone()[0]
    assert emb == seed_data.counts_for_scale(SCALE)["documents"]  # one random vector per row
