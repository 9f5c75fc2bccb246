"""Real receivers on 127.0.0.1, a controllable clock and a real Dagster instance for alert tests.

* `Receiver`: an HTTP server in a thread that records every request (headers, body, the fake
  clock's time) and answers what the test asks for: 200/202, 429 with Retry-After, 500, 400,
  or a response slower than the client's timeout.
* `SmtpReceiver`: aiosmtpd requiring STARTTLS with a certificate from a CA made by trustme in
  the test; the client trusts that CA through a CA file (a verified context, never unverified).
* `FakeClock`: `now()` starts at the real time (receivers check webhook timestamps against it)
  and `sleep()` advances it instantly, so "down for 5 minutes" takes milliseconds.
* `Harness`: a Dagster instance (SQLite storage in memory) + the alert state store + rules; `report()`
  writes a real asset check evaluation into the instance, `tick()` runs the sensor's decision
  code on it, `deliver()` runs a delivery pass.
"""

from __future__ import annotations

import json
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import dagster as dg
import pytest

from aimatrix_pipeline.alerts.delivery import deliver
from aimatrix_pipeline.alerts.sensors import run_tick
from aimatrix_pipeline.alerts.state import AlertStateMachine, AlertStore
from aimatrix_pipeline.shared.rules import parse_rules

PROJECTS = ["p1", "p2", "p3"]


class FakeClock:
    def __init__(self, start: float | None = None):
        self.t = time.time() if start is None else start
        self._lock = threading.Lock()

    def now(self) -> float:
        with self._lock:
            return self.t

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            self.advance(seconds)

    def advance(self, seconds: float) -> None:
        with self._lock:
            self.t += seconds


@dataclass
class Recorded:
    path: str
    headers: dict
    body: bytes
    at: float  # fake-clock time when received

    def json(self):
        return json.loads(self.body)


class Receiver:
    """HTTP receiver. `respond` decides each answer: a callable(req) -> (code, headers, body)."""

    def __init__(self, clock: FakeClock):
        self.clock = clock
        self.requests: list[Recorded] = []
        self.attempts: list[Recorded] = []  # including the ones answered with an error
        self.respond: Callable[[Recorded], tuple[int, dict, bytes]] | None = None
        self.slow_s = 0.0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_POST(self):
                n = int(self.headers.get("content-length") or 0)
                rec = Recorded(self.path, {k.lower(): v for k, v in self.headers.items()},
                               self.rfile.read(n), receiver.clock.now())
                receiver.attempts.append(rec)
                code, headers, body = receiver.answer(rec)
                if 200 <= code < 300:
                    receiver.requests.append(rec)
                if receiver.slow_s:
                    time.sleep(receiver.slow_s)
                try:
                    self.send_response(code)
                    for k, v in headers.items():
                        self.send_header(k, v)
                    self.send_header("content-length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except OSError:
                    pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def answer(self, rec: Recorded) -> tuple[int, dict, bytes]:
        if self.respond is not None:
            return self.respond(rec)
        if rec.path.startswith("/slack"):
            return 200, {"content-type": "text/plain"}, b"ok"
        if rec.path.startswith("/pd"):
            return 202, {"content-type": "application/json"}, b'{"status":"success","message":"Event processed"}'
        return 200, {}, b""

    def on(self, path_prefix: str) -> list[Recorded]:
        return [r for r in self.requests if r.path.startswith(path_prefix)]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class SmtpReceiver:
    def __init__(self, tmp_path: Path):
        import trustme
        from aiosmtpd.controller import Controller

        self.ca = trustme.CA()
        cert = self.ca.issue_cert("localhost", "127.0.0.1")
        import ssl

        server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        cert.configure_cert(server_ctx)
        self.ca_file = tmp_path / "smtp-ca.pem"
        self.ca.cert_pem.write_to_path(str(self.ca_file))
        self.messages: list = []
        self.reply = "250 OK"
        outer = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):
                if not outer.reply.startswith("250"):
                    return outer.reply
                outer.messages.append((session.ssl is not None, envelope.mail_from,
                                       list(envelope.rcpt_tos), envelope.content))
                return "250 OK"

        self.port = free_port()
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port,
                                     tls_context=server_ctx, require_starttls=True)
        self.controller.start()

    def close(self):
        self.controller.stop()


RULES_YAML = """
settings:
  fire_after: 1
  suppression_window: 5m
  repeat_interval: 1h
  group_interval: 1m
  group_by: [project, rule_id]
  default_channels: [slack, pagerduty]
  backoff_base: 5s
  backoff_cap: 60s
  timeout: 0.5s
  give_up_after: 24h
channels:
  - {name: slack, type: slack, webhook_url_env: T_SLACK_URL, rate_per_second: 1}
  - {name: webhook, type: webhook, url_env: T_HOOK_URL, secret_env: T_HOOK_SECRET,
     previous_secret_env: T_HOOK_SECRET_OLD, rate_per_second: 10}
  - {name: pagerduty, type: pagerduty, routing_key_env: T_PD_KEY, url_env: T_PD_URL, rate_per_second: 2}
  - {name: email, type: email, host_env: T_SMTP_HOST, ca_file_env: T_SMTP_CA, port: 2525,
     to: [oncall@example.test], from: alerts@example.test}
rules:
  - id: cache_hit_ratio_low
    title: Low cache hit ratio
    message: "Cache hit ratio is {value} (threshold {threshold}) on {project}"
    metric: cache_hit_ratio
    operator: "<"
    threshold: 0.99
    severity: high
    channels: [slack, webhook, pagerduty]
  - id: slow_query_avg
    title: Slow queries
    message: "Average {value} ms on {project}: {query}"
    metric: slow_query_avg_ms
    operator: ">"
    threshold: 1000
    severity: critical
    fire_after: 3
    channels: [slack, pagerduty]
  - id: projected_cost_over_budget
    title: Projected cost over budget
    message: "Projection exceeds the budget"
    check: "cost/monthly_cost_report:projected_cost_within_budget"
    severity: medium
    channels: [email]
"""

