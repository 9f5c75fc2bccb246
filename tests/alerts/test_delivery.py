"""Delivery properties 9-13 and 15: outages, rate limits, permanent errors, independence, crashes."""

from __future__ import annotations

import threading

from aimatrix_pipeline.alerts import outbox
from aimatrix_pipeline.alerts.channels import build_channel
from aimatrix_pipeline.alerts.state import AlertStore

from .conftest import CACHE_CHECK, OTHER_CHECK, SLOW_CHECK


def _fail_many(h, projects=("p1", "p2", "p3")):
    for p in projects:
        h.report(CACHE_CHECK, p, passed=False)
        h.report(OTHER_CHECK, p, passed=False)
    h.tick()


def _event_ids(reqs):
    ids = []
    for r in reqs:
        body = r.json()
        if r.path.startswith("/hook"):
            ids += [a["event_id"] for a in body["alerts"]]
        elif r.path.startswith("/pd"):
            ids.append((body["dedup_key"], body["event_action"]))
    return ids


def test_p09_a_receiver_down_for_5_minutes_loses_nothing_and_duplicates_nothing(harness):
    h = harness
    t0 = h.clock.now()
    h.http.respond = lambda rec: (503, {}, b"down") if h.clock.now() < t0 + 300 else _default(rec)
    _fail_many(h)
    expected = {(r["event_id"], r["channel"]) for r in h.outbox()}
    assert len(expected) == 3 * 3 + 3 * 2  # cache rule: slack, webhook, pagerduty; other: defaults
    while h.clock.now() < t0 + 900:
        h.tick()
        h.deliver()
        h.clock.advance(15)
    assert len(h.http.attempts) > len(h.http.requests)  # there were failed attempts
    assert all(r["status"] == "sent" for r in h.outbox())
    hook_ids = _event_ids(h.http.on("/hook"))
    assert len(hook_ids) == len(set(hook_ids)) == 3  # every cache alert's FIRING, once
    pd = _event_ids(h.http.on("/pd"))
    assert len(pd) == len(set(pd)) == 6
    # original detection time survives the outage
    detected = {r["id"]: r["detected_at"] for r in h.store.query("select id, detected_at from incidents")}
    for req in h.http.on("/hook"):
        for a in req.json()["alerts"]:
            from datetime import datetime

            assert abs(datetime.fromisoformat(a["detected_at"].replace("Z", "+00:00")).timestamp()
                       - detected[a["alert_id"]]) < 1e-3
            assert a["detected_at"] < req.json()["sent_at"]


def _default(rec):
    if rec.path.startswith("/slack"):
        return 200, {}, b"ok"
    if rec.path.startswith("/pd"):
        return 202, {}, b"{}"
    return 200, {}, b""


def test_p10_429_is_retried_no_earlier_than_retry_after(harness):
    h = harness
    answers = iter([(429, {"retry-after": "120"}, b"slow down")])
    h.http.respond = lambda rec: next(answers, None) or _default(rec) if rec.path.startswith("/pd") else _default(rec)
    h.report(CACHE_CHECK, "p1", passed=False)
    h.tick()
    h.deliver()
    first = [a for a in h.http.attempts if a.path.startswith("/pd")]
    assert len(first) == 1
    for _ in range(11):  # 110 s of passes every 10 s: nothing may be sent to PagerDuty
        h.clock.advance(10)
        h.deliver()
    assert len([a for a in h.http.attempts if a.path.startswith("/pd")]) == 1
    h.clock.advance(11)
    h.deliver()
    pd = [a for a in h.http.attempts if a.path.startswith("/pd")]
    assert len(pd) == 2 and pd[1].at - pd[0].at >= 120
    assert h.outbox(channel="pagerduty")[0]["status"] == "sent"


