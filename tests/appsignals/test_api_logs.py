"""API request logs from the local logs.all server: windows, paging, increments, errors, quarantine."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from aimatrix_pipeline.appsignals import api_counts, api_logs
from aimatrix_pipeline.resources.supabase_api import SupabaseApiAuthError, SupabaseApiUnavailable
from aimatrix_pipeline.settings import Project
from tests.appsignals.conftest import REF

NOW = datetime(2026, 11, 20, 12, 0, 30, tzinfo=UTC)


def _rows(warehouse, sql="select id, requested_at, method, path, status_code, response_time_ms "
          "from raw.api_request_logs where project = 'p1' order by requested_at, id"):
    with warehouse.reader() as conn:
        return conn.execute(sql).fetchall()


def _state(warehouse):
    with warehouse.reader() as conn:
        return conn.execute("select high_water_mark, rows_loaded_total from raw.extract_state "
                            "where project = 'p1' and source_table = 'api_request_logs'").fetchall()


def test_first_load_pages_through_24_hour_windows(logs_api, api_resource, warehouse, project):
    end = NOW.replace(second=0)
    # 60 hours back: three windows of at most 24 hours, the middle one empty on purpose
    for h in (59, 50, 40, 30, 2, 1):
        if 24 <= h < 48:
            continue
        logs_api.add_request(REF, end - timedelta(hours=h), f"/rest/v1/orders?id=eq.{h}", ms=float(h))
    result = api_logs.extract_api_logs(api_resource, warehouse, project, now=NOW, window=timedelta(hours=48),
                                       initial_lookback=timedelta(hours=60))
    assert result.rows_loaded == 4 and result.windows == 3 and result.rows_quarantined == 0
    spans = [(e - s) for s, e, _ in logs_api.windows]
    assert spans == [timedelta(hours=24), timedelta(hours=24), timedelta(hours=12)]
    assert [n for _, _, n in logs_api.windows] == [2, 0, 2]  # the empty window is read and committed
    rows = _rows(warehouse)
    assert [r[5] for r in rows] == [59.0, 50.0, 2.0, 1.0]
    assert rows[0][3] == "/rest/v1/orders"  # query string dropped
    assert rows[0][1] == end - timedelta(hours=59)
    assert _state(warehouse) == [(end, 4)]


def test_full_window_is_split_until_every_row_is_read(logs_api, api_resource, warehouse, project):
    end = NOW.replace(second=0)
    for i in range(23):
        logs_api.add_request(REF, end - timedelta(minutes=50) + timedelta(seconds=37 * i), "/auth/v1/token")
    result = api_logs.extract_api_logs(api_resource, warehouse, project, now=NOW, window=timedelta(hours=1),
                                       initial_lookback=timedelta(hours=1), row_limit=5)
    assert result.rows_loaded == 23
    assert len(_rows(warehouse)) == 23
    answers = [n for _, _, n in logs_api.windows]
    assert answers[0] == 5  # the hour came back full ...
    assert sum(n for n in answers if n < 5) == 23  # ... and the halves that were not full hold every row
    assert all(s.second == 0 and e.second == 0 for s, e, _ in logs_api.windows)  # minute aligned


def test_incremental_runs_read_from_the_high_water_mark_without_doubling(logs_api, api_resource, warehouse, project):
    end = NOW.replace(second=0)
    logs_api.add_request(REF, end - timedelta(minutes=30), "/rest/v1/a")
    logs_api.add_request(REF, end - timedelta(minutes=5), "/rest/v1/b")
    first = api_logs.extract_api_logs(api_resource, warehouse, project, now=NOW, initial_lookback=timedelta(hours=2))
    assert first.rows_loaded == 2
    # a late row inside the overlap, and new ones after the mark
    logs_api.add_request(REF, end - timedelta(minutes=3), "/rest/v1/late")
    logs_api.add_request(REF, end + timedelta(minutes=20), "/rest/v1/c")
    calls = len(logs_api.windows)
    second = api_logs.extract_api_logs(api_resource, warehouse, project, now=NOW + timedelta(minutes=30),
                                       overlap=timedelta(minutes=10))
    assert logs_api.windows[calls][0] == end - timedelta(minutes=10)  # starts at mark - overlap
    assert second.previous_high_water_mark == end
    paths = [r[3] for r in _rows(warehouse)]
    assert paths == ["/rest/v1/a", "/rest/v1/b", "/rest/v1/late", "/rest/v1/c"]
    # re-running the same window changes nothing
    api_logs.extract_api_logs(api_resource, warehouse, project, now=NOW + timedelta(minutes=30))
    assert len(_rows(warehouse)) == 4


def test_malformed_rows_are_quarantined_and_the_rest_loads(logs_api, api_resource, warehouse, project):
    end = NOW.replace(second=0)
    at = api_logs_us(end - timedelta(minutes=10))
    logs_api.add_request(REF, end - timedelta(minutes=20), "/rest/v1/good", ms=12.5)
    logs_api.add_raw(REF, {"id": "bad-status", "timestamp": at, "method": "GET", "path": "/x", "status_code": "oops",
                           "response_time_ms": 1})
    logs_api.add_raw(REF, {"id": "bad-ms", "timestamp": at, "method": "GET", "path": "/x", "status_code": 200,
                           "response_time_ms": -3})
    logs_api.add_raw(REF, {"id": "no-ts", "method": "GET", "path": "/x", "status_code": 200})
    logs_api.add_raw(REF, "not an object")
    result = api_logs.extract_api_logs(api_resource, warehouse, project, now=NOW, initial_lookback=timedelta(hours=1))
    assert result.rows_loaded == 1 and result.rows_quarantined == 4
    with warehouse.reader() as conn:
        q = dict(conn.execute("select source_id, reason from raw.quarantine where project = 'p1' and "
                              "source_table = 'api_request_logs'").fetchall())
        row = conn.execute("select row_json from raw.quarantine where source_id = 'bad-ms'").fetchone()[0]
    assert q["bad-status"] == "status_code is not an HTTP status"
    assert q["bad-ms"] == "response_time_ms is not a non-negative number"
    assert q["no-ts"] == "missing or unparseable timestamp"
    assert "row is not an object" in q.values()
    assert json.loads(row)["response_time_ms"] == -3  # the whole row is kept
    # a re-run replaces the quarantine rows instead of adding more
    api_logs.extract_api_logs(api_resource, warehouse, project, now=NOW, initial_lookback=timedelta(hours=1))
    with warehouse.reader() as conn:
        assert conn.execute("select count(*) from raw.quarantine where source_table = 'api_request_logs'").fetchone()[0] == 4


def api_logs_us(ts):
    return int(ts.timestamp() * 1_000_000)


def test_429_is_retried_and_a_lasting_429_keeps_committed_windows(logs_api, api_resource, warehouse, project):
    end = NOW.replace(second=0)
    logs_api.add_request(REF, end - timedelta(hours=2, minutes=30), "/rest/v1/a")
    logs_api.add_request(REF, end - timedelta(minutes=30), "/rest/v1/b")
    path = f"/v1/projects/{REF}/analytics/endpoints/logs.all"
    logs_api.script(path, (429, {"Retry-After": "0"}, "{}"))
    ok = api_logs.extract_api_logs(api_resource, warehouse, project, now=NOW - timedelta(hours=1),
                                   initial_lookback=timedelta(hours=3))
    assert ok.rows_loaded == 1  # retried after the 429
    assert _state(warehouse)[0][0] == end - timedelta(hours=1)
    for _ in range(3):
        logs_api.script(path, (429, {"Retry-After": "0"}, "{}"))
    with pytest.raises(SupabaseApiUnavailable, match="429"):
        api_logs.extract_api_logs(api_resource, warehouse, project, now=NOW)
    assert _state(warehouse)[0][0] == end - timedelta(hours=1)  # mark unmoved, nothing half-written
    assert [r[3] for r in _rows(warehouse)] == ["/rest/v1/a"]
    api_logs.extract_api_logs(api_resource, warehouse, project, now=NOW)  # next run catches up
    assert [r[3] for r in _rows(warehouse)] == ["/rest/v1/a", "/rest/v1/b"]


def test_401_is_a_configuration_error(logs_api, api_resource, warehouse, project, monkeypatch):
    monkeypatch.setenv("SUPABASE_ACCESS_TOKEN", "sbp_wrong")
    with pytest.raises(SupabaseApiAuthError, match="SUPABASE_ACCESS_TOKEN") as exc:
        api_logs.extract_api_logs(api_resource, warehouse, project, now=NOW)
    assert "sbp_wrong" not in str(exc.value)


def test_no_ref_or_no_token_loads_nothing_and_says_why(logs_api, api_resource, warehouse, project, monkeypatch):
    no_ref = Project(name="p1", organization="o1", db_url_env="P1_DB_URL")
    r = api_logs.extract_api_logs(api_resource, warehouse, no_ref, now=NOW)
    assert r.skipped and r.rows_loaded == 0 and "no 'ref'" in r.notes[0]
    monkeypatch.delenv("SUPABASE_ACCESS_TOKEN")
    r = api_logs.extract_api_logs(api_resource, warehouse, project, now=NOW)
    assert r.skipped and "SUPABASE_ACCESS_TOKEN is not set" in r.notes[0]
    c = api_counts.extract_api_counts(api_resource, warehouse, project)
    assert c.skipped and c.rows_loaded == 0
    assert logs_api.logs_calls() == 0


def test_api_counts_are_replaced_per_bucket_and_bad_buckets_quarantined(logs_api, api_resource, warehouse, project):
    logs_api.api_counts = {"result": [
        {"timestamp": "2026-11-20T00:00:00.000Z", "total_auth_requests": 120, "total_realtime_requests": 4,
         "total_rest_requests": 5300, "total_storage_requests": 61},
        {"timestamp": "2026-11-21T00:00:00.000Z", "total_auth_requests": 98, "total_realtime_requests": 0,
         "total_rest_requests": 4870, "total_storage_requests": 12},
        {"timestamp": "2026-11-22T00:00:00.000Z", "total_auth_requests": "n/a", "total_realtime_requests": 0,
         "total_rest_requests": 1, "total_storage_requests": 1},
    ]}
    for _ in range(2):
        r = api_counts.extract_api_counts(api_resource, warehouse, project, "7day")
        assert r.rows_loaded == 2 and r.rows_quarantined == 1
    with warehouse.reader() as conn:
        rows = conn.execute("select bucket_at, interval_name, rest_requests, auth_requests, realtime_requests "
                            "from raw.api_counts where project = 'p1' order by bucket_at").fetchall()
        q = conn.execute("select count(*) from raw.quarantine where source_table = 'api_counts'").fetchone()[0]
    assert [(r[1], r[2], r[3], r[4]) for r in rows] == [("7day", 5300, 120, 4), ("7day", 4870, 98, 0)]
    assert rows[0][0] == datetime(2026, 11, 20, tzinfo=UTC)
    assert q == 1


def test_requests_and_answers_have_the_shapes_of_the_spec(logs_api, api_resource, warehouse, project):
    import httpx
    import jsonschema

    from tests.appsignals.servers import LOGS_PATH
    from tests.cost.test_api_fixtures import _spec, response_schema

    spec = _spec()
    params = {p["name"] for p in spec["paths"][LOGS_PATH]["get"]["parameters"] if p["in"] == "query"}
    logs_api.add_request(REF, NOW - timedelta(minutes=5), "/rest/v1/a")
    api_logs.extract_api_logs(api_resource, warehouse, project, now=NOW, initial_lookback=timedelta(minutes=30))
    sent = next(r for r in logs_api.requests if r["path"].endswith("/logs.all"))
    assert set(sent["query"]) == params == {"sql", "iso_timestamp_start", "iso_timestamp_end"}
    assert sent["query"]["iso_timestamp_start"][0].endswith("Z") and "--" not in sent["query"]["sql"][0]
    answer = httpx.get(f"{logs_api.url}{LOGS_PATH.format(ref=REF)}", params={k: v[0] for k, v in sent["query"].items()},
                       headers={"Authorization": f"Bearer {logs_api.token}"}).json()
    jsonschema.validate(answer, response_schema(spec, LOGS_PATH))
    assert answer["result"][0]["path"] == "/rest/v1/a"
