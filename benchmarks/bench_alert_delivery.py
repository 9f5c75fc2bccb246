"""Benchmark: 500 simultaneous check failures across 50 projects -> sensor tick -> grouped delivery.

What it does, all on this machine (receivers on 127.0.0.1):
  1. writes 500 failing asset check evaluations (10 checks x 50 projects, WARN and ERROR) into a
     real Dagster instance (SQLite storage, one event-log file);
  2. times one sensor tick (`run_tick`: read the new evaluations, state transitions, outbox)
     against a baseline measured in the same run: only reading the same 500 records back
     (`get_asset_check_execution_history`), i.e. what any sensor has to pay;
  3. times the delivery of everything queued to Slack, a signed webhook and PagerDuty, whose
     receivers enforce their rate limits (answering 429 to any request that comes too early),
     against the floor those limits impose (the slowest channel's messages / its rate).

Rates are scaled by --time-scale (default 10: Slack 10 msg/s instead of 1, PagerDuty 20 ev/s
instead of 2) so the run takes seconds, not minutes; the report also gives the times at the real
limits (messages / real rate), which is what a production burst costs.

Usage: python benchmarks/bench_alert_delivery.py [--projects 50] [--checks 10] [--time-scale 10]
Results are printed and written to benchmarks/results/alert_delivery.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import dagster as dg  # noqa: E402
from dagster._core.events import DagsterEvent, DagsterEventType  # noqa: E402

from aimatrix_pipeline.alerts.delivery import deliver  # noqa: E402
from aimatrix_pipeline.alerts.sensors import run_tick  # noqa: E402
from aimatrix_pipeline.alerts.state import AlertStore  # noqa: E402
from aimatrix_pipeline.shared.rules import parse_rules  # noqa: E402

REAL_RATES = {"slack": 1.0, "webhook": 10.0, "pagerduty": 2.0}


class RateLimitedReceiver:
    """Records requests per path prefix; answers 429 (Retry-After: 1) when a path is hit too early."""

    def __init__(self, rates: dict[str, float]):
        self.rates = rates
        self.last: dict[str, float] = {}
        self.ok: dict[str, int] = {k: 0 for k in rates}
        self.rejected: dict[str, int] = {k: 0 for k in rates}
        self.event_ids: list[str] = []
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                name = self.path.strip("/").split("/")[0]
                now = time.monotonic()
                with outer.lock:
                    min_gap = 1.0 / outer.rates[name] * 0.98
                    too_early = name in outer.last and now - outer.last[name] < min_gap
                    if too_early:
                        outer.rejected[name] += 1
                    else:
                        outer.last[name] = now
                        outer.ok[name] += 1
                        doc = json.loads(body)
                        if name == "webhook":
                            outer.event_ids += [(name, a["event_id"]) for a in doc["alerts"]]
                        elif name == "pagerduty":
                            outer.event_ids.append((name, doc["payload"]["custom_details"]["event_id"]))
                if too_early:
                    self.send_response(429)
                    self.send_header("retry-after", "1")
                    self.send_header("content-length", "0")
                    self.end_headers()
                    return
                code, text = {"slack": (200, b"ok"), "pagerduty": (202, b"{}")}.get(name, (200, b""))
                self.send_response(code)
                self.send_header("content-length", str(len(text)))
                self.end_headers()
                self.wfile.write(text)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"


def rules_yaml(scale: float) -> str:
    return f"""
settings:
  group_interval: 5m
  group_by: [project]
  default_channels: [slack, webhook, pagerduty]
  timeout: 5s
channels:
  - {{name: slack, type: slack, webhook_url_env: B_SLACK, rate_per_second: {REAL_RATES['slack'] * scale}}}
  - {{name: webhook, type: webhook, url_env: B_HOOK, secret_env: B_SECRET,
     rate_per_second: {REAL_RATES['webhook'] * scale}}}
  - {{name: pagerduty, type: pagerduty, routing_key_env: B_PD, url_env: B_PD_URL,
     rate_per_second: {REAL_RATES['pagerduty'] * scale}}}
