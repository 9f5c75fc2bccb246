"""Slack incoming webhook: `text` fallback plus one coloured attachment per alert.

Everything we did not write ourselves (messages carry query text, project names, metric values)
is escaped (`&`, `<`, `>`), so `<!channel>` inside a query can never ping a channel. Success is
HTTP 200 with body `ok`; 400/403/404/410 are permanent (bad payload, revoked or deleted webhook).
"""

from __future__ import annotations

import json

from aimatrix_pipeline.alerts.channels.base import SEVERITY_COLOURS, Channel, SendResult, iso

MAX_ATTACHMENTS = 20
PERMANENT = {400, 403, 404, 410}


def escape(text: object) -> str:
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def render(payloads: list[dict]) -> dict:
    actions = {p["action"] for p in payloads}
    label = "RESOLVED" if actions == {"resolved"} else ("REMINDER" if actions == {"reminder"} else "FIRING")
    first = payloads[0]
    if len(payloads) == 1:
        text = f"[{label}] {escape(first['title'])} ({escape(first['project'])}): {escape(first['message'])}"
    else:
        text = f"[{label}] {len(payloads)} alerts on {escape(first['project'])}: " + "; ".join(
            escape(p["title"]) for p in payloads[:5]) + (" ..." if len(payloads) > 5 else "")
    attachments = []
    for p in payloads[:MAX_ATTACHMENTS]:
        colour = "#2eb886" if p["action"] == "resolved" else SEVERITY_COLOURS.get(p["severity"], "#808080")
        attachments.append({
            "color": colour,
            "fallback": f"[{p['action'].upper()}] {escape(p['title'])}",
            "title": f"[{p['action'].upper()}] {escape(p['title'])}",
            "text": escape(p["message"]),
            "fields": [
                {"title": "Severity", "value": escape(p["severity"]), "short": True},
                {"title": "Project", "value": escape(p["project"]), "short": True},
                {"title": "Check", "value": escape(p["check"]), "short": False},
                {"title": "Detected", "value": iso(p["detected_at"]), "short": True},
                {"title": "Alert id", "value": escape(p["alert_id"]), "short": True},
            ],
        })
    if len(payloads) > MAX_ATTACHMENTS:
        attachments.append({"text": f"... and {len(payloads) - MAX_ATTACHMENTS} more"})
    return {"text": text, "attachments": attachments}


class SlackChannel(Channel):
    def send(self, batch) -> SendResult:
        url = self.env("webhook_url_env")
        body = json.dumps(render(batch.payloads)).encode()
        return self.post_json(url, body, {}, ok_codes={200}, permanent_codes=PERMANENT, expect_body="ok")