CACHE_CHECK = dg.AssetCheckKey(dg.AssetKey(["analytics", "database_health"]), "cache_hit_ratio_low")
SLOW_CHECK = dg.AssetCheckKey(dg.AssetKey(["analytics", "slow_queries_summary"]), "slow_query_avg")
COST_CHECK = dg.AssetCheckKey(dg.AssetKey(["cost", "monthly_cost_report"]), "projected_cost_within_budget")
OTHER_CHECK = dg.AssetCheckKey(dg.AssetKey(["analytics", "table_health"]), "someone_elses_check")
ALL_CHECKS = [CACHE_CHECK, SLOW_CHECK, COST_CHECK, OTHER_CHECK]


@dataclass
class Harness:
    instance: dg.DagsterInstance
    store: AlertStore
    clock: FakeClock
    http: Receiver
    rules_text: str
    env: dict
    check_keys: list = field(default_factory=lambda: list(ALL_CHECKS))
    _parsed: tuple | None = field(default=None, repr=False)

    @property
    def rules(self):
        # parsed once per text: a test that steps a fake clock through ten minutes delivers
        # hundreds of times, and parsing the YAML each time was nine tenths of its time
        if self._parsed is None or self._parsed[0] != self.rules_text:
            self._parsed = (self.rules_text, parse_rules(self.rules_text))
        return self._parsed[1]

    @property
    def machine(self) -> AlertStateMachine:
        return AlertStateMachine(self.store, self.rules, self.env)

    def report(self, check: dg.AssetCheckKey, partition: str | None, passed: bool, severity=dg.AssetCheckSeverity.ERROR,
               metadata: dict | None = None, description: str | None = None) -> None:
        # One evaluation per (check, partition, run) is what the storage keeps, so every report
        # gets its own run id, as evaluations from successive materialization runs do.
        from dagster._core.events import DagsterEvent, DagsterEventType

        evaluation = dg.AssetCheckEvaluation(
            asset_key=check.asset_key, check_name=check.name, passed=passed, severity=severity,
            metadata={"value": 0.5, **(metadata or {})}, partition=partition, description=description)
        self.instance.report_dagster_event(
            run_id=uuid.uuid4().hex,
            dagster_event=DagsterEvent(event_type_value=DagsterEventType.ASSET_CHECK_EVALUATION.value,
                                       event_specific_data=evaluation, job_name="__test_checks__"))

    def tick(self) -> dict:
        return run_tick(self.instance, self.check_keys, self.store, self.rules, PROJECTS, self.env)

    def deliver(self, channels=None):
        return deliver(self.store, self.rules, self.env, channels)

    def outbox(self, **where) -> list[dict]:
        sql = "select * from outbox"
        if where:
            sql += " where " + " and ".join(f"{k} = :{k}" for k in where)
        return [dict(r) for r in self.store.query(sql + " order by created_at, event_id", where)]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def http(clock):
    r = Receiver(clock)
    yield r
    r.close()


@pytest.fixture
def smtp(tmp_path):
    s = SmtpReceiver(tmp_path)
    yield s
    s.close()


def make_env(http: Receiver, smtp: SmtpReceiver | None = None) -> dict:
    env = {
        "T_SLACK_URL": http.base + "/slack/T000/B000/XXXX",
        "T_HOOK_URL": http.base + "/hook",
        "T_HOOK_SECRET": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        "T_HOOK_SECRET_OLD": "whsec_" + "c2VjcmV0LW9sZC1zZWNyZXQtb2xkLXNlY3JldA==",
        "T_PD_KEY": "R0UTINGKEY0000000000000000000000",
        "T_PD_URL": http.base + "/pd/v2/enqueue",
    }
    if smtp is not None:
        env.update({"T_SMTP_HOST": "localhost", "T_SMTP_CA": str(smtp.ca_file)})
    return env


@pytest.fixture
def harness(tmp_path, clock, http):
    # Dagster's ephemeral instance: its event log is the same SQL event-log storage on an
    # in-memory SQLite database (the asset check history the sensor reads is the same code), made
    # in a tenth of a second. A file-backed one (`instance_for_test`) loads Dagster's whole alembic
    # migration history for each of its databases, one to three seconds per test before anything
    # runs; nothing here reopens the instance, so nothing needs the file.
    with dg.DagsterInstance.ephemeral(tempdir=str(tmp_path)) as instance:
        store = AlertStore(tmp_path / "alerts_outbox.sqlite", clock)
        h = Harness(instance, store, clock, http, RULES_YAML, make_env(http))
        yield h
        store.close()
