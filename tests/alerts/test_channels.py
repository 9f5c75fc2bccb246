"""Wire formats: Slack escaping and colours, Standard Webhooks signatures, PagerDuty Events v2,
email over STARTTLS with a verified context (aiosmtpd + a CA made in the test)."""

from __future__ import annotations

import email

import pytest

from aimatrix_pipeline.alerts.channels.webhook import sign, verify

from .conftest import CACHE_CHECK, COST_CHECK, RULES_YAML, SLOW_CHECK, make_env


def test_slack_never_lets_channel_mentions_in_query_text_through(harness):
    h = harness
    evil = "select '<!channel>' & '<@U123>' from t where a > 1 -- <https://x|click>"
    for _ in range(3):  # slow_query_avg fires after 3
        h.report(SLOW_CHECK, "p1", passed=False, metadata={"value": 2000.0, "query": evil})
    h.tick()
    h.deliver(["slack"])
    (req,) = h.http.on("/slack")
    raw = req.body.decode()
    assert "<!channel>" not in raw and "<@U123>" not in raw and "<https://" not in raw
    body = req.json()
    text = body["attachments"][0]["text"]
    assert "&lt;!channel&gt;" in text and "&amp;" in text and "&lt;@U123&gt;" in text
    assert body["text"].startswith("[FIRING]")
    assert body["attachments"][0]["color"] == "#dc143c"  # critical


def test_slack_success_requires_body_ok(harness):
    h = harness
    h.http.respond = lambda rec: (200, {}, b"invalid_payload")
    h.report(CACHE_CHECK, "p1", passed=False)
    h.tick()
    h.deliver(["slack"])
    row = h.outbox(channel="slack")[0]
    assert row["status"] == "pending" and "unexpected body" in row["last_error"]


def test_webhook_signature_matches_the_standard_webhooks_known_answer_vector():
    assert sign("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330,
                b'{"test": 2432232314}') == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_webhook_is_signed_with_both_secrets_during_rotation(harness):
    h = harness
    h.report(CACHE_CHECK, "p1", passed=False)
    h.tick()
    h.deliver(["webhook"])
    (req,) = h.http.on("/hook")
    msg_id, ts, sig = req.headers["webhook-id"], int(req.headers["webhook-timestamp"]), req.headers["webhook-signature"]
    assert msg_id == req.json()["id"] and len(sig.split()) == 2
    new, old = h.env["T_HOOK_SECRET"], h.env["T_HOOK_SECRET_OLD"]
    assert verify([new], msg_id, ts, req.body, sig, now=h.clock.now())
    assert verify([old], msg_id, ts, req.body, sig, now=h.clock.now())
    assert not verify(["whsec_" + "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFB"], msg_id, ts, req.body, sig, now=h.clock.now())
    assert not verify([new], msg_id, ts, req.body + b" ", sig, now=h.clock.now())  # tampered body
    assert not verify([new], msg_id, ts, req.body, sig, now=h.clock.now() + 301)  # older than 5 min


def test_pagerduty_events_v2_format(harness):
    h = harness
    long_msg = "x" * 3000
    h.report(CACHE_CHECK, "p1", passed=False, metadata={"value": 0.5, "note": long_msg})
    h.tick()
    h.deliver(["pagerduty"])
    h.report(CACHE_CHECK, "p1", passed=True)
    h.tick()
    h.deliver(["pagerduty"])
    trig, res = [r.json() for r in h.http.on("/pd")]
    assert h.http.on("/pd")[0].path == "/pd/v2/enqueue"
    assert trig["routing_key"] == h.env["T_PD_KEY"] and trig["event_action"] == "trigger"
    p = trig["payload"]
    assert p["severity"] == "error" and len(p["summary"]) <= 1024 and p["source"].endswith("p1")
    assert p["timestamp"].endswith("Z") and p["custom_details"]["metrics"]["value"] == 0.5
    assert res["event_action"] == "resolve" and res["dedup_key"] == trig["dedup_key"]
    assert len(trig["dedup_key"]) <= 255


def _email_harness(harness, smtp):
    harness.rules_text = RULES_YAML.replace("port: 2525", f"port: {smtp.port}")
    harness.env = make_env(harness.http, smtp)


def test_email_goes_over_starttls_with_a_verified_context(harness, smtp):
    h = harness
    _email_harness(h, smtp)
    h.report(COST_CHECK, None, passed=False, metadata={"project": "p2"})
    h.tick()
    h.deliver(["email"])
    assert len(smtp.messages) == 1
    tls, sender, rcpts, content = smtp.messages[0]
    assert tls is True and sender == "alerts@example.test" and rcpts == ["oncall@example.test"]
    msg = email.message_from_bytes(content)
    assert msg["Subject"].startswith("[FIRING] Projected cost over budget")
    assert msg["Message-ID"].startswith("<msg_")
    assert h.outbox(channel="email")[0]["status"] == "sent"


def test_email_with_an_untrusted_certificate_is_never_sent(harness, smtp, tmp_path):
    import trustme

    h = harness
    _email_harness(h, smtp)
    other_ca = tmp_path / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(other_ca))
    h.env["T_SMTP_CA"] = str(other_ca)
    h.report(COST_CHECK, None, passed=False, metadata={"project": "p2"})
    h.tick()
    h.deliver(["email"])
    assert smtp.messages == []
    row = h.outbox(channel="email")[0]
    assert row["status"] == "failed" and "not trusted" in row["last_error"]


def test_email_refuses_a_server_without_starttls(harness, tmp_path):
    from aiosmtpd.controller import Controller

    from .conftest import free_port

    received = []

    class Handler:
        async def handle_DATA(self, server, session, envelope):
            received.append(envelope.content)
            return "250 OK"

    port = free_port()
    ctl = Controller(Handler(), hostname="127.0.0.1", port=port)
    ctl.start()
    try:
        h = harness
        h.rules_text = RULES_YAML.replace("port: 2525", f"port: {port}")
        h.env = {**make_env(h.http), "T_SMTP_HOST": "localhost"}
        h.report(COST_CHECK, None, passed=False, metadata={"project": "p2"})
        h.tick()
        h.deliver(["email"])
    finally:
        ctl.stop()
    assert received == []
    row = h.outbox(channel="email")[0]
    assert row["status"] == "failed" and "STARTTLS" in row["last_error"]


@pytest.mark.parametrize("reply, status", [("451 4.3.0 try later", "pending"), ("554 5.7.1 rejected", "failed")])
def test_email_4xx_is_transient_and_5xx_permanent(harness, smtp, reply, status):
    h = harness
    _email_harness(h, smtp)
    smtp.reply = reply
    h.report(COST_CHECK, None, passed=False, metadata={"project": "p2"})
    h.tick()
    h.deliver(["email"])
    row = h.outbox(channel="email")[0]
    assert row["status"] == status and row["last_status_code"] == int(reply[:3])
    if status == "pending":
        smtp.reply = "250 OK"
        h.clock.advance(60)
        h.deliver(["email"])
        assert h.outbox(channel="email")[0]["status"] == "sent" and len(smtp.messages) == 1


def test_retry_after_accepts_seconds_and_http_dates():
    from email.utils import formatdate

    from aimatrix_pipeline.alerts.channels.base import parse_retry_after

    now = 1_800_000_000.0
    assert parse_retry_after("120", now) == 120
    assert abs(parse_retry_after(formatdate(now + 90, usegmt=True), now) - 90) < 1
    assert parse_retry_after(formatdate(now - 90, usegmt=True), now) == 0
    assert parse_retry_after(None, now) == 60 and parse_retry_after("soon", now) == 60
