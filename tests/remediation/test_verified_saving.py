"""The closed loop end to end: `aimatrix-pipeline apply` builds the index an unindexed-foreign-key
finding asks for, and the next windows measure the statement it was meant to help: mean time
before and after, and the index's scans, in analytics.index_impact as a verified saving."""

from __future__ import annotations

from datetime import UTC, datetime

import psycopg

from aimatrix_pipeline.analytics import derive
from aimatrix_pipeline.cli import main
from aimatrix_pipeline.extract import plans, snapshots
from aimatrix_pipeline.resources.source_postgres import SourcePostgresResource
from aimatrix_pipeline.shared.thresholds import load_thresholds

LOOKUP = "select count(*), sum(quantity) from app.order_items where product_id = %s"
STATS = ("pg_stat_statements", "index_stats", "table_stats", "database_stats", "foreign_keys")


def _fill(url: str) -> None:
    """200 products, 2,000 orders and 200,000 order lines: a lookup by product scans them all
    until product_id has an index."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("insert into app.customers (email) values ('a@example.test')")
        conn.execute("insert into app.products (sku, name, price_cents) "
                     "select 'sku' || g, 'p' || g, 100 from generate_series(1, 200) g")
        conn.execute("insert into app.orders (customer_id, status, total_cents) "
                     "select (select min(id) from app.customers), 'paid', 100 from generate_series(1, 2000) g")
        conn.execute("insert into app.order_items (order_id, line_no, product_id, quantity) "
                     "select o.id, l, (select min(id) from app.products) + (o.id * 100 + l) % 200, 1 "
                     "from app.orders o, generate_series(1, 100) l")
        conn.execute("analyze app.order_items")


def _lookups(url: str, calls: int) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        first = conn.execute("select min(id) from app.products").fetchone()[0]
        for i in range(calls):
            conn.execute(LOOKUP, (first + i % 200,))


def _tick(env) -> datetime:
    """What the schedules do: statistics snapshots, analytics, a plan capture."""
    at = datetime.now(UTC)
    for name in STATS:
        snapshots.take_snapshot(name, SourcePostgresResource(), env.warehouse, env.project, at)
    params = derive.base_params(env.project.name, load_thresholds(env={}), as_of=at,
                                compute_size=env.project.compute_size)
    with env.warehouse.transaction() as conn:
        derive.derive_all(conn, params)
    plans.capture_plans(SourcePostgresResource(), env.warehouse, env.project, at, top=50, window_hours=24,
                        timeout_ms=5000)
    with env.warehouse.transaction() as conn:
        derive.derive_all(conn, params)
    return at


def test_index_built_by_apply_gets_a_verified_saving_from_the_next_windows(apply_env, capsys):
    env = apply_env
    _fill(env.write_url)
    # the monitoring role may read this table, so its plans are captured (see docs/advisors.md)
    env.source.execute("grant usage on schema app to aimatrix_monitor")
    env.source.execute("grant select on app.order_items to aimatrix_monitor")
    _tick(env)                                   # baseline
    _lookups(env.write_url, 30)                  # slow: sequential scans of order_items
    _tick(env)
    finding = env.finding("unindexed_foreign_key", "order_items")
    assert main(["apply", finding["id"], "--confirm"]) == 0
    assert "result: succeeded" in capsys.readouterr().out
    [attempt] = env.attempts()
    _tick(env)                                   # the first snapshot that sees the index
    _lookups(env.write_url, 30)                  # fast: the new index
    _tick(env)

    with env.warehouse.reader() as conn:
        cur = conn.execute("select * from analytics.index_impact where project = ?", [env.project.name])
        cols = [d[0] for d in cur.description]
        rows = [dict(zip(cols, r)) for r in cur.fetchall()]
    mine = [r for r in rows if r["query_preview"] and "order_items" in r["query_preview"]
            and "sum(quantity)" in r["query_preview"]]
    assert len(mine) == 1, rows
    r = mine[0]
    assert r["relname"] == "order_items" and r["created_by"] == "apply"
    assert r["applied_id"] == attempt["id"] and r["recommendation_id"] == finding["id"]
    assert r["created_at"] == attempt["finished_at"]
    assert r["reason"] == "uses_index"
    assert r["calls_before"] == 30 and r["calls_after"] == 30
    assert r["mean_time_ms_after"] < r["mean_time_ms_before"]
    assert r["status"] == "saved" and r["saved_ms"] > 0
    assert r["index_scans"] >= 30
