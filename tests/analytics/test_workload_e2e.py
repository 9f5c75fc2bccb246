"""A known workload through the real extract: pg_stat_statements deltas, the slow query summary
and a reset between two real snapshots (PG 15 and PG 18)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.analytics.helpers import findings, project_for, run_analytics, snapshot

SLEEP_S, RUNS = 1.2, 7


def _sleep_rows(warehouse, table: str, extra: str = "") -> list[tuple]:
    with warehouse.reader() as conn:
        return conn.execute(
            f"select * exclude (project) from analytics.{table} "
            f"where project = 'p1' and query_preview ilike '%pg_sleep%' {extra}"
        ).fetchall()


def test_known_workload_then_reset(source_db, warehouse, monkeypatch):
    project = project_for(monkeypatch, source_db)
    t0 = snapshot(warehouse, project, names=("pg_stat_statements",))
    with source_db.connect(autocommit=True) as conn:
        for _ in range(RUNS):
            conn.execute("select pg_sleep(%s)", (SLEEP_S,))
    t1 = snapshot(warehouse, project, t0 + timedelta(minutes=1), names=("pg_stat_statements",))
    run_analytics(warehouse, project, as_of=t1)

    with warehouse.reader() as conn:
        summary = conn.execute(
            "select calls, mean_time_ms, max_time_ms, total_time_ms, share_of_total_time, query_preview "
            "from analytics.slow_queries_summary where project = 'p1' "
            "and source = 'pg_stat_statements' and query_preview ilike '%pg_sleep%'"
        ).fetchall()
    assert len(summary) == 1
    calls, mean, max_ms, total, share, preview = summary[0]
    assert calls == RUNS
    assert mean == pytest.approx(SLEEP_S * 1000, rel=0.10)
    assert max_ms >= mean and total == pytest.approx(mean * calls)
    assert 0 < share <= 1
    assert "1.2" not in preview  # literal replaced
    slow = [r for r in findings(warehouse, "p1") if r["name"] == "slow_query"]
    assert any("pg_sleep" in r["title"] and r["object_schema"] == "pg_stat_statements" for r in slow)

    # Reset between two real snapshots: the next interval counts from the reset, never negative.
    source_db.execute("select extensions.pg_stat_statements_reset()")
    with source_db.connect(autocommit=True) as conn:
        for _ in range(3):
            conn.execute("select pg_sleep(%s)", (0.01,))
    t2 = snapshot(warehouse, project, t1 + timedelta(minutes=1), names=("pg_stat_statements",))
    run_analytics(warehouse, project, as_of=t2)
    with warehouse.reader() as conn:
        kinds = conn.execute(
            "select interval_kind from analytics.pg_stat_statements_intervals where project = 'p1' "
            "order by snapshot_at"
        ).fetchall()
        after = conn.execute(
            "select calls, delta_kind from analytics.pg_stat_statements_deltas where project = 'p1' "
            "and snapshot_at = ? and query_preview ilike '%pg_sleep%'", [t2]
        ).fetchall()
        negatives = conn.execute(
            "select count(*) from analytics.pg_stat_statements_deltas where project = 'p1' and "
            "(calls <= 0 or total_time_ms < 0 or rows < 0 or shared_blks_hit < 0)"
        ).fetchone()[0]
    assert [k[0] for k in kinds] == ["baseline", "normal", "stats_reset"]
    assert after == [(3, "stats_reset")]
    assert negatives == 0
