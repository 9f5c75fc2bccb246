"""Every defect found, no decoy reported: a seeded database on PG 15 and PG 18, read through the
real extract (snapshots and app-log loads), then the analytics SQL.

The seeded objects live in schema `defects` (tests/analytics/fixtures/defects.sql); each defect
sits next to a decoy a naive rule would report. Thresholds that depend on data volume are lowered
through the same override mechanism users have, so the database stays small.
"""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta, timezone

import psycopg
import pytest

from tests.analytics.helpers import FIXTURES, extract_logs, findings, project_for, run_analytics, snapshot

THRESHOLDS = dict(unused_index_min_bytes=500_000, connection_utilisation_max=0.05, long_running_query_seconds=0.5)
EXTRA_CONNECTIONS = 12

SLOW_TEXT = "SELECT * FROM defects.orders o JOIN defects.parents p ON p.id = o.customer_id WHERE o.status = 'open'"
FAST_TEXT = "SELECT value FROM defects.app_settings WHERE key = 'a'"

DEFECTS = {
    ("unindexed_foreign_key", "children"),
    ("unused_index", "events_kind_idx"),
    ("duplicate_index", "orders_customer_idx"),
    ("duplicate_index", "orders_status_idx2"),
    ("invalid_index", "accounts_email_key"),
    ("no_primary_key", "audit_log"),
    ("seq_scan_heavy_table", "products"),
    ("vacuum_overdue", "sessions"),
}
DECOYS = {
    ("unindexed_foreign_key", "memberships"),   # FK = leading column of a composite primary key
    ("unindexed_foreign_key", "comments"),      # FK = leading column of another index
    ("unused_index", "events_token_key"),       # never scanned, but unique
    ("unused_index", "events_pkey"),
    ("duplicate_index", "orders_order_no_key"),  # unique prefix of another index: never dropped
    ("duplicate_index", "orders_status_open_idx"),  # same column, different predicate
    ("duplicate_index", "orders_status_idx"),   # the copy we keep
    ("duplicate_index", "orders_customer_status_idx"),
    ("invalid_index", "accounts_email_idx"),
    ("no_primary_key", "app_settings"),
    ("seq_scan_heavy_table", "tiny_lookup"),    # small table without statistics
    ("vacuum_overdue", "tiny_lookup"),
    ("vacuum_overdue", "sessions_tuned"),       # per-table reloptions raise its threshold
}


def seed(source_db, before_scans=None) -> None:
    source_db.execute((FIXTURES / "defects.sql").read_text())
    with pytest.raises(psycopg.errors.UniqueViolation):  # leaves an invalid index behind
        source_db.execute("create unique index concurrently accounts_email_key on defects.accounts (email)")
    for table in ("parents", "children", "memberships", "comments", "events", "orders", "accounts",
                  "audit_log", "app_settings", "products", "sessions", "sessions_tuned"):
        source_db.execute(f"vacuum analyze defects.{table}")
    source_db.execute("delete from defects.sessions where id <= 3000")
    source_db.execute("delete from defects.sessions_tuned where id <= 3000")
    if before_scans:
        before_scans()  # seq-scan-heavy is judged from the scans between two snapshots
    with source_db.connect(autocommit=True) as conn:
        for _ in range(60):
            conn.execute("select count(*) from defects.products where sku = 'none'")
            conn.execute("select count(*) from defects.tiny_lookup where label = 'none'")
        for _ in range(3):
            conn.execute("select count(*) from defects.big_scan")
        now = datetime.now(timezone.utc)
        for i in range(8):
            conn.execute(
                "insert into public.query_performance_logs (query_hash, query_text, execution_time_ms, "
                "rows_returned, created_at) values ('h1', %s, %s, 10, %s), ('h2', %s, 40, 1, %s)",
                (SLOW_TEXT, 2400 + 50 * i, now - timedelta(minutes=i), FAST_TEXT, now - timedelta(minutes=i)),
            )


def pairs(rows, schema=None) -> set[tuple[str, str]]:
    return {(r["name"], r["object_name"]) for r in rows if schema is None or r["object_schema"] == schema}