def test_p10_5xx_backs_off_capped_and_jittered(harness):
    h = harness
    h.http.respond = lambda rec: (500, {}, b"oops") if rec.path.startswith("/pd") else _default(rec)
    h.report(CACHE_CHECK, "p1", passed=False)
    h.tick()
    for _ in range(600):  # 10 minutes in 1 s steps (passes with nothing due are cheap)
        h.deliver(["pagerduty"])
        h.clock.advance(1)
    times = [a.at for a in h.http.attempts if a.path.startswith("/pd")]
    gaps = [b - a for a, b in zip(times, times[1:])]
    # base 5 s doubling, jitter in [d/2, d], cap 60 s
    assert len(times) >= 10
    assert all(g >= 2.5 for g in gaps)
    assert max(gaps) <= 61
    assert gaps[-1] >= 30  # reached the cap region
    assert len({round(g) for g in gaps[:5]}) > 1  # not a fixed schedule
    row = h.outbox(channel="pagerduty")[0]
    assert row["status"] == "pending" and row["last_status_code"] == 500


def test_p10_timeouts_are_retried_and_give_at_most_one_duplicate(harness):
    h = harness
    h.http.slow_s = 1.0  # answers 2xx, but after the client's 0.5 s timeout
    h.report(CACHE_CHECK, "p1", passed=False)
    h.tick()
    h.deliver(["webhook"])
    row = h.outbox(channel="webhook")[0]
    assert row["status"] == "pending" and "timed out" in row["last_error"]
    h.http.slow_s = 0
    h.clock.advance(10)
    h.deliver(["webhook"])
    hooks = h.http.on("/hook")
    assert len(hooks) == 2  # the receiver did answer the first one: one duplicate ...
    assert hooks[0].headers["webhook-id"] == hooks[1].headers["webhook-id"]  # ... with the same id
    assert h.outbox(channel="webhook")[0]["status"] == "sent"


def test_p11_permanent_errors_are_not_retried_and_are_visible(harness):
    h = harness
    h.http.respond = lambda rec: ((410, {}, b"no_service") if rec.path.startswith("/slack")
                                  else (400, {}, b'{"status":"invalid event"}') if rec.path.startswith("/pd")
                                  else _default(rec))
    h.report(CACHE_CHECK, "p1", passed=False)
    h.tick()
    for _ in range(20):
        h.deliver()
        h.clock.advance(60)
    assert len([a for a in h.http.attempts if a.path.startswith("/slack")]) == 1
    assert len([a for a in h.http.attempts if a.path.startswith("/pd")]) == 1
    slack = h.outbox(channel="slack")[0]
    pd = h.outbox(channel="pagerduty")[0]
    assert (slack["status"], slack["last_status_code"]) == ("failed", 410)
    assert (pd["status"], pd["last_status_code"]) == ("failed", 400)
    assert "invalid event" in pd["last_error"]
    assert h.outbox(channel="webhook")[0]["status"] == "sent"
    summary = outbox.due_summary(h.store)
    assert {(r["channel"], r["status"]) for r in summary["by_channel"]} == {("slack", "failed"), ("pagerduty", "failed")}


def test_p12_a_failing_slack_does_not_delay_or_duplicate_pagerduty(harness):
    h = harness
    pd_seen = threading.Event()
    slack_saw_pd_first = []

    def respond(rec):
        if rec.path.startswith("/pd"):
            pd_seen.set()
            return _default(rec)
        if rec.path.startswith("/slack"):
            slack_saw_pd_first.append(pd_seen.wait(5))
            return 500, {}, b"internal error"
        return _default(rec)

    h.http.respond = respond
    h.report(CACHE_CHECK, "p1", passed=False)
    h.tick()
    h.deliver()
    assert slack_saw_pd_first == [True]  # PagerDuty went out while Slack's request hung
    for _ in range(10):
        h.clock.advance(30)
        h.deliver()
    assert len(h.http.on("/pd")) == 1
    assert h.outbox(channel="pagerduty")[0]["status"] == "sent"
    assert h.outbox(channel="slack")[0]["status"] == "pending"


