"""Derivations of the appsignals domain, run as SQL inside DuckDB (files in sql/warehouse/appsignals/).

Like the analytics derivations, each function replaces what it owns for one project on a
connection the caller holds inside one warehouse transaction; no raw row travels into Python.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from aimatrix_pipeline.appsignals import store
from aimatrix_pipeline.sql_files import load_sql


@dataclass(frozen=True)
class ApiThresholds:
    """Limits above which an endpoint becomes a finding (and the asset checks fail)."""

    p95_ms_threshold: float = 1000.0
    error_rate_5xx_threshold: float = 0.05
    min_requests: int = 20
    window_hours: int = 24


def _sql(name: str) -> str:
    return load_sql(f"warehouse/appsignals/{name}.sql").strip().rstrip(";")


def hour_floor(ts: datetime) -> datetime:
    ts = ts.astimezone(UTC)
    return ts.replace(minute=0, second=0, microsecond=0)


def derive_api_latency_summary(conn, project: str, since: datetime | None) -> int:
    """Replace the project's summary hours from `since` (all hours when None)."""
    since = hour_floor(since) if since else datetime(1970, 1, 1, tzinfo=UTC)
    store.run(conn, "api_latency_summary.delete", project=project, since=since)
    conn.execute(f"insert into analytics.api_latency_summary by name ({_sql('api_latency_summary')})",
                 {"project": project, "since": since})
    return store.owned_rows(conn, "api_latency_summary", project)


def derive_api_recommendations(conn, project: str, as_of: datetime, t: ApiThresholds) -> int:
    """Replace the project's API findings, keeping first_seen of findings seen before."""
    params = {
        "project": project, "as_of": as_of, "window_hours": int(t.window_hours),
        "p95_ms_threshold": float(t.p95_ms_threshold),
        "error_rate_5xx_threshold": float(t.error_rate_5xx_threshold), "min_requests": int(t.min_requests),
    }
    conn.execute(f"create or replace temp table _api_findings as ({_sql('api_recommendations')})", params)
    store.run(conn, "api_recommendations.delete", project=project)
    conn.execute("insert into analytics.api_recommendations by name (select * from _api_findings)")
    conn.execute("drop table _api_findings")
    return store.owned_rows(conn, "api_recommendations", project)


def derive_realtime_health(conn, project: str) -> int:
    store.run(conn, "realtime_health.delete", project=project)
    conn.execute(f"insert into analytics.realtime_health by name ({_sql('realtime_health')})", {"project": project})
    return store.owned_rows(conn, "realtime_health", project)


def summary_since(now: datetime, recompute_hours: int) -> datetime:
    return hour_floor(now - timedelta(hours=recompute_hours))
