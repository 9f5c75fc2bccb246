"""What every channel shares: the result type, env lookup through dagster.EnvVar, HTTP mapping."""

from __future__ import annotations

import email.utils
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

import dagster as dg
import httpx

from aimatrix_pipeline.settings import secret_is_set
from aimatrix_pipeline.shared.rules import ChannelConfig

SEVERITY_COLOURS = {"low": "#36a64f", "medium": "#ffb347", "high": "#ff6b6b", "critical": "#dc143c"}


@dataclass(frozen=True)
class SendResult:
    ok: bool
    status_code: int | None = None
    error: str = ""
    permanent: bool = False
    retry_after_s: float | None = None  # set for 429: do not retry earlier


def iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    return datetime.fromtimestamp(float(ts), tz=UTC).isoformat().replace("+00:00", "Z")


def parse_retry_after(value: str | None, now: float) -> float:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP date); 60 s if absent."""
    if not value:
        return 60.0
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
        return max(0.0, when.timestamp() - now)
    except (TypeError, ValueError):
        return 60.0


class Channel:
    """Base class. Subclasses implement `send(batch)`."""

    per_alert = False  # True: one request per notification (PagerDuty: one dedup_key each)

    def __init__(self, cfg: ChannelConfig, timeout_s: float, clock, environ: Mapping[str, str] | None = None):
        self.cfg = cfg
        self.timeout_s = timeout_s
        self.clock = clock
        self.environ = environ

    def env(self, key: str, required: bool = True) -> str | None:
        """Value of the env var the config names for `key`, via dagster.EnvVar (never logged)."""
        name = self.cfg.env.get(key)
        if not name:
            return None
        if self.environ is not None:
            value = self.environ.get(name)
        else:
            value = dg.EnvVar(name).get_value() if secret_is_set(name) else None
        if required and not value:
            raise RuntimeError(f"channel {self.cfg.name!r}: environment variable {name} is not set")
        return value

    _client: httpx.Client | None = None

    @property
    def client(self) -> httpx.Client:
        """One keep-alive client per channel and delivery pass (not one connection per message)."""
        if self._client is None:
            self._client = httpx.Client(timeout=self.timeout_s, follow_redirects=False)
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def send(self, batch) -> SendResult:  # pragma: no cover - abstract
        raise NotImplementedError

    def post_json(self, url: str, body: bytes, headers: dict[str, str], ok_codes: set[int],
                  permanent_codes: set[int] | None = None, expect_body: str | None = None) -> SendResult:
        """POST and map the answer: 2xx ok, 429 Retry-After, 5xx/timeout transient, others permanent."""
        headers = {"content-type": "application/json", "user-agent": "aimatrix-pipeline-alerts", **headers}
        try:
            resp = self.client.post(url, content=body, headers=headers)
        except httpx.TimeoutException:
            return SendResult(False, None, f"timed out after {self.timeout_s:g}s")
        except httpx.HTTPError as exc:
            return SendResult(False, None, f"connection error: {type(exc).__name__}")
        code = resp.status_code
        text = resp.text[:200]
        if code in ok_codes:
            if expect_body is not None and resp.text.strip() != expect_body:
                return SendResult(False, code, f"HTTP {code} with unexpected body {text!r}")
            return SendResult(True, code)
        if code == 429:
            return SendResult(False, code, "HTTP 429 rate limited",
                              retry_after_s=parse_retry_after(resp.headers.get("retry-after"), self.clock.now()))
        if code >= 500 or code == 408:
            return SendResult(False, code, f"HTTP {code}: {text}")
        permanent = True if permanent_codes is None else code in permanent_codes
        return SendResult(False, code, f"HTTP {code}: {text}", permanent=permanent)
