"""Scrape a project's Prometheus metrics endpoint into raw.project_metrics (every sample).

Supabase serves ~200 series per project (CPU, memory, disk, network, Postgres, Realtime ...) at
`https://<ref>.supabase.co/customer/v1/privileged/metrics`, behind HTTP basic auth
`service_role:<service role key>`. We keep every sample, not only the realtime ones, so other
reports (CPU/memory/disk/network) can read the same table.

Configuration per project (projects file, unknown keys land in `Project.extra`):
  metrics_url: URL of the endpoint (default built from `ref`)
  service_role_key_env: NAME of the env var holding the service role key
                        (default SUPABASE_SERVICE_ROLE_KEY)
The key is read through `dagster.EnvVar` at run time and only goes into the Authorization header.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime

import dagster as dg
import httpx
import pyarrow as pa

from aimatrix_pipeline.appsignals import store
from aimatrix_pipeline.resources.source_postgres import RedactedError
from aimatrix_pipeline.resources.warehouse import WarehouseResource
from aimatrix_pipeline.settings import ConfigError, Project

SOURCE_TABLE = "project_metrics"
DEFAULT_KEY_ENV = "SUPABASE_SERVICE_ROLE_KEY"
_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_LABEL = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*(,|(?=\}))')
_SCHEMA = pa.schema([("metric", pa.string()), ("labels", pa.string()), ("value", pa.float64())])


class MetricsAuthError(ConfigError):
    """401/403 from the metrics endpoint: the service role key is wrong or missing its rights."""


class MetricsUnavailable(RuntimeError):
    """The metrics endpoint could not be reached or answered with an error status."""


@dataclass
class ScrapeResult:
    samples: int = 0
    rows_quarantined: int = 0
    url: str | None = None
    notes: list[str] = field(default_factory=list)
    skipped: bool = False


def metrics_url(project: Project) -> str | None:
    url = project.extra.get("metrics_url") if project.extra else None
    if url:
        return str(url)
    if project.ref:
        return f"https://{project.ref}.supabase.co/customer/v1/privileged/metrics"
    return None


def key_env(project: Project) -> str:
    return str((project.extra or {}).get("service_role_key_env") or DEFAULT_KEY_ENV)


def _unescape(v: str) -> str:
    return v.replace("\\n", "\n").replace('\\"', '"').replace("\\\\", "\\")


def _value(text: str) -> float | None:
    t = text.strip()
    special = {"+Inf": math.inf, "Inf": math.inf, "-Inf": -math.inf, "NaN": math.nan}
    if t in special:
        return special[t]
    try:
        return float(t)
    except ValueError:
        return None


def parse_line(line: str) -> tuple[str, dict, float] | str:
    """One sample line of the Prometheus text format -> (name, labels, value), or why it is bad."""
    m = _NAME.match(line)
    if not m:
        return "no metric name"
    name, rest = m.group(0), line[m.end():]
    labels: dict[str, str] = {}
    if rest.startswith("{"):
        pos, body = 1, rest
        while True:
            while pos < len(body) and body[pos] == " ":
                pos += 1
            if pos < len(body) and body[pos] == "}":
                pos += 1
                break
            lm = _LABEL.match(body, pos)
            if not lm:
                return "malformed labels"
            labels[lm.group(1)] = _unescape(lm.group(2))
            pos = lm.end()
        rest = body[pos:]
    parts = rest.split()
    if not parts or len(parts) > 2:
        return "expected a value (and optional timestamp) after the metric"
    value = _value(parts[0])
    if value is None:
        return f"value {parts[0][:40]!r} is not a number"
    return name, labels, value


def parse_exposition(text: str) -> tuple[list[dict], list[tuple[int, str, str]]]:
    """All samples of a Prometheus text exposition, and the malformed lines (line no, reason, text)."""
    samples, bad = [], []
    for no, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        parsed = parse_line(line)
        if isinstance(parsed, str):
            bad.append((no, parsed, raw[:10_000]))
            continue
        name, labels, value = parsed
        samples.append({"metric": name, "labels": json.dumps(labels, sort_keys=True),
                        "value": value if math.isfinite(value) else None})
    return samples, bad


def _secret(env_name: str) -> str | None:
    try:
        return dg.EnvVar(env_name).get_value() or None
    except Exception:  # noqa: BLE001 - EnvVar raises different types across versions
        return None


def redacted_url_error(exc: BaseException) -> RedactedError:
    """The transport error as a cause without its text (the URL may carry a key), same traceback."""
    return RedactedError(f"{type(exc).__module__}.{type(exc).__qualname__}").with_traceback(exc.__traceback__)


def scrape_metrics(warehouse: WarehouseResource, project: Project, scraped_at: datetime | None = None,
                   timeout_s: float = 30.0) -> ScrapeResult:
    """Scrape once and replace the project's samples for `scraped_at` (idempotent per scrape time)."""
    result = ScrapeResult()
    url = metrics_url(project)
    if not url:
        result.skipped = True
        result.notes.append(f"project {project.name!r} has neither 'ref' nor 'metrics_url': no metrics (0 rows)")
        return result
    env_name = key_env(project)
    key = _secret(env_name)
    if not key:
        result.skipped = True
        result.notes.append(f"{env_name} is not set: the metrics endpoint needs the service role key (0 rows)")
        return result
    result.url = url.split("?", 1)[0]
    scraped_at = (scraped_at or datetime.now(UTC)).astimezone(UTC)
    try:
        resp = httpx.get(url, auth=("service_role", key), timeout=timeout_s, follow_redirects=False,
                         headers={"Accept": "text/plain; version=0.0.4"})
    except httpx.TransportError as exc:
        # chained as a bare type name: the error's text carries the URL, which may hold a key
        raise MetricsUnavailable(
            f"metrics endpoint of {project.name!r} unreachable ({type(exc).__name__})"
        ) from redacted_url_error(exc)
    if resp.status_code in (401, 403):
        raise MetricsAuthError(
            f"metrics endpoint of {project.name!r} answered {resp.status_code}: check the service role "
            f"key in {env_name}"
        )
    if resp.status_code == 404:
        result.skipped = True
        result.notes.append(f"metrics endpoint of {project.name!r} answered 404: not available (0 rows)")
        return result
    if resp.status_code >= 400:
        raise MetricsUnavailable(f"metrics endpoint of {project.name!r} answered {resp.status_code}")
    samples, bad = parse_exposition(resp.text)
    bad_rows = [{"source_id": f"{scraped_at.isoformat()}#line{no}", "reason": why,
                 "row_json": json.dumps({"line": no}), "payload": text.encode()} for no, why, text in bad]
    with warehouse.transaction() as conn:
        store.run(conn, "project_metrics.delete", project=project.name, scraped_at=scraped_at)
        with store.registered(conn, "_samples", samples, _SCHEMA):
            store.run(conn, "project_metrics.insert", project=project.name, scraped_at=scraped_at)
        store.quarantine(conn, project.name, SOURCE_TABLE, bad_rows, scraped_at)
    result.samples = len(samples)
    result.rows_quarantined = len(bad)
    return result
