"""Prometheus metrics scrape from a local endpoint, and realtime health derived from it."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from aimatrix_pipeline.appsignals import derive, metrics
from aimatrix_pipeline.settings import Project

T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)

EXPOSITION = """\
# HELP node_cpu_seconds_total Seconds the CPUs spent in each mode.
# TYPE node_cpu_seconds_total counter
node_cpu_seconds_total{{cpu="0",mode="idle",service_type="db"}} 12345.5
node_memory_MemAvailable_bytes{{service_type="db"}} 5.0e8
pg_stat_database_numbackends{{datname="postgres",server="localhost:5432"}} 12
# TYPE realtime_connections_connected gauge
realtime_connections_connected {conn}
realtime_subscriptions_manager_subscribers{{tenant="t1"}} {subs}
realtime_channel_events{{tenant="t1"}} {events}
realtime_channel_db_events{{tenant="t1"}} {db_events}
weird_label{{path="a \\"quoted\\" \\\\ value",}} 1
not a metric line at all
"""


def _body(conn, subs, events):
    return EXPOSITION.format(conn=conn, subs=subs, events=events, db_events=events // 2)


def test_every_sample_is_kept_and_realtime_health_is_derived(metrics_server, warehouse, project):
    metrics_server.body = _body(40, 7, 1000)
    first = metrics.scrape_metrics(warehouse, project, T0)
    assert first.samples == 8 and first.rows_quarantined == 1
    metrics_server.body = _body(44, 9, 1600)
    metrics.scrape_metrics(warehouse, project, T0 + timedelta(minutes=1))
    metrics_server.body = _body(10, 2, 20)  # Realtime restarted: counter reset
    metrics.scrape_metrics(warehouse, project, T0 + timedelta(minutes=2))
    metrics.scrape_metrics(warehouse, project, T0 + timedelta(minutes=2))  # same scrape again: replaced
    assert all(r["authorized"] for r in metrics_server.requests)
    with warehouse.transaction() as conn:
        assert derive.derive_realtime_health(conn, "p1") == 3
    with warehouse.reader() as conn:
        samples = conn.execute("select metric, labels, value from raw.project_metrics where project = 'p1' "
                               "and scraped_at = ? order by metric", [T0]).fetchall()
        health = conn.execute("select scraped_at, connections, subscriptions, messages_per_second "
                              "from analytics.realtime_health order by scraped_at").fetchall()
        total = conn.execute("select count(*) from raw.project_metrics").fetchone()[0]
        bad = conn.execute("select reason, payload from raw.quarantine where source_table = 'project_metrics'").fetchall()
    assert total == 24
    names = [s[0] for s in samples]
    assert {"node_cpu_seconds_total", "node_memory_MemAvailable_bytes", "pg_stat_database_numbackends"} <= set(names)
    cpu = next(s for s in samples if s[0] == "node_cpu_seconds_total")
    assert json.loads(cpu[1]) == {"cpu": "0", "mode": "idle", "service_type": "db"} and cpu[2] == 12345.5
    weird = next(s for s in samples if s[0] == "weird_label")
    assert json.loads(weird[1]) == {"path": 'a "quoted" \\ value'}
    assert health[0][1:] == (40, 7, None)          # first scrape: no rate yet
    assert health[1][1:] == (44, 9, 15.0)          # 600 + 300 events in 60 s
    assert health[2][1:] == (10, 2, None)          # counter reset: no negative rate
    assert bad and bad[0][1] == b"not a metric line at all"  # one malformed line per scrape, replaced on re-scrape
    assert len(bad) == 3


def test_wrong_key_is_a_configuration_error(metrics_server, warehouse, project, monkeypatch):
    monkeypatch.setenv("P1_SERVICE_ROLE_KEY", "wrong-key")
    with pytest.raises(metrics.MetricsAuthError, match="P1_SERVICE_ROLE_KEY") as exc:
        metrics.scrape_metrics(warehouse, project, T0)
    assert "wrong-key" not in str(exc.value)


def test_unconfigured_or_unavailable_endpoint_loads_nothing_and_says_why(metrics_server, warehouse, project, monkeypatch):
    r = metrics.scrape_metrics(warehouse, Project(name="p1", organization="o1", db_url_env="X"), T0)
    assert r.skipped and "neither 'ref' nor 'metrics_url'" in r.notes[0]
    monkeypatch.delenv("P1_SERVICE_ROLE_KEY")
    r = metrics.scrape_metrics(warehouse, project, T0)
    assert r.skipped and "P1_SERVICE_ROLE_KEY is not set" in r.notes[0]
    assert metrics_server.requests == []
    monkeypatch.setenv("P1_SERVICE_ROLE_KEY", metrics_server.key)
    metrics_server.scripted.append((404, "not found"))
    r = metrics.scrape_metrics(warehouse, project, T0)
    assert r.skipped and "404" in r.notes[0]


def test_default_url_is_built_from_the_ref():
    p = Project(name="p", organization="o", db_url_env="X", ref="abcdefghijklmnopqrst")
    assert metrics.metrics_url(p) == "https://abcdefghijklmnopqrst.supabase.co/customer/v1/privileged/metrics"
    assert metrics.key_env(p) == "SUPABASE_SERVICE_ROLE_KEY"


def test_parser_rejects_what_is_not_a_sample():
    assert metrics.parse_line('m{a="1"} NaN')[0] == "m"
    assert metrics.parse_line('m{a="1"} 3 1700000000000') == ("m", {"a": "1"}, 3.0)
    assert metrics.parse_line('m{a="1" 3') == "malformed labels"
    assert metrics.parse_line("m abc") == "value 'abc' is not a number"
