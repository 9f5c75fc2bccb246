"""slow_queries_summary and query_regressions over app-log rows written directly to raw.*:
the seed's filter, percentiles, shares, literal-free previews, and week-over-week growth."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import pytest

from aimatrix_pipeline import querytext
from aimatrix_pipeline.analytics import derive
from aimatrix_pipeline.shared.thresholds import load_thresholds

AS_OF = datetime(2026, 3, 16, 12, 0, tzinfo=timezone.utc)
HOUR = datetime(2026, 3, 16, 10, 0, tzinfo=timezone.utc)

TEXTS = {
    "slow_a": "SELECT * FROM orders WHERE customer_email = 'alice@example.com'",
    "slow_b": "SELECT * FROM orders WHERE customer_email = 'bob@example.com'",  # same fingerprint
    "rare_fast": "SELECT 1 FROM users WHERE id = 42",
    "often_fast": "SELECT name FROM users WHERE id = 7",
}


def _load(conn, rows):
    for key, text in TEXTS.items():
        qt = querytext.analyse(text)
        conn.execute("insert into raw.query_texts (project, text_hash, fingerprint, query_preview, parse_ok) "
                     "values ('p1', ?, ?, ?, ?)", [key, qt.fingerprint, qt.preview, qt.parse_ok])
    for i, (key, ms, at) in enumerate(rows):
        conn.execute("insert into raw.query_performance_logs (project, id, text_hash, execution_time_ms, "
                     "rows_returned, created_at) values ('p1', ?, ?, ?, 1, ?)", [str(uuid.UUID(int=i)), key, ms, at])


def _derive(conn, table, **overrides):
    params = derive.base_params("p1", load_thresholds(env={}, **overrides), as_of=AS_OF)
    return derive.derive(conn, table, params)


def test_summary_groups_by_fingerprint_with_seed_filter(warehouse):
    rows = ([("slow_a", 1000.0 + 100 * i, HOUR + timedelta(minutes=i)) for i in range(5)]
            + [("slow_b", 1500.0, HOUR + timedelta(minutes=30))]
            + [("rare_fast", 5.0, HOUR + timedelta(minutes=1))] * 3      # dropped: 3 calls, 5 ms
            + [("often_fast", 10.0, HOUR + timedelta(minutes=2))] * 6    # kept: 6 calls > 5
            + [("slow_a", 2000.0, HOUR - timedelta(days=40))])           # outside the window
    with warehouse.transaction() as conn:
        _load(conn, rows)
        _derive(conn, "slow_queries_summary")
        got = conn.execute(
            "select query_preview, hour_bucket, calls, total_time_ms, mean_time_ms, max_time_ms, rows, "
            "share_of_total_time, p50_ms, p95_ms, slow_calls from analytics.slow_queries_summary "
            "order by total_time_ms").fetchall()  # both groups have 6 calls: order by time, not calls
    total = sum(ms for _, ms, at in rows if at >= HOUR - timedelta(days=1))
    assert len(got) == 2
    slow, fast = got[1], got[0]
    assert slow[0] == "SELECT * FROM orders WHERE customer_email = $1"  # no e-mail stored
    assert slow[1:7] == (HOUR, 6, 7500.0, 1250.0, 1500.0, 6)
    assert slow[7] == pytest.approx(7500.0 / total)
    assert slow[8] == pytest.approx(1250.0) and slow[9] == pytest.approx(1475.0)
    assert slow[10] == 5  # calls above 1000 ms
    assert fast[2] == 6 and fast[10] == 0
    with warehouse.transaction() as conn:  # thresholds are parameters: a stricter filter drops it
        _derive(conn, "slow_queries_summary", summary_min_calls=6)
        assert conn.execute("select count(*) from analytics.slow_queries_summary").fetchone()[0] == 1


def test_week_over_week_regressions(warehouse):
    prev, curr = AS_OF - timedelta(days=10), AS_OF - timedelta(days=2)
    rows = ([("slow_a", 100.0, prev)] * 10 + [("slow_a", 200.0, curr)] * 10          # mean x2
            + [("often_fast", 10.0, prev)] * 10 + [("often_fast", 10.0, curr)] * 30  # total x3
            + [("rare_fast", 5.0, prev)] * 10 + [("rare_fast", 6.0, curr)] * 10      # +20 %: fine
            + [("slow_b", 100.0, prev)] * 2 + [("slow_b", 900.0, curr)] * 2)         # folded into slow_a's fingerprint
    with warehouse.transaction() as conn:
        _load(conn, rows)
        _derive(conn, "query_regressions")
        got = conn.execute(
            "select query_preview, calls_prev, calls_curr, round(mean_growth, 3), round(total_growth, 3), "
            "regressed_mean, regressed_total from analytics.query_regressions order by query_preview").fetchall()
    assert got == [
        ("SELECT * FROM orders WHERE customer_email = $1", 12, 12, round(3800 / 12 / (1200 / 12), 3),
         round(3800 / 1200, 3), True, True),
        ("SELECT name FROM users WHERE id = $1", 10, 30, 1.0, 3.0, False, True),
    ]


def test_hour_bucket_is_the_start_of_the_utc_hour(warehouse):
    # late-in-the-hour rows belong to their own hour, never to the next one
    rows = [("slow_a", 1200.0, HOUR + timedelta(minutes=m)) for m in (0, 31, 45, 59)] * 2
    with warehouse.transaction() as conn:
        _load(conn, rows)
        _derive(conn, "slow_queries_summary")
        buckets = conn.execute("select distinct hour_bucket from analytics.slow_queries_summary").fetchall()
    assert buckets == [(HOUR,)]
