"""Plan history end to end on PG 15 and 18: a plan changed on purpose (an index dropped) is found
in analytics.plan_changes and named as the cause of the regression it causes; an index built by
hand gets its verified saving in analytics.index_impact."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import psycopg
import pytest

from aimatrix_pipeline.shared.previews import preview_metadata
from tests.analytics.helpers import project_for, run_analytics
from tests.analytics.plan_workload import INDEX, capture, create_probe_table, probe, stats_snapshot


def _records(warehouse, sql: str, params) -> list[dict]:
    with warehouse.reader() as conn:
        cur = conn.execute(sql, params)
        cols = [d[0] for d in cur.description]
        return [dict(zip(cols, r)) for r in cur.fetchall()]


def _is_probe(preview: str | None) -> bool:
    return bool(preview) and "plan_probe" in preview and "count" in preview and "$1" in preview


def test_dropped_index_is_a_plan_change_and_the_cause_of_the_regression(source_db, warehouse, monkeypatch):
    project = project_for(monkeypatch, source_db)
    create_probe_table(source_db.url)
    now = datetime.now(timezone.utc).replace(microsecond=0)
    t0 = stats_snapshot(warehouse, project, now - timedelta(days=10))
    probe(source_db.url, 60)
    t1 = stats_snapshot(warehouse, project, now - timedelta(days=9))
    run_analytics(warehouse, project, as_of=t1 + timedelta(minutes=1))
    capture(warehouse, project, t1)
    # the change made on purpose
    source_db.execute(f"drop index app.{INDEX}")
    probe(source_db.url, 60)
    t2 = stats_snapshot(warehouse, project, now - timedelta(days=3))
    run_analytics(warehouse, project, as_of=t2 + timedelta(minutes=1))
    capture(warehouse, project, t2)
    probe(source_db.url, 60)
    stats_snapshot(warehouse, project, now - timedelta(days=2))
    run_analytics(warehouse, project, as_of=now)

    changes = [c for c in _records(warehouse, "select * from analytics.plan_changes where project = ?", [project.name])
               if _is_probe(c["query_preview"])]
    assert len(changes) == 1, changes
    change = changes[0]
    assert change["changed_at"] == t2 and change["prev_captured_at"] == t1
    assert change["plan_hash_before"] != change["plan_hash_after"]
    assert [i.split(".")[-1] for i in change["indexes_removed"]] == [INDEX] and change["indexes_added"] == []
    assert change["calls_before"] == 60 and change["calls_after"] == 60  # the t1..t2 interval mixes both plans
    assert change["mean_time_ms_after"] > change["mean_time_ms_before"]
    assert change["mean_time_ratio"] > 1

    [regression] = [r for r in _records(warehouse, "select * from analytics.query_regressions where project = ?",
                                        [project.name])
                    if r["fingerprint"] == change["fingerprint"] and r["source"] == "pg_stat_statements"]
    assert regression["regressed_mean"]
    assert regression["plan_changed"] is True and regression["plan_changed_at"] == t2
    assert regression["plan_hash_after"] == change["plan_hash_after"]
    assert f"no longer uses {change['indexes_removed'][0]}" in regression["cause"]
    assert "plan changed between" in regression["cause"]
    # statements whose plan did not change carry no cause
    others = _records(warehouse, "select * from analytics.query_regressions where project = ? and fingerprint <> ?",
                      [project.name, change["fingerprint"]])
    unchanged = {c["fingerprint"] for c in _records(warehouse, "select fingerprint from analytics.plan_changes "
                                                                "where project = ?", [project.name])}
    assert all(r["cause"] is None and not r["plan_changed"] for r in others if r["fingerprint"] not in unchanged)
    assert t0 < t1
    # what the Dagster UI shows on analytics/plan_changes
    with warehouse.reader() as conn:
        meta = preview_metadata(conn, "plan_changes", {"project": project.name})
    assert meta["plan_changes"].value >= 1 and meta["slower_after_change"].value >= 1
    assert change["plan_hash_after"] in meta["preview"].value and INDEX in meta["preview"].value


def test_changed_statistics_change_the_plan_without_an_index_change(source_db, warehouse, monkeypatch):
    """A plan change made through statistics, no DDL: while the table holds 5 rows a seq scan is
    cheapest; once it holds 200,000 and is analyzed, the same lookup uses the index."""
    project = project_for(monkeypatch, source_db)
    with psycopg.connect(source_db.url, autocommit=True) as conn:
        conn.execute("create table app.stats_probe (k integer, pad text)")
        conn.execute("create index stats_probe_k_idx on app.stats_probe (k)")
        conn.execute("insert into app.stats_probe select g, 'x' from generate_series(1, 5) g")
        conn.execute("analyze app.stats_probe")
        for i in range(10):
            conn.execute("select count(*) from app.stats_probe where k = %s", (i,))
    now = datetime.now(timezone.utc).replace(microsecond=0)
    stats_snapshot(warehouse, project, now - timedelta(hours=3))
    with psycopg.connect(source_db.url, autocommit=True) as conn:
        for i in range(10):
            conn.execute("select count(*) from app.stats_probe where k = %s", (i,))
    t1 = stats_snapshot(warehouse, project, now - timedelta(hours=2))
    run_analytics(warehouse, project, as_of=t1)
    capture(warehouse, project, t1)
    with psycopg.connect(source_db.url, autocommit=True) as conn:
        conn.execute("insert into app.stats_probe select g, repeat('x', 50) from generate_series(1, 200000) g")
        conn.execute("analyze app.stats_probe")
        for i in range(10):
            conn.execute("select count(*) from app.stats_probe where k = %s", (i,))
    t2 = stats_snapshot(warehouse, project, now - timedelta(hours=1))
    run_analytics(warehouse, project, as_of=t2)
    capture(warehouse, project, t2)
    run_analytics(warehouse, project, as_of=now)
    changes = [c for c in _records(warehouse, "select * from analytics.plan_changes where project = ?", [project.name])
               if c["query_preview"] and "stats_probe" in c["query_preview"] and "count" in c["query_preview"]]
    assert len(changes) == 1
    assert [i.split(".")[-1] for i in changes[0]["indexes_added"]] == ["stats_probe_k_idx"]
    assert changes[0]["indexes_removed"] == []


@pytest.mark.parametrize("with_plans", [True, False], ids=["plans_captured", "no_plans"])
def test_index_built_by_hand_gets_a_verified_saving(source_db, warehouse, monkeypatch, with_plans):
    """With plans, the statement is the one whose plan uses the index; without any (a monitoring
    role that may not explain), the one whose text names the index's table."""
    project = project_for(monkeypatch, source_db)
    create_probe_table(source_db.url, index=False)
    now = datetime.now(timezone.utc).replace(microsecond=0)
    stats_snapshot(warehouse, project, now - timedelta(hours=4))
    probe(source_db.url, 40)
    t1 = stats_snapshot(warehouse, project, now - timedelta(hours=3))
    run_analytics(warehouse, project, as_of=t1)
    if with_plans:
        capture(warehouse, project, t1)
    source_db.execute(f"create index {INDEX} on app.plan_probe (k)")   # by someone, not by apply
    t2 = stats_snapshot(warehouse, project, now - timedelta(hours=2))
    probe(source_db.url, 40)
    t3 = stats_snapshot(warehouse, project, now - timedelta(hours=1))
    run_analytics(warehouse, project, as_of=t3)
    if with_plans:
        capture(warehouse, project, t3)
    run_analytics(warehouse, project, as_of=now)

    rows = _records(warehouse, "select * from analytics.index_impact where project = ? and indexrelname = ?",
                    [project.name, INDEX])
    mine = [r for r in rows if _is_probe(r["query_preview"])]
    assert len(mine) == 1, rows
    r = mine[0]
    assert r["created_by"] == "other" and r["applied_id"] is None
    assert r["created_at"] == t2 and r["first_seen_at"] == t2
    assert r["reason"] == ("uses_index" if with_plans else "names_its_table")
    assert r["calls_before"] == 40 and r["calls_after"] == 40 and r["windows_after"] == 1
    assert r["mean_time_ms_after"] < r["mean_time_ms_before"]
    assert r["status"] == "saved" and 0 < r["saving_ratio"] <= 1
    assert r["saved_ms"] > 0 and r["index_scans"] >= 40
    with warehouse.reader() as conn:
        meta = preview_metadata(conn, "index_impact", {"project": project.name})
    assert meta["new_indexes"].value >= 1 and meta["verified_saved_ms"].value >= r["saved_ms"]
    assert INDEX in meta["preview"].value
    # a statement on another table is not measured against this index
    assert not [x for x in rows if x["query_preview"] and "plan_probe" not in x["query_preview"]
                and x["reason"] == "uses_index"]
