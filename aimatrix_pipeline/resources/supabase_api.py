"""One client for Supabase's HTTP APIs: the Management API and the (non-public) org usage endpoint.

Why one client: every call needs the same token handling, retries and error vocabulary, and
callers must be able to tell "this source is not available to us" (degrade to an unknown line
item) from "the configuration is wrong" (stop and say so) from "the API answered nonsense"
(fail the asset, never price garbage):

* no token, 403, 404 -> `SupabaseApiUnavailable` (the caller marks the items unknown);
* 401 -> `SupabaseApiAuthError`, a configuration error naming the env var, never the token;
* 429 -> retried after `Retry-After` (capped); 5xx and transport errors -> retried with
  exponential backoff, then `SupabaseApiUnavailable`;
* a body that is not JSON or lacks the fields we read -> `SupabaseApiMalformedResponse`;
* an answer not complete within `deadline_s` (connect, headers and the whole body together) ->
  `SupabaseApiUnavailable`, not retried. httpx's timeouts apply per socket read, so a server that
  drips one byte every few seconds would otherwise hold a run (and the warehouse write slot) for
  as long as it likes; a watchdog shuts the request's socket down when the deadline passes.

Numbers in bodies are only checked for type here: JSON allows `NaN`, `Infinity` and `1e999`
(Python reads them as non-finite floats), and callers turn such values into unknown items with
the reason (`finite_number`), never into usage.

The token comes from the environment through `dagster.EnvVar` at call time and only ever goes
into the Authorization header; it never appears in logs, metadata or exception messages.
"""

from __future__ import annotations

import datetime as dt
import math
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import dagster as dg
import httpx

from aimatrix_pipeline.settings import DEFAULT_API_URL

USER_AGENT = "aimatrix_pipeline"


class SupabaseApiError(RuntimeError):
    """Base class: `endpoint` is the path template, never a URL with secrets."""

    def __init__(self, endpoint: str, message: str, status: int | None = None):
        super().__init__(f"{endpoint}: {message}")
        self.endpoint = endpoint
        self.status = status


class SupabaseApiUnavailable(SupabaseApiError):
    """The source cannot be read now or with this token; its line items become unknown."""


class SupabaseApiAuthError(SupabaseApiError):
    """401: the token is missing its validity (expired, revoked, wrong); a configuration error."""


class SupabaseApiMalformedResponse(SupabaseApiError):
    """The API answered 2xx with a body we cannot trust; the asset fails instead of guessing."""


