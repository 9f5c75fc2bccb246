"""Incremental extract of API request logs (edge logs) through the Management API.

Why it is shaped like this:

* **Windows, not offsets.** The logs endpoint (`logs.all`) answers one SQL query over a time range
  of at most 24 hours, rounded to the minute, and caps the rows it returns. So we walk from the
  high-water mark to "now" in minute-aligned windows (default 1 hour), and a window that comes
  back full (`row_limit` rows) is split in halves and read again, down to one minute, so a busy
  hour is never silently truncated (if one minute alone is full, the run says so in its notes).
* **One transaction per window.** Each window's rows replace the rows of that window
  (delete-then-insert), together with its quarantine rows and the new high-water mark, in one
  warehouse transaction. A failure (429 after retries, a 5xx storm) keeps every window already
  committed and the mark of the last one: the next run continues from there. Re-reading a window
  (the overlap for late-arriving logs) can never double a request.
* **Nothing lost.** A row without id or timestamp, with a status that is not an HTTP status or a
  negative/non-numeric response time goes to `raw.quarantine` with the reason and the row.
* **Not configured is not a failure.** A project without `ref` or a deployment without
  `SUPABASE_ACCESS_TOKEN` loads 0 rows and says why; a 401 is a configuration error.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pyarrow as pa

from aimatrix_pipeline.appsignals import store
from aimatrix_pipeline.resources.supabase_api import SupabaseApiClient, SupabaseApiResource
from aimatrix_pipeline.resources.warehouse import WarehouseResource
from aimatrix_pipeline.settings import Project
from aimatrix_pipeline.sql_files import load_sql

SOURCE_TABLE = "api_request_logs"
MAX_WINDOW = timedelta(hours=24)
MIN_WINDOW = timedelta(minutes=1)

_SCHEMA = pa.schema([
    ("id", pa.string()), ("requested_at", pa.timestamp("us", tz="UTC")), ("method", pa.string()),
    ("path", pa.string()), ("status_code", pa.int32()), ("response_time_ms", pa.float64()),
])


@dataclass
class ApiLogsResult:
    rows_loaded: int = 0
    rows_quarantined: int = 0
    windows: int = 0
    requests_made: int = 0
    previous_high_water_mark: datetime | None = None
    high_water_mark: datetime | None = None
    notes: list[str] = field(default_factory=list)
    skipped: bool = False


def floor_minute(ts: datetime) -> datetime:
    ts = ts.astimezone(UTC)
    return ts.replace(second=0, microsecond=0)


def windows(start: datetime, end: datetime, size: timedelta) -> list[tuple[datetime, datetime]]:
    """Minute-aligned [start, end) windows of at most `size` (itself capped at 24 hours)."""
    size = min(max(size, MIN_WINDOW), MAX_WINDOW)
    out, cur = [], start
    while cur < end:
        nxt = min(cur + size, end)
        out.append((cur, nxt))
        cur = nxt
    return out


def parse_timestamp(value) -> datetime | None:
    """Edge-log timestamps arrive as epoch microseconds (Logflare) or ISO-8601 strings."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, str):
        text = value.strip()
        try:
            value = float(text)
        except ValueError:
            try:
                ts = datetime.fromisoformat(text)  # 3.11 reads a trailing Z
            except ValueError:
                return None
            return ts if ts.tzinfo else ts.replace(tzinfo=UTC)
    if isinstance(value, (int, float)) and math.isfinite(value):
        magnitude = abs(value)
        seconds = value / 1e6 if magnitude >= 1e14 else value / 1e3 if magnitude >= 1e11 else value
        try:
            return datetime.fromtimestamp(seconds, tz=UTC)
        except (OverflowError, OSError, ValueError):
            return None
    return None


def _number(value) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, str):
        try:
            v = float(value)
        except ValueError:
            return None
        return v if math.isfinite(v) else None
    return None


def validate(row) -> tuple[dict | None, str | None]:
    """A clean row for raw.api_request_logs, or the reason it goes to quarantine."""
    if not isinstance(row, dict):
        return None, "row is not an object"
    rid = row.get("id")
    if not isinstance(rid, str) or not rid:
        return None, "missing id"
    ts = parse_timestamp(row.get("timestamp"))
    if ts is None:
        return None, "missing or unparseable timestamp"
    status = _number(row.get("status_code"))
    if status is None or status != int(status) or not 100 <= status <= 599:
        return None, "status_code is not an HTTP status"
    rt = row.get("response_time_ms")
    rt_value = None
    if rt is not None:
        rt_value = _number(rt)
        if rt_value is None or rt_value < 0:
            return None, "response_time_ms is not a non-negative number"
    path = row.get("path")
    if not isinstance(path, str) or not path:
        return None, "missing path"
    method = row.get("method")
    if method is not None and not isinstance(method, str):
        return None, "method is not a string"
    return {
        "id": rid, "requested_at": ts, "method": (method or "").upper() or None,
        "path": path.split("?", 1)[0][:2048], "status_code": int(status), "response_time_ms": rt_value,
    }, None


