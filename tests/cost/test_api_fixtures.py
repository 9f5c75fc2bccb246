"""The local API server's fixtures have the shapes of the real Management API spec."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import jsonschema
import pytest

from tests.cost.api_server import fixture

# The operations the client calls and the schemas they reference, copied verbatim from the
# Management API v1 OpenAPI spec (so the suite needs nothing outside the repository).
SPEC = Path(__file__).resolve().parent / "fixtures" / "management_api_v1.subset.openapi.json"
CLIENT = Path(__file__).resolve().parents[2] / "aimatrix_pipeline" / "resources" / "supabase_api.py"


def _spec() -> dict:
    return json.loads(SPEC.read_text())


def _resolve(node, components):
    """Inline `$ref`s (OpenAPI 3.0 uses draft-4 style JSON Schema)."""
    if isinstance(node, dict):
        if "$ref" in node:
            name = node["$ref"].rsplit("/", 1)[-1]
            return _resolve(copy.deepcopy(components[name]), components)
        return {k: _resolve(v, components) for k, v in node.items()}
    if isinstance(node, list):
        return [_resolve(v, components) for v in node]
    return node


def response_schema(spec: dict, path: str) -> dict:
    op = spec["paths"][path]["get"]
    schema = op["responses"]["200"]["content"]["application/json"]["schema"]
    return _resolve(schema, spec["components"]["schemas"])


CASES = [
    ("/v1/projects/{ref}/billing/addons", "billing_addons.json"),
    ("/v1/projects/{ref}/config/disk", "config_disk.json"),
    ("/v1/projects/{ref}/analytics/endpoints/usage.api-counts", "usage_api_counts.json"),
    ("/v1/projects/{ref}/functions", "functions.json"),
    ("/v1/projects/{ref}/analytics/endpoints/functions.combined-stats", "function_combined_stats.json"),
]


@pytest.mark.parametrize("path,name", CASES)
def test_fixture_matches_spec(path, name):
    schema = response_schema(_spec(), path)
    jsonschema.Draft4Validator(schema).validate(fixture(name))


def test_validation_is_not_vacuous():
    """A fixture with a wrong field type is rejected, so the check above means something."""
    schema = response_schema(_spec(), "/v1/projects/{ref}/config/disk")
    bad = fixture("config_disk.json")
    bad["attributes"]["size_gb"] = "18"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft4Validator(schema).validate(bad)


def test_generated_daily_usage_matches_documented_shape(fake_api):
    import datetime as dt

    import httpx

    fake_api.add_daily("abcdefghijklmnopqrst", dt.date(2026, 3, 1), "EGRESS", 5.647, 5647465999)
    body = httpx.get(f"{fake_api.url}/platform/organizations/acme/usage/daily",
                     params={"start": "2026-03-01", "end": "2026-03-31"},
                     headers={"Authorization": f"Bearer {fake_api.token}"}).json()
    jsonschema.Draft4Validator(fixture("org_daily_usage_schema.json")).validate(body)
    assert body["usages"][0]["usage"] == 5.647


def test_vendored_spec_covers_every_endpoint_the_client_calls():
    """A new Management API call must come with its part of the spec, or its fixture is unchecked."""
    called = set(re.findall(r'endpoint = "(/v1/[^"]+)"', CLIENT.read_text()))
    assert called, "no endpoints found in the client: the pattern above is stale"
    assert called <= set(_spec()["paths"]), sorted(called - set(_spec()["paths"]))
