"""PagerDuty Events API v2: `trigger` on FIRING, `resolve` on RESOLVED, same `dedup_key`.

The dedup_key is the alert fingerprint (<= 255 characters), so PagerDuty itself folds duplicates
(a retried trigger after a crash) into the same incident. 202 = accepted; 400 = invalid event,
never retried; 429 and 5xx are retried. Reminders are never sent here (they would re-page).
"""

from __future__ import annotations

import json

from aimatrix_pipeline.alerts.channels.base import Channel, SendResult, iso
from aimatrix_pipeline.alerts.state import SEVERITY_TO_PAGERDUTY

DEFAULT_URL = "https://events.pagerduty.com/v2/enqueue"


def event_for(p: dict, routing_key: str) -> dict:
    action = "resolve" if p["action"] == "resolved" else "trigger"
    event = {"routing_key": routing_key, "event_action": action, "dedup_key": p["fingerprint"][:255]}
    if action == "trigger":
        event["payload"] = {
            "summary": f"{p['title']} ({p['project']}): {p['message']}"[:1024],
            "source": f"aimatrix_pipeline/{p['project']}",
            "severity": SEVERITY_TO_PAGERDUTY.get(p["severity"], "error"),
            "timestamp": iso(p["detected_at"]),
            "component": p["check"],
            "group": p["project"],
            "class": p["rule_id"],
            "custom_details": {"alert_id": p["alert_id"], "event_id": p["event_id"],
                               "partition": p["partition"], "metrics": p["metrics"]},
        }
    return event


class PagerDutyChannel(Channel):
    per_alert = True

    def send(self, batch) -> SendResult:
        routing_key = self.env("routing_key_env")
        url = self.env("url_env", required=False) or DEFAULT_URL
        (p,) = batch.payloads
        body = json.dumps(event_for(p, routing_key)).encode()
        return self.post_json(url, body, {}, ok_codes={200, 201, 202}, permanent_codes={400})
