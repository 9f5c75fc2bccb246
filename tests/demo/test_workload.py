"""The workload produces the traffic it promises, deterministically, and stops when asked."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest

from aimatrix_pipeline.demo import seed_data
from aimatrix_pipeline.demo.workload import Workload
from tests.conftest import make_source_db

ITERATIONS = 6


@pytest.fixture(scope="module")
def worked_db(pg18):
    """A seeded database, a snapshot of its state, then ITERATIONS iterations of workload."""
    db = make_source_db(pg18, prefix="wl")
    # history anchored in the past, so "written in the last 10 minutes" means "by the workload"
    seed_data.seed(db.url, scale=0.05, seed=5, anchor=datetime(2026, 11, 1, tzinfo=UTC))
    before = dict(
        zip(
            ("audit", "objects", "null_created", "negative", "documents", "sessions_refreshed", "note_scans"),
            db.execute(
                """
                select (select count(*) from auth.audit_log_entries),
                       (select count(*) from storage.objects),
                       (select count(*) from public.query_performance_logs where created_at is null),
                       (select count(*) from public.query_performance_logs where execution_time_ms < 0),
                       (select count(*) from public.documents),
                       (select count(*) from auth.sessions where refreshed_at > now() - interval '1 minute'),
                       (select idx_scan from pg_stat_user_indexes where indexrelname = 'orders_note_idx')
                """
            )[0],
        )
    )
    stats = Workload(db.url, seed=3, slow_every=5, malformed_every=3).run(iterations=ITERATIONS)
    yield db, before, stats
    pg18.drop_database(db.name)


def _statements(db, like: str) -> list[tuple]:
    """pg_stat_statements rows of this database only (the cluster is shared by other tests)."""
    return db.execute(
        "select s.query, s.calls, s.mean_exec_time from extensions.pg_stat_statements s "
        "join pg_database d on d.oid = s.dbid where d.datname = %s and s.query like %s",
        (db.name, like),
    )


def test_iterations_are_bounded_and_counted(worked_db):
    _, _, stats = worked_db
    assert stats.iterations == ITERATIONS
    assert stats["statement_errors"] == 0, stats.errors
    assert stats["slow_queries"] == 2  # iterations 0 and 5


def test_slow_report_shows_up_over_one_second(worked_db):
    db, _, _ = worked_db
    rows = _statements(db, "%pg_sleep%")
    assert rows, "the slow report is not in pg_stat_statements"
    _query, calls, mean_ms = max(rows, key=lambda r: r[2])
    assert calls == 2 and mean_ms > 1000


def test_vector_searches_with_and_without_the_index(worked_db, pg18):
    db, _, stats = worked_db
    indexed = _statements(db, "%from public.documents order by embedding <=>%limit%")
    faq = _statements(db, "%from public.faq_chunks order by embedding <->%limit%")
    unindexed = _statements(db, "%order by $_ - (embedding <=>%desc%")
    faq_calls = faq[0][1] if faq else 0
    assert indexed and indexed[0][1] + faq_calls == stats["vector_indexed"]
    assert unindexed and unindexed[0][1] == stats["vector_unindexed"] > 0
    # the planner really used HNSW for the first shape (pg_stat counters are flushed at
    # transaction end; force a flush of this backend's pending stats first)
    with db.connect(autocommit=True) as conn:
        conn.execute("select pg_stat_force_next_flush()")
        scans = conn.execute(
            "select idx_scan from pg_stat_user_indexes where indexrelname = 'documents_embedding_hnsw'"
        ).fetchone()[0]
    assert scans >= indexed[0][1]
    logged = db.execute("select index_used, count(*) from public.vector_query_logs "
                        "where created_at > now() - interval '10 minutes' group by 1")
    assert dict(logged) == {True: stats["vector_indexed"], False: stats["vector_unindexed"]}


def test_auth_traffic_is_written_like_gotrue(worked_db):
    db, _before, stats = worked_db
    rows = db.execute(
        "select payload->>'action', count(*) from auth.audit_log_entries "
        "where created_at > now() - interval '10 minutes' "
        "and (payload->>'actor_id')::uuid in (select id from auth.users) group by 1"
    )
    actions = dict(rows)
    assert actions.get("login", 0) == stats["logins"]
    assert actions.get("token_refreshed", 0) == stats["token_refreshes"]
    assert stats["logins"] + stats["token_refreshes"] == ITERATIONS
    assert stats["logins"] > 0 and stats["token_refreshes"] > 0  # seed 3 does both
    signed_in = db.execute("select count(*) from auth.users where last_sign_in_at > now() - interval '10 minutes'")
    assert signed_in[0][0] >= 1
    new_sessions, refreshed = db.execute(
        "select count(*) filter (where created_at > now() - interval '10 minutes'), "
        "count(*) filter (where refreshed_at > (now() - interval '10 minutes')::timestamp) from auth.sessions"
    )[0]
    assert new_sessions == stats["logins"]
    assert refreshed >= new_sessions + 1  # new sessions plus at least one refreshed older session


def test_uploads_embeddings_errors_and_malformed_logs(worked_db):
    db, before, stats = worked_db
    objects = db.execute("select count(*) from storage.objects")[0][0]
    assert objects - before["objects"] == stats["uploads"] == ITERATIONS // 2
    new_sized = db.execute(
        "select count(*) from storage.objects where created_at > now() - interval '10 minutes' "
        "and (metadata->>'size')::bigint > 0"
    )[0][0]
    assert new_sized == stats["uploads"]
    emb = db.execute(
        "select count(*), count(error) from public.embedding_generation_logs "
        "where created_at > now() - interval '10 minutes'"
    )[0]
    assert emb == (stats["embedding_calls"], stats["embedding_errors"])
    docs = db.execute("select count(*) from public.documents")[0][0]
    assert docs - before["documents"] == stats["embedding_calls"] - stats["embedding_errors"]
    null_created, negative = db.execute(
        "select count(*) filter (where created_at is null), count(*) filter (where execution_time_ms < 0) "
        "from public.query_performance_logs"
    )[0]
    new_malformed = (null_created - before["null_created"]) + (negative - before["negative"])
    assert new_malformed == stats["malformed_log_rows"] == 2  # iterations 1 and 4
    app_logged = db.execute(
        "select count(*) from public.query_performance_logs where created_at > now() - interval '10 minutes'"
    )[0][0]
    assert app_logged + (null_created - before["null_created"]) == stats["app_log_rows"]


def test_the_unused_index_stays_unused(worked_db):
    db, before, _ = worked_db
    with db.connect(autocommit=True) as conn:
        conn.execute("select pg_stat_force_next_flush()")
        scans = conn.execute(
            "select idx_scan from pg_stat_user_indexes where indexrelname = 'orders_note_idx'"
        ).fetchone()[0]
    assert scans == before["note_scans"] == 0
    # no statement filters by note (the seed's DDL names the index with its fillfactor = 10)
    assert not [s for s in _statements(db, "%note%=%") if not s[0].lower().startswith("create index")]


def test_same_seed_same_traffic_and_stop_from_another_thread(pg18):
    """Same seed on the same starting data: the same traffic; `stop()` ends an endless run."""
    anchor = datetime(2026, 11, 1, tzinfo=UTC)
    dbs = [make_source_db(pg18, prefix="wl") for _ in range(2)]
    try:
        runs = []
        for db in dbs:
            seed_data.seed(db.url, scale=0.05, seed=5, anchor=anchor, build_indexes=False)
            runs.append(Workload(db.url, seed=9, slow_every=1000).run(iterations=4))
        assert runs[0].counts == runs[1].counts
        assert runs[0]["statement_errors"] == 0

        endless = Workload(dbs[0].url, seed=9, slow_every=1000, pause_s=0.01)  # replays seed 9 again
        runner = threading.Thread(target=endless.run_for, args=(None,))
        runner.start()
        while endless.stats.iterations < 3 and runner.is_alive():
            runner.join(0.05)
        endless.stop()
        runner.join(10)
        assert not runner.is_alive()
        assert endless.stats.iterations >= 3
        assert endless.stats["statement_errors"] == 0, endless.stats.errors  # no id collisions on replay
    finally:
        for db in dbs:
            pg18.drop_database(db.name)
