"""The Dagster assets of the domain: one project partition end to end against the local servers,
not-configured projects (0 rows and a note), a 401 as a clear failure, and the code location."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import dagster as dg
import pytest

from aimatrix_pipeline.appsignals.assets import ALL_ASSETS, EXTRACT_ASSETS
from aimatrix_pipeline.appsignals.checks import API_5XX_RATE_WITHIN_THRESHOLD, API_P95_WITHIN_THRESHOLD
from aimatrix_pipeline.resources.settings_resource import SettingsResource
from tests.appsignals.conftest import REF


def _projects_file(tmp_path, monkeypatch, extra: str = "") -> None:
    path = tmp_path / "projects.yaml"
    path.write_text("projects:\n  - name: default\n    organization: o1\n    db_url_env: P1_DB_URL\n" + extra)
    monkeypatch.setenv("AIMATRIX_PROJECTS_FILE", str(path))


def _run(assets, warehouse, api_resource, **kwargs):
    return dg.materialize(assets, partition_key="default",
                          resources={"warehouse": warehouse, "supabase_api": api_resource,
                                     "settings": SettingsResource()}, **kwargs)


def _meta(result, node):
    return result.asset_materializations_for_node(node)[0].metadata


@pytest.mark.fails_check("analytics/api_latency_summary:api_p95_within_threshold")
def test_one_partition_end_to_end(logs_api, metrics_server, api_resource, warehouse, tmp_path, monkeypatch):
    _projects_file(tmp_path, monkeypatch,
                   f"    ref: {REF}\n    metrics_url: {metrics_server.url}\n"
                   "    service_role_key_env: P1_SERVICE_ROLE_KEY\n")
    metrics_server.body = "realtime_connections_connected 3\nnode_load1 0.5\n"
    start = datetime.now(UTC) - timedelta(minutes=50)
    for i in range(30):
        logs_api.add_request(REF, start + timedelta(minutes=i), f"/rest/v1/rpc/search_{i % 1}", 200, 2500.0, "POST")
    result = _run(ALL_ASSETS, warehouse, api_resource)
    assert result.success
    assert _meta(result, "raw__api_request_logs")["dagster/row_count"].value == 30
    assert _meta(result, "raw__api_counts")["dagster/row_count"].value == 2
    assert _meta(result, "raw__project_metrics")["dagster/row_count"].value == 2
    assert _meta(result, "analytics__realtime_health")["dagster/row_count"].value == 1
    summary = _meta(result, "analytics__api_latency_summary")
    assert summary["dagster/row_count"].value >= 1 and summary["rows/api_recommendations"].value == 1
    assert "endpoint" in {c.name for c in summary["dagster/column_schema"].schema.columns}
    checks = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert checks[API_P95_WITHIN_THRESHOLD].passed is False  # p95 2500 ms > 1000 ms
    assert checks[API_P95_WITHIN_THRESHOLD].metadata["worst"].value.startswith("Slow API endpoint POST /rest/v1/rpc/search_0")
    assert checks[API_5XX_RATE_WITHIN_THRESHOLD].passed is True
    again = _run(ALL_ASSETS, warehouse, api_resource)  # re-run: same rows, nothing doubled
    assert again.success
    with warehouse.reader() as conn:
        assert conn.execute("select count(*) from raw.api_request_logs").fetchone()[0] == 30
        assert conn.execute("select sum(requests) from analytics.api_latency_summary").fetchone()[0] == 30


@pytest.mark.fails_check("analytics/api_latency_summary:api_5xx_rate_within_threshold")
def test_5xx_rate_check_fails_for_an_endpoint_answering_errors(logs_api, api_resource, warehouse, tmp_path,
                                                                monkeypatch):
    _projects_file(tmp_path, monkeypatch, f"    ref: {REF}\n")
    start = datetime.now(UTC) - timedelta(minutes=50)
    for i in range(30):  # fast, but every third answer is a 500: 10 of 30 = 33 % 5xx
        logs_api.add_request(REF, start + timedelta(minutes=i), "/rest/v1/orders", 500 if i % 3 == 0 else 200, 20.0)
    for i in range(30):  # a healthy endpoint next to it
        logs_api.add_request(REF, start + timedelta(minutes=i), "/rest/v1/customers", 200, 20.0)
    result = _run(ALL_ASSETS, warehouse, api_resource)
    assert result.success
    checks = {e.check_name: e for e in result.get_asset_check_evaluations()}
    failed = checks[API_5XX_RATE_WITHIN_THRESHOLD]
    assert failed.passed is False and failed.severity == dg.AssetCheckSeverity.WARN
    meta = {k: v.value for k, v in failed.metadata.items()}
    assert meta["findings"] == 1 and meta["project"] == "default" and "/rest/v1/orders" in meta["worst"]
    assert meta["worst_error_rate_5xx"] == pytest.approx(1 / 3) and meta["worst_requests"] == 30
    assert checks[API_P95_WITHIN_THRESHOLD].passed is True


def test_project_without_ref_materializes_zero_rows_with_a_note(logs_api, api_resource, warehouse, tmp_path,
                                                                  monkeypatch):
    _projects_file(tmp_path, monkeypatch)
    result = _run(EXTRACT_ASSETS, warehouse, api_resource)
    assert result.success
    for node in ("raw__api_request_logs", "raw__api_counts", "raw__project_metrics"):
        meta = _meta(result, node)
        assert meta["dagster/row_count"].value == 0 and meta["skipped"].value is True
        assert "'ref'" in meta["notes"].value
    assert logs_api.requests == []


def test_401_fails_the_asset_with_a_configuration_message(logs_api, api_resource, warehouse, tmp_path, monkeypatch):
    _projects_file(tmp_path, monkeypatch, f"    ref: {REF}\n")
    monkeypatch.setenv("SUPABASE_ACCESS_TOKEN", "sbp_revoked")
    result = _run([EXTRACT_ASSETS[0]], warehouse, api_resource, raise_on_error=False)
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    text = str(failure.event_specific_data.error)
    assert "401" in text and "SUPABASE_ACCESS_TOKEN" in text and "sbp_revoked" not in text


def test_code_location_has_the_domain_and_apply_command():
    from aimatrix_pipeline.cli import build_parser
    from aimatrix_pipeline.definitions import defs

    keys = {k.to_user_string() for k in defs.resolve_asset_graph().get_all_asset_keys()}
    assert {"raw/api_request_logs", "raw/api_counts", "raw/project_metrics", "analytics/api_latency_summary",
            "analytics/realtime_health"} <= keys
    assert defs.resolve_job_def("appsignals") is not None
    assert "apply" in build_parser()._subparsers._group_actions[0].choices
