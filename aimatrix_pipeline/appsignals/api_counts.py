"""The `usage.api-counts` series (requests per service and bucket) into raw.api_counts.

The endpoint returns a rolling series for an `interval` (e.g. the last day in buckets); each load
replaces the project's buckets of that interval within the returned range, so overlapping loads
never double a bucket. Rows with a bad timestamp or non-numeric counts are quarantined.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pyarrow as pa

from aimatrix_pipeline.appsignals import store
from aimatrix_pipeline.appsignals.api_logs import _row_json, not_configured_reason, parse_timestamp
from aimatrix_pipeline.resources.supabase_api import SupabaseApiResource
from aimatrix_pipeline.resources.warehouse import WarehouseResource
from aimatrix_pipeline.settings import Project

SOURCE_TABLE = "api_counts"
_FIELDS = {
    "rest_requests": "total_rest_requests",
    "auth_requests": "total_auth_requests",
    "storage_requests": "total_storage_requests",
    "realtime_requests": "total_realtime_requests",
}
_SCHEMA = pa.schema([("bucket_at", pa.timestamp("us", tz="UTC"))] + [(k, pa.float64()) for k in _FIELDS])


@dataclass
class ApiCountsResult:
    rows_loaded: int = 0
    rows_quarantined: int = 0
    notes: list[str] = field(default_factory=list)
    skipped: bool = False


def _clean(row: dict) -> tuple[dict | None, str | None]:
    ts = parse_timestamp(row.get("timestamp"))
    if ts is None:
        return None, "missing or unparseable timestamp"
    out = {"bucket_at": ts}
    for col, src in _FIELDS.items():
        v = row.get(src)
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0:
            return None, f"{src} is not a non-negative number"
        out[col] = float(v)
    return out, None


def extract_api_counts(api: SupabaseApiResource, warehouse: WarehouseResource, project: Project,
                       interval: str = "1day") -> ApiCountsResult:
    result = ApiCountsResult()
    reason = not_configured_reason(project, api)
    if reason:
        result.skipped = True
        result.notes.append(reason.replace("API request logs", "API counts"))
        return result
    with api.client() as client:
        rows = client.api_counts(project.ref, interval)
    good, bad = [], []
    for i, row in enumerate(rows):
        clean, why = _clean(row)
        if clean is None:
            bad.append({"source_id": f"{interval}#{row.get('timestamp')}#{i}", "reason": why,
                        "row_json": _row_json(row)})
        else:
            good.append(clean)
    now = datetime.now(UTC)
    with warehouse.transaction() as conn:
        if good:
            store.run(conn, "api_counts.delete", project=project.name, interval=interval,
                      lo=min(r["bucket_at"] for r in good), hi=max(r["bucket_at"] for r in good))
            with store.registered(conn, "_counts", good, _SCHEMA):
                store.run(conn, "api_counts.insert", project=project.name, interval=interval, now=now)
        store.quarantine(conn, project.name, SOURCE_TABLE, bad, now)
    result.rows_loaded = len({r["bucket_at"] for r in good})
    result.rows_quarantined = len(bad)
    return result
