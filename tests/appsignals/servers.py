"""Local servers on 127.0.0.1 for the appsignals tests.

`LogsApi` extends the cost tests' Management API server with the analytics logs endpoint
(`/v1/projects/{ref}/analytics/endpoints/logs.all`): it checks the parameters like the real API
(sql required here, both timestamps, a range of at most 24 hours), filters the stored edge-log
rows by the window, orders them by timestamp and honours the query's `limit`, answering
`{"result": [...]}`. Rows are stored as the API would return them, so tests can inject malformed
ones. `MetricsServer` serves Prometheus text behind basic auth `service_role:<key>`.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
import threading
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from tests.cost.api_server import FakeSupabaseApi

LOGS_PATH = "/v1/projects/{ref}/analytics/endpoints/logs.all"


def _parse_iso(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value)


def epoch_us(ts: dt.datetime) -> int:
    return int(ts.timestamp() * 1_000_000)


class LogsApi(FakeSupabaseApi):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.edge_logs: dict[str, list[dict]] = {}
        self.windows: list[tuple[dt.datetime, dt.datetime, int]] = []  # (start, end, rows answered)

    def add_request(self, ref: str, ts: dt.datetime, path: str, status: int = 200, ms: float = 10.0,
                    method: str = "GET", rid: str | None = None) -> None:
        rows = self.edge_logs.setdefault(ref, [])
        rows.append({"id": rid or f"req-{ref}-{len(rows)}", "timestamp": epoch_us(ts), "method": method,
                     "path": path, "status_code": status, "response_time_ms": ms})

    def add_raw(self, ref: str, row) -> None:
        self.edge_logs.setdefault(ref, []).append(row)

    def answer(self, method, path, query, authorized):
        parts = path.strip("/").split("/")
        if len(parts) == 6 and parts[:2] == ["v1", "projects"] and parts[3:] == ["analytics", "endpoints", "logs.all"]:
            with self._lock:
                if self.scripted.get(path):
                    self.requests.append({"method": method, "path": path, "query": query, "authorized": authorized})
                    return self.scripted[path].popleft()
            if not authorized:
                self.requests.append({"method": method, "path": path, "query": query, "authorized": authorized})
                return 401, {}, json.dumps({"message": "Unauthorized"})
            self.requests.append({"method": method, "path": path, "query": query, "authorized": authorized})
            return self._logs(parts[2], query)
        return super().answer(method, path, query, authorized)

    def _logs(self, ref: str, query: dict):
        sql = (query.get("sql") or [""])[0]
        if "from edge_logs" not in sql or "unnest(metadata)" not in sql:
            return 400, {}, json.dumps({"message": "expected an edge_logs query"})
        try:
            start = _parse_iso(query["iso_timestamp_start"][0])
            end = _parse_iso(query["iso_timestamp_end"][0])
        except (KeyError, ValueError):
            return 400, {}, json.dumps({"message": "iso_timestamp_start and iso_timestamp_end are required"})
        if end - start > dt.timedelta(hours=24) or end <= start:
            return 400, {}, json.dumps({"message": "the timestamp range must be positive and at most 24 hours"})
        m = re.search(r"limit\s+(\d+)", sql, re.IGNORECASE)
        limit = int(m.group(1)) if m else 100
        lo, hi = epoch_us(start), epoch_us(end)

        def ts_of(row):
            t = row.get("timestamp") if isinstance(row, dict) else None
            return t if isinstance(t, int) else lo  # malformed rows are answered in every window they fall in
        rows = [r for r in self.edge_logs.get(ref, []) if lo <= ts_of(r) < hi]
        rows.sort(key=ts_of)
        rows = rows[:limit]
        with self._lock:
            self.windows.append((start, end, len(rows)))
        return 200, {}, json.dumps({"result": rows})

    def logs_calls(self) -> int:
        return sum(1 for r in self.requests if r["path"].endswith("/logs.all"))


class MetricsServer:
    def __init__(self, key: str = "service-role-test-key"):
        self.key = key
        self.body = ""
        self.scripted: deque = deque()
        self.requests: list[dict] = []
        self._server: ThreadingHTTPServer | None = None

    def start(self) -> MetricsServer:
        srv = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):
                expected = "Basic " + base64.b64encode(f"service_role:{srv.key}".encode()).decode()
                ok = self.headers.get("Authorization") == expected
                srv.requests.append({"path": self.path, "authorized": ok})
                if srv.scripted:
                    status, body = srv.scripted.popleft()
                elif not ok:
                    status, body = 401, "unauthorized"
                else:
                    status, body = 200, srv.body
                data = body.encode()
                self.send_response(status)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/customer/v1/privileged/metrics"

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()
