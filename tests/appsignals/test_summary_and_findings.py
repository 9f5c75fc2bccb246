"""analytics.api_latency_summary and the API findings, from requests loaded through the real extract."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from aimatrix_pipeline.appsignals import api_logs, derive
from tests.appsignals.conftest import REF

NOW = datetime(2026, 11, 20, 12, 0, 30, tzinfo=UTC)
HOUR = datetime(2026, 11, 20, 11, 0, tzinfo=UTC)


def _load(logs_api, api_resource, warehouse, project):
    # /rest/v1/orders/<id>: 100 requests at 1..100 ms, 3 of them 500 and 7 of them 404
    for i in range(100):
        status = 500 if i < 3 else 404 if i < 10 else 200
        logs_api.add_request(REF, HOUR + timedelta(seconds=30 * i), f"/rest/v1/orders/{1000 + i}", status, float(i + 1))
    # a slow storage object path (keys collapse to :path) and a failing edge function
    for i in range(30):
        logs_api.add_request(REF, HOUR + timedelta(minutes=i), f"/storage/v1/object/public/avatars/u{i}/a.png",
                             200, 2000.0 + i)
        logs_api.add_request(REF, HOUR + timedelta(minutes=i, seconds=5), "/functions/v1/resize/x",
                             503 if i % 2 else 200, 50.0, method="POST")
    # too few requests to judge, however slow
    logs_api.add_request(REF, HOUR, "/auth/v1/admin/users/0b6a4f1e-3c1d-4b7e-9a8d-1234567890ab", 500, 9000.0)
    api_logs.extract_api_logs(api_resource, warehouse, project, now=NOW, initial_lookback=timedelta(hours=2))


def _derive(warehouse, thresholds=None, as_of=NOW):
    thresholds = thresholds or derive.ApiThresholds()
    with warehouse.transaction() as conn:
        derive.derive_api_latency_summary(conn, "p1", None)
        derive.derive_api_recommendations(conn, "p1", as_of, thresholds)


def _dicts(conn, sql):
    cur = conn.execute(sql)
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, r)) for r in cur.fetchall()]


def test_summary_per_service_endpoint_and_hour(logs_api, api_resource, warehouse, project):
    _load(logs_api, api_resource, warehouse, project)
    _derive(warehouse)
    with warehouse.reader() as conn:
        rows = {r["endpoint"]: r for r in _dicts(conn, "select * from analytics.api_latency_summary where project = 'p1'")}
    assert set(rows) == {"/rest/v1/orders/:id", "/storage/v1/object/public/avatars/:path",
                         "/functions/v1/resize/:path", "/auth/v1/admin/users/:id"}
    orders = rows["/rest/v1/orders/:id"]
    assert orders["service"] == "rest" and orders["method"] == "GET"
    assert orders["hour_bucket"] == HOUR
    assert (orders["requests"], orders["errors_4xx"], orders["errors_5xx"]) == (100, 7, 3)
    assert abs(orders["error_rate_5xx"] - 0.03) < 1e-9
    # continuous quantiles of 1..100: p50 = 50.5, p95 = 95.05, p99 = 99.01
    assert abs(orders["p50_ms"] - 50.5) < 1e-9
    assert abs(orders["p95_ms"] - 95.05) < 1e-9
    assert abs(orders["p99_ms"] - 99.01) < 1e-9
    assert orders["max_ms"] == 100.0
    assert rows["/storage/v1/object/public/avatars/:path"]["service"] == "storage"
    assert rows["/functions/v1/resize/:path"]["service"] == "functions"


def test_slowest_and_failing_endpoints_become_findings_with_stable_ids(logs_api, api_resource, warehouse, project):
    _load(logs_api, api_resource, warehouse, project)
    _derive(warehouse)
    with warehouse.reader() as conn:
        found = _dicts(conn, "select * from analytics.api_recommendations where project = 'p1' order by impact desc")
    by = {(f["name"], f["object_name"]): f for f in found}
    assert set(by) == {("api_slow_endpoint", "/storage/v1/object/public/avatars/:path"),
                       ("api_error_endpoint", "/functions/v1/resize/:path")}
    slow = by[("api_slow_endpoint", "/storage/v1/object/public/avatars/:path")]
    meta = json.loads(slow["metadata"])
    assert meta["requests"] == 30 and meta["p95_ms"] > 2000
    assert slow["object_schema"] == "storage" and "p95" in slow["detail"]
    failing = by[("api_error_endpoint", "/functions/v1/resize/:path")]
    assert abs(json.loads(failing["metadata"])["error_rate_5xx"] - 0.5) < 1e-9 and failing["level"] == "critical"
    # a later run keeps ids and first_seen; a higher threshold makes the slow finding disappear
    _derive(warehouse, as_of=NOW + timedelta(minutes=5))
    with warehouse.reader() as conn:
        again = {f["id"]: f for f in _dicts(conn, "select * from analytics.api_recommendations")}
    assert set(again) == {f["id"] for f in found}
    assert all(again[f["id"]]["first_seen"] == f["first_seen"] for f in found)
    _derive(warehouse, derive.ApiThresholds(p95_ms_threshold=5000), as_of=NOW + timedelta(minutes=10))
    with warehouse.reader() as conn:
        names = [r[0] for r in conn.execute("select name from analytics.api_recommendations").fetchall()]
    assert names == ["api_error_endpoint"]


def test_recompute_replaces_only_recent_hours(logs_api, api_resource, warehouse, project):
    _load(logs_api, api_resource, warehouse, project)
    _derive(warehouse)
    with warehouse.transaction() as conn:
        before = conn.execute("select count(*) from analytics.api_latency_summary").fetchone()[0]
        derive.derive_api_latency_summary(conn, "p1", HOUR)  # same hour again: replaced, not doubled
        assert conn.execute("select count(*) from analytics.api_latency_summary").fetchone()[0] == before
