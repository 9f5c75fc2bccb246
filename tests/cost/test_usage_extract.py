"""Usage extraction from a real Postgres (PG 18 and 15) and the local Supabase API server."""

from __future__ import annotations

import datetime as dt

import pytest

from aimatrix_pipeline.cost import usage
from aimatrix_pipeline.resources.source_postgres import SourcePostgresResource
from aimatrix_pipeline.settings import Organization, Project, Settings
from tests.cost import seed as S

MARCH = [dt.date(2026, 3, 1) + dt.timedelta(days=i) for i in range(31)]


def _settings(ref: str | None = S.REF, extra_projects=()) -> Settings:
    projects = (Project("app", "acme", "APP_DB_URL", ref=ref, compute_size="micro"), *extra_projects)
    return Settings(projects, (Organization("acme", "pro"),), "", "", "projects_file")


def _by(rows, metric, project="app"):
    return {(r["usage_date"], r["dimension"]): r for r in rows.rows
            if r["metric"] == metric and r["project"] == project}


def test_database_and_api_usage_for_a_range(source_db, fake_api, api_resource, monkeypatch):
    S.seed(source_db)
    monkeypatch.setenv("APP_DB_URL", source_db.url)
    for day in MARCH:
        fake_api.add_daily(S.REF, day, "EGRESS", 2.5, 2_500_000_000)
        fake_api.add_daily(S.REF, day, "COMPUTE_HOURS_SMALL", 24)
    fake_api.add_daily(S.REF, dt.date(2026, 3, 7), "REALTIME_PEAK_CONNECTIONS", 42)
    with api_resource.client() as api:
        rows, report = usage.collect_usage(_settings(), SourcePostgresResource(), api,
                                           MARCH[0], dt.date(2026, 4, 30), today=dt.date(2026, 11, 26))

    mau, sso, anon = _by(rows, "mau"), _by(rows, "sso_mau"), _by(rows, "anonymous_mau")
    days = [MARCH[0] + dt.timedelta(days=i) for i in range(61)]
    for day in days:
        want = S.EXPECTED_MAU.get(day, (0, 0, 0))
        assert (mau[(day, "")]["usage"], sso[(day, "")]["usage"], anon[(day, "")]["usage"]) == want, day
        assert mau[(day, "")]["method"] == "audit_log"
    assert report.mau_methods["app"] == ["2026-03:audit_log", "2026-04:audit_log"]

    storage = _by(rows, "storage_size_bytes")
    for day in (dt.date(2026, 3, 14), dt.date(2026, 3, 15), dt.date(2026, 4, 10)):
        want = S.expected_storage(day)
        assert {b: storage[(day, b)]["usage"] for b in want} == want
    assert storage[(dt.date(2026, 3, 15), "avatars")]["usage"] == 3_000_001_000  # bigint, no overflow
    assert "1 objects without a numeric metadata size" in storage[(dt.date(2026, 4, 10), "docs")]["detail"]

    egress = _by(rows, "egress_gb")
    assert egress[(dt.date(2026, 3, 3), "")]["usage"] == 2.5
    assert egress[(dt.date(2026, 4, 3), "")]["usage"] == 0  # the API answered: no usage that day
    compute = _by(rows, "compute_hours")
    assert compute[(dt.date(2026, 3, 3), "small")]["source"] == "usage_api"
    peaks = _by(rows, "realtime_peak_connections")
    assert peaks[(dt.date(2026, 3, 7), "")]["usage"] == 42
    # add-ons and disk: current state from the Management API
    assert _by(rows, "addon_hours")[(dt.date(2026, 3, 3), "pitr_7")]["usage"] == 24
    assert _by(rows, "disk_gb_hours")[(dt.date(2026, 3, 3), "gp3")]["usage"] == 18 * 24
    # one usage-API call for the whole range, not one per day
    assert fake_api.count("/platform/organizations/acme/usage/daily") == 1
    assert report.unknown_rows == 0


def test_mau_falls_back_to_sign_ins_when_audit_log_is_off(source_db18, fake_api, api_resource, monkeypatch):
    S.seed_sign_ins_only(source_db18)
    monkeypatch.setenv("APP_DB_URL", source_db18.url)
    with api_resource.client() as api:
        rows, _report = usage.collect_usage(_settings(), SourcePostgresResource(), api,
                                           MARCH[0], MARCH[-1], today=dt.date(2026, 11, 26))
    mau, sso = _by(rows, "mau"), _by(rows, "sso_mau")
    got = {d: (mau[(d, "")]["usage"], sso[(d, "")]["usage"]) for d in MARCH if mau[(d, "")]["usage"]}
    assert got == {dt.date(2026, 3, 4): (1, 0), dt.date(2026, 3, 6): (1, 1)}
    assert {r["method"] for r in mau.values()} == {"last_sign_in_fallback"}


