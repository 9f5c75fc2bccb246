"""A local Supabase API on 127.0.0.1 that answers with the shapes of the real spec.

It serves the Management API endpoints the cost layer reads (fixtures validated against
supabase-management-api-v1.openapi.json by test_api_fixtures.py) and the non-public org daily
usage endpoint (generated from per-project daily usage, filtered by start/end/projectRef). Tests
can queue scripted answers (401, 429 with Retry-After, 5xx, malformed bodies) per path, and read
the requests it received (with whether a correct bearer token was sent; the token itself is not
kept).
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections import defaultdict, deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

FIXTURES = Path(__file__).parent / "fixtures"


def fixture(name: str):
    return json.loads((FIXTURES / name).read_text())


class FakeSupabaseApi:
    def __init__(self, token: str = "sbp_test_token_0123456789"):
        self.token = token
        self.requests: list[dict] = []
        self.scripted: dict[str, deque] = defaultdict(deque)
        self.forbidden_prefixes: set[str] = set()
        # project ref -> list of {"date", "metric", "usage", "usage_original"}
        self.daily_usage: dict[str, list[dict]] = {}
        self.addons = fixture("billing_addons.json")
        self.disk = fixture("config_disk.json")
        self.api_counts = fixture("usage_api_counts.json")
        self.functions = fixture("functions.json")
        self.function_stats = fixture("function_combined_stats.json")
        self._server: ThreadingHTTPServer | None = None
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ scripting
    def script(self, path: str, *answers: tuple[int, dict, bytes | str]) -> None:
        """Answer the next requests for `path` with (status, headers, body) in order."""
        for a in answers:
            self.scripted[path].append(a)

    def add_daily(self, ref: str, day: dt.date, metric: str, usage: float, usage_original=None) -> None:
        self.daily_usage.setdefault(ref, []).append({
            "date": day.isoformat(), "metric": metric, "usage": usage,
            "usage_original": usage_original if usage_original is not None else usage, "breakdown": None,
        })

    def count(self, path: str) -> int:
        return sum(1 for r in self.requests if r["path"] == path)

    # ------------------------------------------------------------------ routing
    def answer(self, method: str, path: str, query: dict, authorized: bool):
        with self._lock:
            self.requests.append({"method": method, "path": path, "query": query, "authorized": authorized})
            if self.scripted.get(path):
                return self.scripted[path].popleft()
        if not authorized:
            return 401, {}, json.dumps({"message": "Unauthorized"})
        if any(path.startswith(p) for p in self.forbidden_prefixes):
            return 403, {}, json.dumps({"message": "Forbidden resource"})
        parts = path.strip("/").split("/")
        if len(parts) >= 3 and parts[:2] == ["v1", "projects"]:
            rest = "/".join(parts[3:])
            if rest == "billing/addons":
                return 200, {}, json.dumps(self.addons)
            if rest == "config/disk":
                return 200, {}, json.dumps(self.disk)
            if rest == "analytics/endpoints/usage.api-counts":
                return 200, {}, json.dumps(self.api_counts)
            if rest == "functions":
                return 200, {}, json.dumps(self.functions)
            if rest == "analytics/endpoints/functions.combined-stats":
                if "function_id" not in query or "interval" not in query:
                    return 400, {}, json.dumps({"message": "function_id and interval are required"})
                return 200, {}, json.dumps(self.function_stats)
        if len(parts) == 5 and parts[0] == "platform" and parts[3:] == ["usage", "daily"]:
            start = dt.date.fromisoformat(query["start"][0])
            end = dt.date.fromisoformat(query["end"][0])
            refs = query.get("projectRef") or list(self.daily_usage)
            usages = [u for ref in refs for u in self.daily_usage.get(ref, [])
                      if start <= dt.date.fromisoformat(u["date"]) <= end]
            return 200, {}, json.dumps({"usages": usages})
        return 404, {}, json.dumps({"message": "Not Found"})

    # ------------------------------------------------------------------ server
    def start(self) -> FakeSupabaseApi:
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):
                url = urlsplit(self.path)
                authorized = self.headers.get("Authorization") == f"Bearer {api.token}"
                status, headers, body = api.answer("GET", url.path, parse_qs(url.query), authorized)
                data = body.encode() if isinstance(body, str) else body
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for k, v in headers.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):  # keep test output quiet
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()