def finite_number(value) -> float | None:
    """`value` as a float if it is a real, finite JSON number (not bool, NaN or +-Infinity)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


class _RequestDeadline:
    """Shuts the in-flight request's socket down when its deadline passes.

    The socket is learnt from httpcore's `trace` callbacks when a connection is opened; the
    client keeps at most one connection (`max_connections=1`) and sends one request at a time,
    so the last socket opened is the one the request uses. `shutdown()` wakes a blocked read in
    the other thread (closing the descriptor would not), the read ends, and the connection is
    discarded by the pool.
    """

    def __init__(self) -> None:
        self.sock: socket.socket | None = None
        self.expired = False
        self._timer: threading.Timer | None = None

    def trace(self, event: str, info: dict) -> None:
        if event in ("connection.connect_tcp.complete", "connection.start_tls.complete"):
            stream = info.get("return_value")
            sock = stream.get_extra_info("socket") if stream is not None else None
            if sock is not None:
                self.sock = sock

    def _expire(self) -> None:
        self.expired = True
        if self.sock is not None:
            try:
                self.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def start(self, seconds: float) -> None:
        self.expired = False
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True
        self._timer.start()

    def cancel(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None


def _env(name: str) -> str | None:
    try:
        return dg.EnvVar(name).get_value() or None
    except Exception:  # noqa: BLE001 - EnvVar raises different types across versions
        return None


class SupabaseApiClient:
    """An open HTTP session; obtain it from `SupabaseApiResource.client()`."""

    def __init__(
        self,
        http: httpx.Client | None,
        *,
        token_env: str,
        max_retries: int,
        backoff_s: float,
        max_retry_after_s: float,
        deadline_s: float = 60.0,
        budget_s: float | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self._http = http
        self.deadline_s = deadline_s
        # The whole session's budget (a step's API calls together), and the first timeout seen:
        # a host that just timed out is not called again in this session, so a slow API costs a
        # step one deadline, not one per call.
        self.budget_s = budget_s
        self._budget_end = None if budget_s is None else time.monotonic() + budget_s
        self.gave_up: str | None = None
        self._deadline = _RequestDeadline()
        self._lock = threading.Lock()
        self._token_env = token_env
        self.max_retries = max_retries
        self.backoff_s = backoff_s
        self.max_retry_after_s = max_retry_after_s
        self._sleep = sleep
        self.requests_made = 0

    @property
    def has_token(self) -> bool:
        return self._http is not None

    # ------------------------------------------------------------------ transport
    def get_json(self, endpoint: str, path: str, params: dict | None = None) -> Any:
        """GET `path`; `endpoint` is the template used in errors (no refs, no query strings)."""
        if self._http is None:
            raise SupabaseApiUnavailable(endpoint, f"{self._token_env} is not set; API usage is unknown")
        if self.gave_up:
            raise SupabaseApiUnavailable(endpoint, f"not called: {self.gave_up}")
        attempt = 0
        while True:
            attempt += 1
            deadline = self.deadline_s
            if self._budget_end is not None:
                remaining = self._budget_end - time.monotonic()
                if remaining <= 0:
                    self.gave_up = f"this step's {self.budget_s:g}s budget for API calls is used up"
                    raise SupabaseApiUnavailable(endpoint, f"not called: {self.gave_up}")
                deadline = min(deadline, remaining)
            try:
                self.requests_made += 1
                with self._lock:  # one request at a time: the deadline watches the one socket
                    self._deadline.start(deadline)
                    try:
                        resp = self._http.get(path, params=params,
                                              extensions={"trace": self._deadline.trace})
                    finally:
                        self._deadline.cancel()
            except httpx.TransportError as exc:
                if self._deadline.expired:
                    limit = (f"{self.deadline_s:g}s request deadline" if deadline >= self.deadline_s
                             else f"{self.budget_s:g}s budget of this step's API calls")
                    self.gave_up = f"the API timed out earlier in this step ({endpoint}, {limit})"
                    raise SupabaseApiUnavailable(
                        endpoint, f"no complete answer within the {limit} "
                        "(the server is sending too slowly); not retried, and the API is not called "
                        "again in this step"
                    ) from exc
                if isinstance(exc, httpx.TimeoutException) and attempt > self.max_retries:
                    self.gave_up = f"the API timed out earlier in this step ({endpoint})"
                if attempt > self.max_retries:
                    raise SupabaseApiUnavailable(
                        endpoint, f"unreachable after {attempt} attempts ({type(exc).__name__})"
                    ) from exc
                self._sleep(self.backoff_s * 2 ** (attempt - 1))
                continue
            status = resp.status_code
            if status == 401:
                raise SupabaseApiAuthError(
                    endpoint,
                    f"401 Unauthorized: the token in {self._token_env} was rejected; create a new "
                    "access token (Account > Access Tokens) and set it in the environment",
                    status,
                )
            if status in (403, 404):
                reason = "the token may not read this" if status == 403 else "not available"
                raise SupabaseApiUnavailable(endpoint, f"{status} ({reason})", status)
            if status == 429:
                if attempt > self.max_retries:
                    raise SupabaseApiUnavailable(endpoint, f"429 rate limited after {attempt} attempts", status)
                self._sleep(self._retry_after(resp, attempt))
                continue
            if status >= 500:
                if attempt > self.max_retries:
                    raise SupabaseApiUnavailable(endpoint, f"{status} server error after {attempt} attempts", status)
                self._sleep(self.backoff_s * 2 ** (attempt - 1))
                continue
            if status >= 400:
                raise SupabaseApiUnavailable(endpoint, f"{status} {resp.reason_phrase}", status)
            try:
                return resp.json()
            except ValueError:
                raise SupabaseApiMalformedResponse(endpoint, f"{status} with a body that is not JSON", status) from None

    def _retry_after(self, resp: httpx.Response, attempt: int) -> float:
        value = resp.headers.get("retry-after")
        delay = None
        if value:
            try:
                delay = float(value)
            except ValueError:
                try:
                    from email.utils import parsedate_to_datetime

                    when = parsedate_to_datetime(value)
                    delay = (when - dt.datetime.now(dt.UTC)).total_seconds()
                except (TypeError, ValueError):
                    delay = None
        if delay is None:
            delay = self.backoff_s * 2 ** (attempt - 1)
        return max(0.0, min(delay, self.max_retry_after_s))

    # ------------------------------------------------------------------ endpoints
    def project_addons(self, ref: str) -> dict:
        """`GET /v1/projects/{ref}/billing/addons`: selected compute size and add-ons."""
        endpoint = "/v1/projects/{ref}/billing/addons"
        body = self.get_json(endpoint, f"/v1/projects/{ref}/billing/addons")
        _require(endpoint, body, dict, "an object")
        _require(endpoint, body.get("selected_addons"), list, "'selected_addons' as a list")
        for item in body["selected_addons"]:
            _require(endpoint, item, dict, "selected_addons[] objects")
            _require(endpoint, item.get("type"), str, "selected_addons[].type")
            _require(endpoint, item.get("variant"), dict, "selected_addons[].variant")
            _require(endpoint, item["variant"].get("id"), str, "selected_addons[].variant.id")
        return body

    def disk(self, ref: str) -> dict:
        """`GET /v1/projects/{ref}/config/disk`: provisioned size and type."""
        endpoint = "/v1/projects/{ref}/config/disk"
        body = self.get_json(endpoint, f"/v1/projects/{ref}/config/disk")
        _require(endpoint, body, dict, "an object")
        attrs = body.get("attributes")
        _require(endpoint, attrs, dict, "'attributes' as an object")
        _require(endpoint, attrs.get("type"), str, "attributes.type")
        if not isinstance(attrs.get("size_gb"), (int, float)) or isinstance(attrs.get("size_gb"), bool):
            raise SupabaseApiMalformedResponse(endpoint, "expected attributes.size_gb as a number")
        return body

    def api_counts(self, ref: str, interval: str = "7day") -> list[dict]:
        """`GET .../analytics/endpoints/usage.api-counts`: request counts per timestamp."""
        endpoint = "/v1/projects/{ref}/analytics/endpoints/usage.api-counts"
        body = self.get_json(endpoint, f"/v1/projects/{ref}/analytics/endpoints/usage.api-counts",
                             {"interval": interval})
        return _analytics_result(endpoint, body, ("timestamp", "total_rest_requests", "total_auth_requests",
                                                  "total_storage_requests", "total_realtime_requests"))

    def project_logs(self, ref: str, sql: str, start: dt.datetime, end: dt.datetime) -> list[dict]:
        """`GET .../analytics/endpoints/logs.all`: rows of a logs SQL query over [start, end].

        The API accepts at most 24 hours per request (rounded to the minute); callers page
        through windows. Rows are returned as the API sends them; the caller validates each.
        """
        endpoint = "/v1/projects/{ref}/analytics/endpoints/logs.all"
        if end - start > dt.timedelta(hours=24):
            raise ValueError(f"{endpoint}: a window may span at most 24 hours, got {end - start}")
        fmt = "%Y-%m-%dT%H:%M:%SZ"
        params = {
            "sql": sql,
            "iso_timestamp_start": start.astimezone(dt.UTC).strftime(fmt),
            "iso_timestamp_end": end.astimezone(dt.UTC).strftime(fmt),
        }
        body = self.get_json(endpoint, f"/v1/projects/{ref}/analytics/endpoints/logs.all", params)
        _require(endpoint, body, dict, "an object")
        if body.get("error"):
            return _analytics_result(endpoint, body, ())  # raises with the API's message
        _require(endpoint, body.get("result"), list, "'result' as a list")
        return body["result"]  # rows may be malformed: the caller quarantines them one by one

    def functions(self, ref: str) -> list[dict]:
        """`GET /v1/projects/{ref}/functions`: the project's edge functions."""
        endpoint = "/v1/projects/{ref}/functions"
        body = self.get_json(endpoint, f"/v1/projects/{ref}/functions")
        _require(endpoint, body, list, "a list")
        for f in body:
            _require(endpoint, f, dict, "function objects")
            _require(endpoint, f.get("id"), str, "functions[].id")
            _require(endpoint, f.get("slug"), str, "functions[].slug")
        return body

    def function_stats(self, ref: str, function_id: str, interval: str = "1day") -> list[dict]:
        """`GET .../analytics/endpoints/functions.combined-stats` for one function."""
        endpoint = "/v1/projects/{ref}/analytics/endpoints/functions.combined-stats"
        body = self.get_json(endpoint, f"/v1/projects/{ref}/analytics/endpoints/functions.combined-stats",
                             {"interval": interval, "function_id": function_id})
        return _analytics_result(endpoint, body, ())

    def org_daily_usage(self, slug: str, start: dt.date, end: dt.date, project_ref: str | None) -> list[dict]:
        """Non-public `GET /platform/organizations/{slug}/usage/daily` (the dashboard's source).

        Answers `{"usages": [{"date", "metric", "usage", "usage_original", "breakdown"}]}`;
        byte metrics carry GB (decimal) in `usage`. Optional: 403/404 degrade to unknown items.
        """
        endpoint = "/platform/organizations/{slug}/usage/daily"
        params = {"start": start.isoformat(), "end": end.isoformat()}
        if project_ref:
            params["projectRef"] = project_ref
        body = self.get_json(endpoint, f"/platform/organizations/{slug}/usage/daily", params)
        _require(endpoint, body, dict, "an object")
        usages = body.get("usages")
        _require(endpoint, usages, list, "'usages' as a list")
        for u in usages:
            _require(endpoint, u, dict, "usages[] objects")
            _require(endpoint, u.get("date"), str, "usages[].date")
            _require(endpoint, u.get("metric"), str, "usages[].metric")
            if u.get("usage") is not None and (
                not isinstance(u["usage"], (int, float)) or isinstance(u["usage"], bool)
            ):
                raise SupabaseApiMalformedResponse(endpoint, "usages[].usage must be a number")
            try:
                dt.date.fromisoformat(u["date"][:10])
            except ValueError:
                raise SupabaseApiMalformedResponse(endpoint, f"usages[].date {u['date'][:20]!r} is not a date") from None
        return usages


