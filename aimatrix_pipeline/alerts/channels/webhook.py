"""Generic webhook signed the Standard Webhooks way.

Headers: `webhook-id` (the batch's message id: fixed at the first attempt, the same on every
retry, so receivers de-duplicate), `webhook-timestamp` (seconds, fresh per attempt), and
`webhook-signature`: `v1,` + base64(HMAC-SHA256(key, "{id}.{timestamp}.{body}")) for each active
secret, space-separated, so a receiver accepts during a rotation whichever secret it has. Secrets
use the `whsec_<base64>` form (the key is the decoded bytes); a secret without the prefix is used
as raw UTF-8 bytes.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

from aimatrix_pipeline.alerts.channels.base import Channel, SendResult, iso


def secret_key(secret: str) -> bytes:
    if secret.startswith("whsec_"):
        return base64.b64decode(secret[len("whsec_"):])
    return secret.encode()


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def verify(secrets: list[str], msg_id: str, timestamp: int, body: bytes, header: str,
           now: float, tolerance_s: float = 300.0) -> bool:
    """Receiver side (used by tests and documented for consumers): any v1 signature of any secret."""
    if abs(now - timestamp) > tolerance_s:
        return False
    given = {s.split(",", 1)[1] for s in header.split() if s.startswith("v1,")}
    for secret in secrets:
        expected = sign(secret, msg_id, timestamp, body).split(",", 1)[1]
        if any(hmac.compare_digest(expected, g) for g in given):
            return True
    return False


class WebhookChannel(Channel):
    def send(self, batch) -> SendResult:
        url = self.env("url_env")
        secrets = [self.env("secret_env")]
        previous = self.env("previous_secret_env", required=False)
        if previous:
            secrets.append(previous)
        now = self.clock.now()
        body = json.dumps({
            "type": "aimatrix.alerts",
            "id": batch.batch_id,
            "group_key": batch.group_key,
            "sent_at": iso(now),
            "alerts": [
                {**p, "detected_at": iso(p["detected_at"]), "fired_at": iso(p.get("fired_at")),
                 "resolved_at": iso(p.get("resolved_at"))}
                for p in batch.payloads
            ],
        }, sort_keys=True).encode()
        ts = int(now)
        signature = " ".join(sign(s, batch.batch_id, ts, body) for s in secrets)
        headers = {"webhook-id": batch.batch_id, "webhook-timestamp": str(ts), "webhook-signature": signature}
        return self.post_json(url, body, headers, ok_codes=set(range(200, 300)))