def test_p13_a_crash_after_2xx_before_recording_gives_at_most_one_duplicate(harness, tmp_path):
    h = harness
    h.report(CACHE_CHECK, "p1", passed=False)
    h.tick()
    rules = h.rules
    for name in ("webhook", "pagerduty"):
        ch = build_channel(rules.channel(name), 0.5, h.clock, h.env)
        batch = outbox.claim_batch(h.store, name, ch.per_alert, 60)
        assert ch.send(batch).ok  # the receiver answered 2xx ... and the process dies here
    h.store.close()
    h.store = AlertStore(tmp_path / "alerts_outbox.sqlite", h.clock)
    h.deliver()  # lease still held by the dead process: nothing resent yet
    assert len(h.http.on("/hook")) == 1 and len(h.http.on("/pd")) == 1
    h.clock.advance(outbox.LEASE_S + 1)
    h.deliver()
    h.clock.advance(600)
    h.deliver()
    hooks, pds = h.http.on("/hook"), h.http.on("/pd")
    assert len(hooks) == 2 and len(pds) == 2
    assert hooks[0].headers["webhook-id"] == hooks[1].headers["webhook-id"]
    assert hooks[0].json()["alerts"][0]["event_id"] == hooks[1].json()["alerts"][0]["event_id"]
    assert pds[0].json()["dedup_key"] == pds[1].json()["dedup_key"]


def test_p15_simultaneous_failures_are_grouped_within_rate_limits(harness):
    h = harness
    for p in ("p1", "p2", "p3"):
        for part in range(5):  # five partitions of the same project and rule -> one group
            h.report(CACHE_CHECK, f"{p}-{part}", passed=False, metadata={"project": p})
        h.report(SLOW_CHECK, p, passed=False)  # fire_after 3: pending, nothing sent
    h.tick()
    h.deliver()
    slack = h.http.on("/slack")
    hooks = h.http.on("/hook")
    assert len(slack) == 3 and len(hooks) == 3  # one message per (project, rule)
    assert sorted(len(r.json()["alerts"]) for r in hooks) == [5, 5, 5]
    ids = _event_ids(hooks)
    assert len(ids) == len(set(ids)) == 15
    # within Slack's 1 message/s and PagerDuty's 120/min (2/s)
    st = [r.at for r in slack]
    assert all(b - a >= 1.0 - 1e-6 for a, b in zip(st, st[1:]))
    pd = [r.at for r in h.http.on("/pd")]
    assert len(pd) == 15
    assert all(b - a >= 0.5 - 1e-6 for a, b in zip(pd, pd[1:]))
    # one message per group interval: a new alert in an existing group waits for the interval
    h.report(CACHE_CHECK, "p1-9", passed=False, metadata={"project": "p1"})
    tick = h.tick()
    # only PagerDuty (one event per alert) may send now: the sensor requests no idle runs
    assert {ch for _, ch, _ in tick["due_rows"]} == {"pagerduty"}
    h.clock.advance(10)
    h.deliver(["slack"])
    assert len(h.http.on("/slack")) == 3
    h.clock.advance(60)
    h.deliver(["slack"])
    assert len(h.http.on("/slack")) == 4


def test_p13_a_sensor_crash_mid_tick_neither_loses_nor_doubles(harness, monkeypatch):
    from aimatrix_pipeline.alerts.state import AlertStateMachine

    h = harness
    for p in ("p1", "p2", "p3"):
        h.report(CACHE_CHECK, p, passed=False)
    real_apply = AlertStateMachine.apply
    calls = []

    def crashing_apply(self, ev, conn=None):
        calls.append(ev.partition)
        if len(calls) == 2:
            raise RuntimeError("process killed mid-tick")
        return real_apply(self, ev, conn)

    monkeypatch.setattr(AlertStateMachine, "apply", crashing_apply)
    try:
        h.tick()
    except RuntimeError:
        pass
    monkeypatch.setattr(AlertStateMachine, "apply", real_apply)
    assert h.outbox() == []  # the whole check's transaction rolled back, cursor included
    h.tick()
    h.tick()
    h.deliver()
    rows = h.outbox()
    assert len(rows) == 9 and len({(r["event_id"], r["channel"]) for r in rows}) == 9
    assert len(h.http.on("/pd")) == 3