rules: []
"""


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--projects", type=int, default=50)
    ap.add_argument("--checks", type=int, default=10)
    ap.add_argument("--time-scale", type=float, default=10.0)
    args = ap.parse_args()
    scale = args.time_scale
    receiver = RateLimitedReceiver({k: v * scale for k, v in REAL_RATES.items()})
    env = {"B_SLACK": receiver.base + "/slack/x", "B_HOOK": receiver.base + "/webhook",
           "B_SECRET": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "B_PD": "benchkey",
           "B_PD_URL": receiver.base + "/pagerduty/v2/enqueue"}
    rules = parse_rules(rules_yaml(scale))
    projects = [f"project-{i:02d}" for i in range(args.projects)]
    checks = [dg.AssetCheckKey(dg.AssetKey(["analytics", f"asset_{c}"]), f"check_{c}") for c in range(args.checks)]

    with tempfile.TemporaryDirectory() as tmp:
        overrides = {"event_log_storage": {"module": "dagster._core.storage.event_log",
                                           "class": "ConsolidatedSqliteEventLogStorage",
                                           "config": {"base_dir": f"{tmp}/events"}}}
        Path(f"{tmp}/home").mkdir()
        with dg.instance_for_test(overrides=overrides, temp_dir=f"{tmp}/home") as instance:
            for i, key in enumerate(checks):
                for p in projects:
                    ev = dg.AssetCheckEvaluation(
                        asset_key=key.asset_key, check_name=key.name, passed=False, partition=p,
                        severity=dg.AssetCheckSeverity.WARN if i % 2 else dg.AssetCheckSeverity.ERROR,
                        metadata={"value": float(i)})
                    instance.report_dagster_event(
                        run_id=uuid.uuid4().hex,
                        dagster_event=DagsterEvent(DagsterEventType.ASSET_CHECK_EVALUATION.value,
                                                   job_name="bench", event_specific_data=ev))
            n_failures = len(checks) * len(projects)

            t = time.perf_counter()
            read = sum(len(instance.event_log_storage.get_asset_check_execution_history(k, limit=1000))
                       for k in checks)
            baseline_read_s = time.perf_counter() - t
            assert read == n_failures

            store = AlertStore(f"{tmp}/alerts_outbox.sqlite")
            t = time.perf_counter()
            tick = run_tick(instance, checks, store, rules, projects, env)
            tick_s = time.perf_counter() - t
            assert tick["scan"].evaluations == n_failures

            t = time.perf_counter()
            rounds = 0
            while store.query("select count(*) from outbox where status in ('pending', 'sending')")[0][0]:
                deliver(store, rules, env)
                rounds += 1
                if rounds > 1000:
                    raise SystemExit("delivery did not finish")
                time.sleep(0.05)
            delivery_s = time.perf_counter() - t
            queued = store.query("select channel, count(*), count(distinct batch_id) from outbox "
                                 "group by 1 order by 1")
            store.close()

    messages = {r[0]: r[2] for r in queued}
    floor = {ch: (messages[ch] - 1) / (REAL_RATES[ch] * scale) for ch in messages}
    real = {ch: round((messages[ch] - 1) / REAL_RATES[ch], 1) for ch in messages}
    result = {
        "failures": n_failures,
        "projects": len(projects),
        "notifications_per_channel": {r[0]: r[1] for r in queued},
        "messages_per_channel": messages,
        "sensor_tick_s": round(tick_s, 3),
        "baseline_read_records_s": round(baseline_read_s, 3),
        "tick_vs_read_ratio": round(tick_s / baseline_read_s, 2),
        "delivery_s": round(delivery_s, 2),
        "delivery_floor_s_at_scaled_limits": round(max(floor.values()), 2),
        "delivery_vs_floor_ratio": round(delivery_s / max(max(floor.values()), 1e-9), 2),
        "time_scale": scale,
        "delivery_s_at_real_limits_by_channel": real,
        "receiver_429s": receiver.rejected,
        # (channel, event id) pairs seen by the webhook and PagerDuty receivers: 500 each, once
        "event_ids_delivered": len(receiver.event_ids),
        "event_ids_unique": len(set(receiver.event_ids)),
    }
    print(json.dumps(result, indent=2))
    out = ROOT / "benchmarks" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "alert_delivery.json").write_text(json.dumps(result, indent=2) + "\n")
    ok = (result["event_ids_delivered"] == result["event_ids_unique"] == n_failures * 2
          and sum(receiver.rejected.values()) == 0)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