def _row_json(row) -> str:
    try:
        return json.dumps(row, default=str)[:100_000]
    except (TypeError, ValueError):
        return json.dumps(repr(row)[:100_000])


class _Reader:
    """Reads one window, splitting it while the answer is full."""

    def __init__(self, client: SupabaseApiClient, ref: str, row_limit: int, notes: list[str]):
        self.client = client
        self.ref = ref
        self.row_limit = row_limit
        text = load_sql("source/api/edge_request_logs.sql").replace("{row_limit}", str(int(row_limit)))
        # comment lines stay in the file for readers; the logs engine gets the query alone
        self.sql = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("--")).strip()
        self.notes = notes

    def read(self, start: datetime, end: datetime) -> list:
        rows = self.client.project_logs(self.ref, self.sql, start, end)
        if len(rows) < self.row_limit:
            return rows
        span = end - start
        if span <= MIN_WINDOW:
            self.notes.append(
                f"{start.isoformat()}: {len(rows)} rows in one minute reached row_limit={self.row_limit}; "
                "later requests of that minute were not read (raise row_limit)"
            )
            return rows
        mid = floor_minute(start + span / 2)
        if mid <= start:
            mid = start + MIN_WINDOW
        return self.read(start, mid) + self.read(mid, end)


def _store_window(conn, project: str, start: datetime, end: datetime, good: list[dict],
                  bad: list[dict], total_before: int, loaded_at: datetime) -> int:
    """Replace one window's rows and quarantine rows and move the mark, on the caller's transaction."""
    store.run(conn, "api_request_logs.delete", project=project, start=start, end=end)
    with store.registered(conn, "_api_batch", good, _SCHEMA):
        store.run(conn, "api_request_logs.insert", project=project, now=loaded_at)
    store.quarantine(conn, project, SOURCE_TABLE, bad, loaded_at)
    loaded = len({r["id"] for r in good})
    store.set_state(conn, project, SOURCE_TABLE, end, total_before + loaded, loaded_at)
    return loaded


def not_configured_reason(project: Project, api: SupabaseApiResource) -> str | None:
    if not project.ref:
        return (f"project {project.name!r} has no 'ref' in the projects file: API request logs "
                "are not available (0 rows)")
    with api.client() as client:
        if not client.has_token:
            return f"{api.token_env} is not set: API request logs are not available (0 rows)"
    return None


def extract_api_logs(
    api: SupabaseApiResource,
    warehouse: WarehouseResource,
    project: Project,
    *,
    now: datetime | None = None,
    window: timedelta = timedelta(hours=1),
    initial_lookback: timedelta = timedelta(hours=24),
    overlap: timedelta = timedelta(minutes=10),
    row_limit: int = 1000,
    max_windows: int = 168,
) -> ApiLogsResult:
    """Load request logs from the high-water mark (minus `overlap`) up to `now` (floored to the minute)."""
    result = ApiLogsResult()
    reason = not_configured_reason(project, api)
    if reason:
        result.skipped = True
        result.notes.append(reason)
        return result
    end = floor_minute(now or datetime.now(UTC))
    with warehouse.writer() as conn:  # applies the DDL on first use; read the mark
        hwm, _ = store.get_state(conn, project.name, SOURCE_TABLE)
    result.previous_high_water_mark = result.high_water_mark = hwm
    start = floor_minute(hwm - overlap) if hwm else end - initial_lookback
    plan = windows(start, end, window)
    if len(plan) > max_windows:
        result.notes.append(f"{len(plan)} windows behind; reading the first {max_windows} this run")
        plan = plan[:max_windows]
    with api.client() as client:
        reader = _Reader(client, project.ref, row_limit, result.notes)
        try:
            for ws, we in plan:
                raw_rows = reader.read(ws, we)
                good, bad = [], []
                for row in raw_rows:
                    clean, why = validate(row)
                    if clean is None:
                        rid = row.get("id") if isinstance(row, dict) else None
                        text = _row_json(row)
                        # without an id, the row's content names it: re-reads replace, never add
                        sid = rid if isinstance(rid, str) and rid else "sha1:" + hashlib.sha1(text.encode()).hexdigest()
                        bad.append({"source_id": sid, "reason": why, "row_json": text})
                    elif ws <= clean["requested_at"] < we:
                        good.append(clean)
                    # rows outside [ws, we) belong to a neighbouring window, which loads them
                loaded_at = datetime.now(UTC)
                with warehouse.transaction() as conn:
                    _, total = store.get_state(conn, project.name, SOURCE_TABLE)
                    result.rows_loaded += _store_window(conn, project.name, ws, we, good, bad, total, loaded_at)
                result.rows_quarantined += len(bad)
                result.windows += 1
                result.high_water_mark = we
        finally:
            result.requests_made = client.requests_made
    return result