def test_p03_a_resolved_never_overtakes_its_firing_on_retry(harness):
    h = harness
    answers = iter([(500, {}, b"oops")])
    h.http.respond = lambda rec: (next(answers, None) or _default(rec)) if rec.path.startswith("/pd") else _default(rec)
    h.report(CACHE_CHECK, "p1", passed=False)
    h.tick()
    h.deliver(["pagerduty"])  # the trigger fails and waits for its backoff
    h.report(CACHE_CHECK, "p1", passed=True)
    h.tick()
    h.deliver(["pagerduty"])  # the resolve is due, but its trigger is not delivered yet
    assert h.http.on("/pd") == []
    h.clock.advance(10)
    h.deliver(["pagerduty"])
    assert [r.json()["event_action"] for r in h.http.on("/pd")] == ["trigger", "resolve"]


def test_pagerduty_pages_the_most_severe_alerts_first_in_a_burst(harness):
    h = harness
    for p in ("p1", "p2"):
        h.report(CACHE_CHECK, p, passed=False)  # high, queued first
    h.tick()
    for _ in range(3):
        h.report(SLOW_CHECK, "p3", passed=False)  # critical (fires on the 3rd), queued last
    h.tick()
    rowids = [r["rowid"] for r in h.store.query("select rowid from outbox where channel = 'pagerduty' order by rowid")]
    assert len(rowids) == 3
    h.deliver(["pagerduty"])
    sev = [r.json()["payload"]["severity"] for r in h.http.on("/pd")]
    assert sev == ["critical", "error", "error"]


def test_the_sensor_tick_sends_only_within_its_budget_and_the_run_sends_the_rest_once(harness):
    """The alert sensor sends what is due itself, but starts no request after its deadline (here
    PagerDuty's pacing, 2/s, on the fake clock); a later pass sends the rest, nothing twice."""
    from aimatrix_pipeline.alerts.sensors import send_in_tick

    h = harness
    projects = [f"p{i}" for i in range(12)]
    for p in projects:
        h.report(CACHE_CHECK, p, passed=False)
    h.tick()
    assert send_in_tick(h.store, h.rules, 0, h.env)["messages"] == 0  # budget 0: the run sends all
    assert h.http.attempts == []
    sent = send_in_tick(h.store, h.rules, 2.0, h.env)
    in_tick = len(h.http.on("/pd"))
    assert 1 <= in_tick < len(projects)  # 2 s at 2 requests/s: the deadline stopped the burst
    assert sent["notifications"] >= in_tick
    assert {r["status"] for r in h.outbox(channel="pagerduty")} == {"sent", "pending"}
    h.deliver()
    pd = _event_ids(h.http.on("/pd"))
    assert len(pd) == len(set(pd)) == len(projects)
    hooks = _event_ids(h.http.on("/hook"))
    assert len(hooks) == len(set(hooks)) == len(projects)
    assert {r["status"] for r in h.outbox()} == {"sent"}


def test_p13_the_sensor_tick_and_a_delivery_run_sending_at_once_never_send_a_row_twice(harness):
    """The tick and the run can overlap (the run the previous tick requested is still sending):
    the channel lease and the claim keep each (event id, channel) to one request."""
    from aimatrix_pipeline.alerts.sensors import send_in_tick

    h = harness
    h.http.slow_s = 0.05  # requests overlap in real time
    _fail_many(h, projects=tuple(f"p{i}" for i in range(6)))
    run = threading.Thread(target=h.deliver)
    run.start()
    send_in_tick(h.store, h.rules, 30.0, h.env)
    run.join()
    h.deliver()  # whatever either left (a channel the other held) goes now
    pd = _event_ids(h.http.on("/pd"))
    hooks = _event_ids(h.http.on("/hook"))
    rows = h.outbox()
    assert len(pd) == len(set(pd)) == sum(r["channel"] == "pagerduty" for r in rows) == 12  # 2 rules x 6
    assert len(hooks) == len(set(hooks)) == sum(r["channel"] == "webhook" for r in rows) == 6
    # one Slack message per (project, rule) group
    assert len(h.http.on("/slack")) == len({r["group_key"] for r in rows if r["channel"] == "slack"}) == 12
    assert len(h.http.attempts) == len(h.http.requests)  # no request was refused or repeated
    assert {r["status"] for r in h.outbox()} == {"sent"}