def test_no_api_access_marks_api_items_unknown(source_db18, fake_api, api_resource, monkeypatch):
    S.seed(source_db18)
    monkeypatch.setenv("APP_DB_URL", source_db18.url)
    monkeypatch.delenv("SUPABASE_ACCESS_TOKEN")
    day = dt.date(2026, 3, 2)
    with api_resource.client() as api:
        rows, _report = usage.collect_usage(_settings(), SourcePostgresResource(), api, day, day,
                                           today=dt.date(2026, 11, 26))
    status = {(r["metric"], r["dimension"]): (r["status"], r["detail"]) for r in rows.rows}
    for metric in ("egress_gb", "cached_egress_gb", "function_invocations", "realtime_messages"):
        assert status[(metric, "")][0] == "unknown"
        assert "SUPABASE_ACCESS_TOKEN is not set" in status[(metric, "")][1]
    assert status[("disk_gb_hours", "gp3")][0] == "unknown"
    assert status[("addon_hours", "all")][0] == "unknown"
    assert status[("mau", "")] == ("known", None)           # the database still answers
    assert status[("compute_hours", "micro")][0] == "known"  # from the configured size
    assert fake_api.requests == []


def test_one_failing_project_does_not_stop_the_others(source_db18, fake_api, api_resource, monkeypatch):
    S.seed(source_db18)
    monkeypatch.setenv("APP_DB_URL", source_db18.url)
    monkeypatch.delenv("BROKEN_DB_URL", raising=False)
    broken = Project("broken", "acme", "BROKEN_DB_URL", ref=None)
    day = dt.date(2026, 3, 2)
    with api_resource.client() as api:
        rows, report = usage.collect_usage(_settings(extra_projects=(broken,)), SourcePostgresResource(), api,
                                           day, day, today=dt.date(2026, 11, 26))
    assert _by(rows, "mau")[(day, "")]["usage"] == 2
    broken_mau = _by(rows, "mau", "broken")[(day, "")]
    assert broken_mau["status"] == "unknown" and "BROKEN_DB_URL" in broken_mau["detail"]
    assert any("BROKEN_DB_URL" in p for p in report.project_errors["broken"])
    # without a ref, its API items are unknown with the reason, never zero
    assert "no Supabase project ref" in _by(rows, "egress_gb", "broken")[(day, "")]["detail"]


def test_usage_api_forbidden_degrades_but_management_api_still_used(source_db18, fake_api, api_resource,
                                                                    monkeypatch):
    S.seed(source_db18)
    monkeypatch.setenv("APP_DB_URL", source_db18.url)
    fake_api.forbidden_prefixes.add("/platform/")
    day = dt.date(2026, 3, 2)
    with api_resource.client() as api:
        rows, _report = usage.collect_usage(_settings(), SourcePostgresResource(), api, day, day,
                                           today=dt.date(2026, 11, 26))
    assert _by(rows, "egress_gb")[(day, "")]["status"] == "unknown"
    assert "403" in _by(rows, "egress_gb")[(day, "")]["detail"]
    compute = _by(rows, "compute_hours")[(day, "small")]  # ci_small from billing/addons
    assert (compute["usage"], compute["source"], compute["method"]) == (24, "management_api", "current_state")


def test_recent_days_get_api_request_counts_and_edge_function_stats(source_db18, fake_api, api_resource,
                                                                     monkeypatch):
    S.seed(source_db18)
    monkeypatch.setenv("APP_DB_URL", source_db18.url)
    start, end = dt.date(2026, 11, 20), dt.date(2026, 11, 25)
    with api_resource.client() as api:
        rows, _report = usage.collect_usage(_settings(), SourcePostgresResource(), api, start, end,
                                           today=dt.date(2026, 11, 26))
    api_requests = _by(rows, "api_requests")
    assert api_requests[(dt.date(2026, 11, 20), "rest")]["usage"] == 5300
    assert api_requests[(dt.date(2026, 11, 21), "auth")]["usage"] == 98
    # both stats rows fall on Nov 25 (one ISO string, one epoch in microseconds)
    fn = _by(rows, "edge_function_requests")
    assert {k: v["usage"] for k, v in fn.items()} == {(dt.date(2026, 11, 25), "embed"): 150}
    stats_calls = [r for r in fake_api.requests if r["path"].endswith("functions.combined-stats")]
    assert stats_calls[0]["query"]["function_id"] == ["3c078cce-ad70-4148-9f37-4da362789053"]
    # database size only for the recent days it describes
    assert {d for d, _ in _by(rows, "database_size_bytes")} == {dt.date(2026, 11, 25)}


@pytest.mark.parametrize("variant,size", [("ci_micro", "micro"), ("ci_2xlarge", "2xl"), ("ci_xlarge", "xl"),
                                          ("ci_16xlarge", "16xl")])
def test_compute_variant_names_match_the_price_book(variant, size):
    assert usage.compute_size_from_variant(variant) == size
    assert usage.compute_size_from_metric("COMPUTE_HOURS_" + variant[3:].upper()) == size
