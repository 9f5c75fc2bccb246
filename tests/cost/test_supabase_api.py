"""The Supabase API client against a real local HTTP server: auth, retries, errors, no token leaks."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from aimatrix_pipeline.resources.supabase_api import (
    SupabaseApiAuthError,
    SupabaseApiMalformedResponse,
    SupabaseApiResource,
    SupabaseApiUnavailable,
)

REF = "abcdefghijklmnopqrst"
ADDONS = f"/v1/projects/{REF}/billing/addons"


def test_reads_addons_with_bearer_token_from_env(fake_api, api_resource):
    with api_resource.client() as api:
        body = api.project_addons(REF)
    assert [a["variant"]["id"] for a in body["selected_addons"]] == ["ci_small", "pitr_7"]
    assert fake_api.requests[-1]["authorized"] is True
    assert api_resource.resolved_base_url() == fake_api.url


def test_401_is_a_clear_configuration_error_without_the_token(fake_api, api_resource, monkeypatch):
    monkeypatch.setenv("SUPABASE_ACCESS_TOKEN", "sbp_wrong_secret_value")
    with api_resource.client() as api, pytest.raises(SupabaseApiAuthError) as err:
        api.disk(REF)
    message = str(err.value)
    assert "401" in message and "SUPABASE_ACCESS_TOKEN" in message
    assert "sbp_wrong_secret_value" not in message and fake_api.token not in message
    assert fake_api.count(f"/v1/projects/{REF}/config/disk") == 1  # not retried


def test_429_is_retried_after_retry_after(fake_api, api_resource):
    fake_api.script(ADDONS, (429, {"Retry-After": "1"}, json.dumps({"message": "Too many requests"})))
    slept = []
    with api_resource.client() as api:
        api._sleep = slept.append
        body = api.project_addons(REF)
    assert body["selected_addons"]
    assert fake_api.count(ADDONS) == 2
    assert slept == [1.0]  # the server's Retry-After, not the backoff


def test_5xx_is_retried_with_backoff_then_succeeds(fake_api, api_resource):
    fake_api.script(ADDONS, (500, {}, "{}"), (503, {}, "oops"))
    slept = []
    with api_resource.client() as api:
        api._sleep = slept.append
        api.project_addons(REF)
    assert fake_api.count(ADDONS) == 3
    assert slept == [0.01, 0.02]  # exponential backoff


def test_persistent_5xx_degrades_to_unavailable(fake_api, api_resource):
    fake_api.script(ADDONS, *[(502, {}, "bad gateway")] * 10)
    with api_resource.client() as api:
        api._sleep = lambda s: None
        with pytest.raises(SupabaseApiUnavailable) as err:
            api.project_addons(REF)
    assert "502" in str(err.value)
    assert fake_api.count(ADDONS) == api_resource.max_retries + 1


@pytest.mark.parametrize("body", ["<html>not json</html>", json.dumps({"available_addons": []}),
                                  json.dumps({"selected_addons": [{"type": "pitr"}], "available_addons": []})])
def test_malformed_body_fails_clearly(fake_api, api_resource, body):
    fake_api.script(ADDONS, (200, {}, body))
    with api_resource.client() as api, pytest.raises(SupabaseApiMalformedResponse) as err:
        api.project_addons(REF)
    assert "/v1/projects/{ref}/billing/addons" in str(err.value)


def test_malformed_daily_usage_fails(fake_api, api_resource):
    path = "/platform/organizations/acme/usage/daily"
    fake_api.script(path, (200, {}, json.dumps({"usages": [{"date": "2026-03-01", "metric": "EGRESS",
                                                            "usage": "lots"}]})))
    with api_resource.client() as api, pytest.raises(SupabaseApiMalformedResponse):
        api.org_daily_usage("acme", dt.date(2026, 3, 1), dt.date(2026, 3, 2), REF)


def test_403_and_404_degrade(fake_api, api_resource):
    fake_api.forbidden_prefixes.add("/platform/")
    with api_resource.client() as api:
        with pytest.raises(SupabaseApiUnavailable) as err:
            api.org_daily_usage("acme", dt.date(2026, 3, 1), dt.date(2026, 3, 2), REF)
        assert err.value.status == 403
        with pytest.raises(SupabaseApiUnavailable) as err:
            api.get_json("/v1/nothing", "/v1/nothing")
        assert err.value.status == 404


def test_no_token_means_unavailable_without_any_request(fake_api, monkeypatch):
    monkeypatch.delenv("SUPABASE_ACCESS_TOKEN")
    with SupabaseApiResource().client() as api:
        assert not api.has_token
        with pytest.raises(SupabaseApiUnavailable, match="SUPABASE_ACCESS_TOKEN is not set"):
            api.project_addons(REF)
    assert fake_api.requests == []


def test_daily_usage_filters_by_range_and_project(fake_api, api_resource):
    fake_api.add_daily(REF, dt.date(2026, 3, 1), "EGRESS", 1.5)
    fake_api.add_daily(REF, dt.date(2026, 4, 1), "EGRESS", 9.0)
    fake_api.add_daily("zzzzzzzzzzzzzzzzzzzz", dt.date(2026, 3, 1), "EGRESS", 7.0)
    with api_resource.client() as api:
        usages = api.org_daily_usage("acme", dt.date(2026, 3, 1), dt.date(2026, 3, 31), REF)
    assert [(u["date"], u["usage"]) for u in usages] == [("2026-03-01", 1.5)]
    assert fake_api.requests[-1]["query"]["projectRef"] == [REF]