def test_every_defect_found_no_decoy_reported(source_db, warehouse, monkeypatch):
    project = project_for(monkeypatch, source_db)
    seed(source_db, lambda: snapshot(warehouse, project, datetime.now(timezone.utc) - timedelta(minutes=5),
                                     names=("table_stats",)))
    held = [psycopg.connect(source_db.url) for _ in range(EXTRA_CONNECTIONS)]
    # a blocking pair: `holder` sits idle in transaction on a row lock `waiter` needs
    holder = held[0]
    holder.execute("update defects.app_settings set value = 'x' where key = 'a'")
    waiter = threading.Thread(target=source_db.execute,
                              args=("update defects.app_settings set value = 'y' where key = 'a'",))
    waiter.start()
    try:
        time.sleep(1.0)  # the waiter is now blocked for longer than long_running_query_seconds
        first = snapshot(warehouse, project)
    finally:
        holder.rollback()
        waiter.join(timeout=30)
        for conn in held:
            conn.close()
    extract_logs(warehouse, project, tables=("query_performance_logs",))
    run_analytics(warehouse, project, as_of=first, **THRESHOLDS)
    rows = findings(warehouse, "p1")
    found = pairs(rows, "defects")

    assert DEFECTS <= found, f"missing: {DEFECTS - found}"
    assert not (DECOYS & found), f"decoys reported: {DECOYS & found}"

    by_name = {}
    for r in rows:
        by_name.setdefault(r["name"], []).append(r)
    # database-level findings: the heap cache (big_scan read around the cache) and connections
    assert any(r["object_key"] == f"{source_db.name}:heap" for r in by_name.get("low_cache_hit_ratio", []))
    assert [r["object_name"] for r in by_name.get("connection_saturation", [])] == [source_db.name]
    # the slow app query (2.4 s, SELECT * with a JOIN) with the seed's actions; not the fast one
    slow = [r for r in by_name.get("slow_query", []) if r["object_schema"] == "app_log"]
    assert len(slow) == 1 and "defects.orders" in slow[0]["title"]
    assert "Select only the columns you need" in slow[0]["detail"]
    assert "Index the JOIN columns" in slow[0]["detail"]
    assert "'open'" not in slow[0]["remediation_sql"]  # literals never reach the warehouse

    # every row is well formed; remediation SQL is safe to paste
    for r in rows:
        assert 1 <= r["impact"] <= 10 and 1 <= r["effort"] <= 10 and r["title"] and r["detail"]
        assert r["level"] in ("critical", "warning", "info")
    assert [r["impact"] for r in rows] == sorted((r["impact"] for r in rows), reverse=True)
    sql_of = {(r["name"], r["object_name"]): r["remediation_sql"] for r in rows}
    assert sql_of[("unused_index", "events_kind_idx")] == 'DROP INDEX CONCURRENTLY IF EXISTS "defects"."events_kind_idx";'
    assert sql_of[("unindexed_foreign_key", "children")].startswith("CREATE INDEX CONCURRENTLY IF NOT EXISTS ")
    assert 'ON "defects"."children" ("parent_id");' in sql_of[("unindexed_foreign_key", "children")]
    assert sql_of[("vacuum_overdue", "sessions")].startswith('VACUUM (ANALYZE) "defects"."sessions";')
    # the remediation runs as is (CONCURRENTLY must run outside a transaction block)
    source_db.execute(sql_of[("unindexed_foreign_key", "children")])
    source_db.execute(sql_of[("duplicate_index", "orders_status_idx2")])

    # health tables: the blocking pair, idle in transaction, autovacuum thresholds with reloptions
    with warehouse.reader() as conn:
        health = conn.execute(
            "select conn_total, conn_idle_in_transaction, blocked_backends, blocking_pairs, "
            "long_running_queries, connection_utilisation, heap_cache_hit_ratio, sequences_near_limit, "
            "max_sequence_usage_ratio, xid_age "
            "from analytics.database_health where project = 'p1' and snapshot_at = ?", [first]).fetchone()
        tables = dict(
            (r[0], r[1:]) for r in conn.execute(
                "select relname, vacuum_due, autovacuum_enabled, vacuum_threshold_tuples, n_dead_tup "
                "from analytics.table_health where project = 'p1' and schemaname = 'defects' "
                "and snapshot_at = ?", [first]).fetchall())
    conn_total, idle_tx, blocked, pairs_, long_running, utilisation, heap_ratio, seqs, seq_ratio, xid_age = health
    assert seqs == 1 and seq_ratio == pytest.approx(2000000000 / 2147483647)
    assert xid_age > 0
    assert conn_total >= EXTRA_CONNECTIONS + 1 and idle_tx >= 1
    assert blocked >= 1 and pairs_ >= 1 and long_running >= 1
    assert utilisation == pytest.approx(conn_total / 197) and heap_ratio < 0.94
    assert tables["sessions"] == (True, False, 50 + 0.2 * 4000, 3000)
    assert tables["sessions_tuned"] == (False, False, 100000 + 0.2 * 4000, 3000)

    # next run: fixed problems drop out, the rest keep id and first_seen
    second = snapshot(warehouse, project, first + timedelta(minutes=5),
                      names=("index_stats", "foreign_keys", "database_stats"))
    run_analytics(warehouse, project, as_of=second, **THRESHOLDS)
    again = findings(warehouse, "p1")
    found_again = pairs(again, "defects")
    assert ("unindexed_foreign_key", "children") not in found_again
    assert ("duplicate_index", "orders_status_idx2") not in found_again
    assert "connection_saturation" not in {r["name"] for r in again}
    before = {r["id"]: r for r in rows}
    kept = [r for r in again if r["id"] in before]
    assert {(r["name"], r["object_name"]) for r in kept} >= DEFECTS - {
        ("unindexed_foreign_key", "children"), ("duplicate_index", "orders_status_idx2")}
    for r in kept:
        assert r["first_seen"] == before[r["id"]]["first_seen"] == first
        assert r["last_seen"] == second