def _require(endpoint: str, value, kind, what: str) -> None:
    if not isinstance(value, kind):
        raise SupabaseApiMalformedResponse(endpoint, f"expected {what}")


def _analytics_result(endpoint: str, body, fields: tuple[str, ...]) -> list[dict]:
    _require(endpoint, body, dict, "an object")
    if body.get("error"):
        err = body["error"]
        msg = err if isinstance(err, str) else (err.get("message") if isinstance(err, dict) else None)
        raise SupabaseApiUnavailable(endpoint, f"analytics error: {str(msg)[:200]}")
    result = body.get("result")
    _require(endpoint, result, list, "'result' as a list")
    for row in result:
        _require(endpoint, row, dict, "result[] objects")
        for f in fields:
            if f not in row:
                raise SupabaseApiMalformedResponse(endpoint, f"result[] lacks '{f}'")
    return result


class SupabaseApiResource(dg.ConfigurableResource):
    """Supabase HTTP APIs. Token from `SUPABASE_ACCESS_TOKEN`, base URL from `SUPABASE_API_URL`."""

    token_env: str = "SUPABASE_ACCESS_TOKEN"
    api_url_env: str = "SUPABASE_API_URL"
    base_url: str | None = None  # wins over the env var when set
    timeout_s: float = 30.0
    """Per phase: connecting, and each socket read or write (httpx's timeout)."""
    deadline_s: float = 60.0
    """Overall time one HTTP request may take, headers and whole body included."""
    budget_s: float = 180.0
    """Overall time all the API calls of one client session (one step) may take together."""
    max_retries: int = 4
    backoff_s: float = 0.5
    max_retry_after_s: float = 60.0

    def resolved_base_url(self) -> str:
        return (self.base_url or _env(self.api_url_env) or DEFAULT_API_URL).rstrip("/")

    @contextmanager
    def client(self) -> Iterator[SupabaseApiClient]:
        token = _env(self.token_env)
        http = None
        if token:
            http = httpx.Client(
                base_url=self.resolved_base_url(),
                headers={"Authorization": f"Bearer {token}", "User-Agent": USER_AGENT,
                         "Accept": "application/json"},
                timeout=min(self.timeout_s, self.deadline_s),
                follow_redirects=False,
                limits=httpx.Limits(max_connections=1, max_keepalive_connections=1),
            )
        try:
            yield SupabaseApiClient(
                http,
                token_env=self.token_env,
                max_retries=self.max_retries,
                backoff_s=self.backoff_s,
                max_retry_after_s=self.max_retry_after_s,
                deadline_s=self.deadline_s,
                budget_s=self.budget_s,
            )
        finally:
            if http is not None:
                http.close()
