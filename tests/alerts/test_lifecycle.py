"""Lifecycle properties 1-8, 14 and 16 of docs/alerting-guarantees.md, end to end.

Evaluations are written into a real Dagster instance as asset check evaluations; the sensor's
decision code reads them back through the per-check execution history; delivery sends to real
HTTP receivers on 127.0.0.1. Time is a controllable clock.
"""

from __future__ import annotations

import json

import dagster as dg

from aimatrix_pipeline.alerts.state import fingerprint

from .conftest import CACHE_CHECK, COST_CHECK, OTHER_CHECK, SLOW_CHECK


def _actions(reqs, path):
    out = []
    for r in reqs:
        if not r.path.startswith(path):
            continue
        body = r.json()
        if path == "/pd":
            out.append(body["event_action"])
        elif path == "/hook":
            out += [a["action"] for a in body["alerts"]]
        else:
            out.append(body["text"].split("]")[0].strip("["))
    return out


def test_p01_fires_after_n_consecutive_failures_then_once_per_channel(harness):
    # slow_query_avg has fire_after: 3
    for _ in range(2):
        harness.report(SLOW_CHECK, "p1", passed=False, metadata={"value": 2000.0})
        harness.tick()
        harness.deliver()
    assert harness.http.requests == []
    status = harness.store.query("select status from incidents")[0]["status"]
    assert status == "pending"
    harness.report(SLOW_CHECK, "p1", passed=False, metadata={"value": 2500.0})
    harness.tick()
    harness.report(SLOW_CHECK, "p1", passed=False, metadata={"value": 2600.0})  # 4th: still firing
    harness.tick()
    harness.deliver()
    assert _actions(harness.http.requests, "/slack") == ["FIRING"]
    assert _actions(harness.http.requests, "/pd") == ["trigger"]
    # pass before reaching N resets the streak: never fires
    harness.report(SLOW_CHECK, "p2", passed=False)
    harness.report(SLOW_CHECK, "p2", passed=False)
    harness.report(SLOW_CHECK, "p2", passed=True)
    harness.report(SLOW_CHECK, "p2", passed=False)
    harness.tick()
    harness.clock.advance(120)
    harness.deliver()
    assert len(harness.http.on("/pd")) == 1
    p2 = harness.store.query("select status from incidents where project = 'p2' order by detected_at, rowid")
    assert [r["status"] for r in p2] == ["normal", "pending"]


def test_p02_one_reminder_per_repeat_interval_never_to_pagerduty(harness):
    harness.report(CACHE_CHECK, "p1", passed=False)
    harness.tick()
    harness.deliver()
    for _ in range(5):  # keeps failing for 50 minutes: nothing new
        harness.clock.advance(600)
        harness.report(CACHE_CHECK, "p1", passed=False)
        harness.tick()
        harness.deliver()
    assert _actions(harness.http.requests, "/slack") == ["FIRING"]
    harness.clock.advance(600)  # past the 1 h repeat interval
    harness.tick()
    harness.tick()
    harness.deliver()
    assert _actions(harness.http.requests, "/slack") == ["FIRING", "REMINDER"]
    assert _actions(harness.http.requests, "/hook") == ["firing", "reminder"]
    assert _actions(harness.http.requests, "/pd") == ["trigger"]


def test_p03_a_failing_check_pages_once_and_resolves_once(harness):
    harness.report(CACHE_CHECK, "p1", passed=False)
    harness.tick()
    harness.deliver()
    harness.report(CACHE_CHECK, "p1", passed=True)
    harness.report(CACHE_CHECK, "p1", passed=True)
    harness.tick()
    harness.clock.advance(61)  # group interval for the chat channels
    harness.deliver()
    harness.report(CACHE_CHECK, "p1", passed=True)
    harness.tick()
    harness.clock.advance(61)
    harness.deliver()
    assert _actions(harness.http.requests, "/pd") == ["trigger", "resolve"]
    pd = [r.json() for r in harness.http.on("/pd")]
    assert pd[0]["dedup_key"] == pd[1]["dedup_key"] == fingerprint("p1", "analytics/database_health:cache_hit_ratio_low", "p1")
    assert _actions(harness.http.requests, "/slack") == ["FIRING", "RESOLVED"]
    assert _actions(harness.http.requests, "/hook") == ["firing", "resolved"]


def test_p04_twenty_alternating_results_give_one_firing_and_one_resolved(harness):
    for i in range(20):
        harness.report(CACHE_CHECK, "p1", passed=(i % 2 == 1))
        harness.tick()
        harness.clock.advance(10)  # 200 s in total: inside the 5 min suppression window
        harness.deliver()
    harness.clock.advance(61)
    harness.tick()
    harness.deliver()
    assert _actions(harness.http.requests, "/pd") == ["trigger", "resolve"]
    assert _actions(harness.http.requests, "/slack") == ["FIRING", "RESOLVED"]
    # the table still shows every incident and its history
    assert harness.store.query("select count(*) from incidents")[0][0] == 10


def test_p04_still_failing_when_the_hold_window_ends_fires_once_more(harness):
    harness.report(CACHE_CHECK, "p1", passed=False)
    harness.tick()
    harness.report(CACHE_CHECK, "p1", passed=True)
    harness.tick()
    harness.report(CACHE_CHECK, "p1", passed=False)  # re-fails inside the window: held
    harness.tick()
    harness.deliver()
    assert _actions(harness.http.requests, "/pd") == ["trigger", "resolve"]
    harness.clock.advance(301)
    harness.tick()
    harness.deliver()
    assert _actions(harness.http.requests, "/pd") == ["trigger", "resolve", "trigger"]


def test_p05_never_a_resolved_without_a_firing(harness):
    # passes only, a pending alert that recovers, a held alert that recovers: no RESOLVED anywhere
    harness.report(CACHE_CHECK, "p2", passed=True)
    harness.report(SLOW_CHECK, "p2", passed=False)
    harness.report(SLOW_CHECK, "p2", passed=True)
    harness.tick()
    harness.clock.advance(600)
    harness.tick()
    harness.deliver()
    assert harness.http.attempts == []
    sent = harness.store.query("select action from outbox")
    assert [r["action"] for r in sent] == []


def test_p06_fingerprint_is_stable_and_at_most_255_characters():
    fp = fingerprint("p1", "analytics/database_health:cache_hit_ratio_low", "p1")
    assert fp == fingerprint("p1", "analytics/database_health:cache_hit_ratio_low", "p1")
    assert fp != fingerprint("p2", "analytics/database_health:cache_hit_ratio_low", "p2")
    assert fp != fingerprint("p1", "analytics/database_health:cache_hit_ratio_low", "2026-01-01")
    assert fp != fingerprint("p1", "analytics/database_health:cache_hit_ratio_low", "p1", "could_not_evaluate")
    huge = fingerprint("p" * 300, "a/" * 200 + ":c" * 100, "x" * 500)
    assert len(huge) <= 255 and len(fp) <= 255
    # known value: the same across processes, hosts and restarts (no random or time input)
    assert fp == "p1/analytics/database_health:cache_hit_ratio_low#" + __import__("hashlib").sha256(
        "\x1f".join(["p1", "analytics/database_health:cache_hit_ratio_low", "p1", "data"]).encode()
    ).hexdigest()[:32]


def test_p06_fingerprint_survives_a_restart_of_the_store(harness, tmp_path):
    harness.report(CACHE_CHECK, "p1", passed=False)
    harness.tick()
    first = harness.store.query("select fingerprint from alert_state")[0][0]
    harness.store.close()
    from aimatrix_pipeline.alerts.state import AlertStore

    harness.store = AlertStore(tmp_path / "alerts_outbox.sqlite", harness.clock)
    harness.report(CACHE_CHECK, "p1", passed=True)
    harness.tick()
    rows = harness.store.query("select fingerprint, status from alert_state")
    assert [(r[0], r[1]) for r in rows] == [(first, "resolved")]


def test_p07_could_not_evaluate_is_its_own_alert_and_never_resolves_the_data_alert(harness):
    harness.report(CACHE_CHECK, "p1", passed=False)
    harness.tick()
    harness.report(CACHE_CHECK, "p1", passed=False, severity=dg.AssetCheckSeverity.WARN,
                   metadata={"aimatrix/could_not_evaluate": True, "error": "Catalog Error: no table"})
    harness.tick()
    harness.deliver()
    states = {r["kind"]: r["status"] for r in harness.store.query("select kind, status from alert_state")}
    assert states == {"data": "firing", "could_not_evaluate": "firing"}
    pd = [r.json() for r in harness.http.on("/pd")]
    assert [p["event_action"] for p in pd] == ["trigger", "trigger"]
    assert pd[0]["dedup_key"] != pd[1]["dedup_key"]
    cne = harness.store.query("select title, message from incidents where kind = 'could_not_evaluate'")[0]
    assert "Could not evaluate" in cne["title"] and "Catalog Error" in cne["message"]
    # a real evaluation (still failing) resolves the could-not-evaluate alert, not the data alert
    harness.report(CACHE_CHECK, "p1", passed=False)
    harness.tick()
    harness.deliver()
    states = {r["kind"]: r["status"] for r in harness.store.query("select kind, status from alert_state")}
    assert states == {"data": "firing", "could_not_evaluate": "resolved"}
    assert [r.json()["event_action"] for r in harness.http.on("/pd")] == ["trigger", "trigger", "resolve"]
    assert harness.http.on("/pd")[2].json()["dedup_key"] == pd[1]["dedup_key"]


def test_p07_a_check_whose_run_crashed_raises_could_not_evaluate(harness):
    partitions = dg.StaticPartitionsDefinition(["p1"])

    @dg.asset(key=["analytics", "table_health"], partitions_def=partitions)
    def table_health():
        return None

    @dg.asset_check(asset=table_health, name="someone_elses_check", partitions_def=partitions)
    def crashing():
        raise ConnectionError("database unreachable")

    res = dg.materialize([table_health, crashing], partition_key="p1", instance=harness.instance,
                         raise_on_error=False)
    assert not res.success
    tick = harness.tick()
    assert tick["scan"].could_not_evaluate == 1
    row = harness.store.query("select kind, status, project, rule_id from alert_state")[0]
    assert tuple(row) == ("could_not_evaluate", "firing", "p1",
                          "analytics/table_health:someone_elses_check:could_not_evaluate")
    msg = harness.store.query("select message from incidents")[0][0]
    assert "FAILURE" in msg


def test_p08_suppression_window_holds_back_repeats_for_the_rule(harness):
    harness.report(CACHE_CHECK, "p1", passed=False)
    harness.tick()
    harness.deliver()
    harness.clock.advance(120)
    harness.report(CACHE_CHECK, "p1", passed=True)
    harness.tick()
    harness.deliver()
    harness.clock.advance(60)  # 180 s after the FIRING: inside the 5 min window
    harness.report(CACHE_CHECK, "p1", passed=False)
    harness.tick()
    harness.deliver()
    assert _actions(harness.http.requests, "/pd") == ["trigger", "resolve"]
    harness.clock.advance(121)  # window over
    harness.tick()
    harness.deliver()
    assert _actions(harness.http.requests, "/pd") == ["trigger", "resolve", "trigger"]


def test_p14_a_restart_with_nothing_new_sends_nothing(harness, tmp_path):
    harness.report(CACHE_CHECK, "p1", passed=False)
    harness.report(OTHER_CHECK, "p2", passed=False, severity=dg.AssetCheckSeverity.WARN)
    harness.tick()
    harness.deliver()
    sent_before = len(harness.http.attempts)
    assert sent_before > 0
    harness.store.close()
    from aimatrix_pipeline.alerts.state import AlertStore

    harness.store = AlertStore(tmp_path / "alerts_outbox.sqlite", harness.clock)  # "restart"
    for _ in range(3):
        tick = harness.tick()
        assert tick["scan"].evaluations == 0 and tick["due"]["due"] == 0
        harness.deliver()
    assert len(harness.http.attempts) == sent_before


def test_warn_and_non_blocking_checks_of_other_domains_alert(harness):
    """The gap run-failure sensors leave: a WARN failure of any check (cost's budget check)."""
    harness.report(COST_CHECK, "2026-11", passed=False, severity=dg.AssetCheckSeverity.WARN,
                   metadata={"project": "p3", "projected_cost_usd": 250.0, "budget_usd": 200.0})
    harness.report(OTHER_CHECK, "p2", passed=False, severity=dg.AssetCheckSeverity.WARN,
                   description="table bloat above 50%")
    harness.tick()
    harness.deliver()
    incidents = {r["rule_id"]: dict(r) for r in harness.store.query("select * from incidents")}
    assert incidents["projected_cost_over_budget"]["project"] == "p3"
    assert incidents["projected_cost_over_budget"]["severity"] == "medium"
    other = incidents["analytics/table_health:someone_elses_check"]
    assert other["severity"] == "medium" and "table bloat" in other["message"]
    # default channels (slack, pagerduty) for the check no rule names
    assert [r.json()["event_action"] for r in harness.http.on("/pd")] == ["trigger"]
    assert len(harness.http.on("/slack")) == 1


def test_p16_silence_suppresses_sending_while_state_updates_then_fires_once(harness):
    m = harness.machine
    m.silence("cache_hit_ratio_low", harness.clock.now() + 1800, "ana", "maintenance")
    harness.report(CACHE_CHECK, "p1", passed=False)
    harness.tick()
    harness.clock.advance(600)
    harness.report(CACHE_CHECK, "p1", passed=False)
    harness.tick()
    harness.deliver()
    assert harness.http.attempts == []
    assert harness.store.query("select status from alert_state")[0][0] == "firing"
    # a silenced problem that goes away sends nothing at all
    harness.report(CACHE_CHECK, "p2", passed=False)
    harness.tick()
    harness.report(CACHE_CHECK, "p2", passed=True)
    harness.tick()
    harness.clock.advance(1201)  # silence over; p1 still failing
    harness.tick()
    harness.tick()
    harness.deliver()
    assert _actions(harness.http.requests, "/pd") == ["trigger"]
    assert harness.http.on("/pd")[0].json()["dedup_key"].startswith("p1/")


def test_first_sight_of_a_check_uses_its_recent_records_not_all_history(harness):
    from aimatrix_pipeline.alerts.scan import FIRST_SIGHT_PER_PARTITION

    for i in range(FIRST_SIGHT_PER_PARTITION + 15):  # old flapping history, then currently failing
        harness.report(CACHE_CHECK, "p1", passed=i % 2 == 1 and i < 15)
    tick = harness.tick()
    assert tick["scan"].evaluations == FIRST_SIGHT_PER_PARTITION
    assert harness.store.query("select count(*) from incidents")[0][0] == 1
    harness.deliver()
    assert _actions(harness.http.requests, "/pd") == ["trigger"]


def test_p07_a_run_that_never_finishes_holds_the_check_back_only_for_a_while(harness):
    from dagster._core.definitions.asset_checks.asset_check_evaluation import AssetCheckEvaluationPlanned
    from dagster._core.events import DagsterEvent, DagsterEventType
    from dagster._core.storage.dagster_run import DagsterRun

    from aimatrix_pipeline.alerts.scan import STALE_PLANNED_S

    h = harness
    h.report(OTHER_CHECK, "p1", passed=True)
    h.tick()
    run = DagsterRun(job_name="stuck_job", run_id="stuck-run-0001", status=dg.DagsterRunStatus.STARTED)
    h.instance.add_run(run)
    h.instance.report_dagster_event(
        run_id=run.run_id,
        dagster_event=DagsterEvent(
            DagsterEventType.ASSET_CHECK_EVALUATION_PLANNED.value, job_name="stuck_job",
            event_specific_data=AssetCheckEvaluationPlanned(
                asset_key=OTHER_CHECK.asset_key, check_name=OTHER_CHECK.name,
                partitions_subset=dg.StaticPartitionsDefinition(["p1"]).subset_with_partition_keys(["p1"]))))
    h.report(OTHER_CHECK, "p1", passed=False)  # a later run's result waits behind the stuck one
    tick = h.tick()
    assert tick["scan"].evaluations == 0
    assert tick["scan"].waiting_checks == ["analytics/table_health:someone_elses_check"]
    h.clock.advance(STALE_PLANNED_S + 120)  # the clock started at the real time, before the records
    tick = h.tick()
    assert tick["scan"].evaluations == 2 and tick["scan"].could_not_evaluate == 1
    kinds = {r["kind"]: r["status"] for r in h.store.query("select kind, status from alert_state")}
    # p1's later real evaluation (applied in order, after the stuck one) resolves the
    # could-not-evaluate alert of the same partition
    assert kinds == {"data": "firing", "could_not_evaluate": "resolved"}
    msg = h.store.query("select message from incidents where kind = 'could_not_evaluate'")[0][0]
    assert "still STARTED" in msg


def test_p09_an_alert_firing_before_a_channel_is_enabled_reaches_it_once_marked_as_already_open(harness):
    # webhook and pagerduty are configured; slack is not (its variable is unset)
    slack_url = harness.env.pop("T_SLACK_URL")
    harness.report(CACHE_CHECK, "p1", passed=False)
    harness.tick()
    harness.deliver()
    assert harness.http.on("/slack") == [] and len(harness.http.on("/hook")) == 1
    # slack is configured while the alert is firing: it hears of it once, marked as such
    harness.env["T_SLACK_URL"] = slack_url
    for _ in range(3):
        harness.report(CACHE_CHECK, "p1", passed=False)
        harness.tick()
        harness.clock.advance(61)
        harness.deliver()
    slack = harness.http.on("/slack")
    assert _actions(slack, "/slack") == ["FIRING"]
    assert "already open when this channel was added" in json.dumps(slack[0].json())
    # the channels that had it are not told again
    assert _actions(harness.http.requests, "/hook") == ["firing"]
    assert _actions(harness.http.requests, "/pd") == ["trigger"]
    hook = harness.http.on("/hook")[0].json()["alerts"][0]
    assert hook["already_open"] is False
    # the RESOLVED goes to the new channel too
    harness.report(CACHE_CHECK, "p1", passed=True)
    harness.tick()
    harness.clock.advance(61)
    harness.deliver()
    assert _actions(harness.http.on("/slack"), "/slack") == ["FIRING", "RESOLVED"]
    assert _actions(harness.http.requests, "/hook") == ["firing", "resolved"]


def test_p14_the_scan_reads_every_new_record_across_pages_and_little_when_nothing_is_new(harness, monkeypatch):
    """The history is paged backwards from the newest record; the scan starts with a small page
    and grows it while every record is new. More new records than several pages: all applied,
    once; nothing new: one small page per check (an idle tick stays cheap at fleet size)."""
    from aimatrix_pipeline.alerts import scan

    monkeypatch.setattr(scan, "FIRST_PAGE", 2)
    monkeypatch.setattr(scan, "PAGE", 8)
    limits = []
    real_page = scan._history_page

    def counting_page(instance, key, cursor, limit=scan.PAGE):
        limits.append(limit)
        return real_page(instance, key, cursor, limit)

    monkeypatch.setattr(scan, "_history_page", counting_page)
    h = harness
    h.check_keys = [CACHE_CHECK]
    for i in range(5):
        h.report(CACHE_CHECK, f"p{i}", passed=True)
    assert h.tick()["scan"].evaluations == 5  # first sight
    for i in range(29):  # 29 new records: pages of 2, 8, 8, 8, 8 (the limit grows, capped)
        h.report(CACHE_CHECK, f"p{i % 7}", passed=False)
    limits.clear()
    assert h.tick()["scan"].evaluations == 29
    assert limits == [2, 8, 8, 8, 8]
    firing = {r["fingerprint"] for r in h.outbox(action="firing")}
    assert len(firing) == 7  # every partition fired, each once
    limits.clear()
    assert h.tick()["scan"].evaluations == 0
    assert limits == [2]


def _planned(h, run_id: str, check, partitions: list[str]) -> None:
    from dagster._core.definitions.asset_checks.asset_check_evaluation import AssetCheckEvaluationPlanned
    from dagster._core.events import DagsterEvent, DagsterEventType

    subset = dg.StaticPartitionsDefinition(partitions).subset_with_partition_keys(partitions)
    h.instance.report_dagster_event(run_id=run_id, dagster_event=DagsterEvent(
        DagsterEventType.ASSET_CHECK_EVALUATION_PLANNED.value, job_name="batch_job",
        event_specific_data=AssetCheckEvaluationPlanned(asset_key=check.asset_key, check_name=check.name,
                                                        partitions_subset=subset)))


def _evaluated(h, run_id: str, check, partition: str, passed: bool) -> None:
    from dagster._core.events import DagsterEvent, DagsterEventType

    h.instance.report_dagster_event(run_id=run_id, dagster_event=DagsterEvent(
        DagsterEventType.ASSET_CHECK_EVALUATION.value, job_name="batch_job",
        event_specific_data=dg.AssetCheckEvaluation(asset_key=check.asset_key, check_name=check.name,
                                                    passed=passed, partition=partition,
                                                    severity=dg.AssetCheckSeverity.ERROR,
                                                    metadata={"value": 0.5})))


def test_p14_a_project_still_running_in_a_batch_run_holds_back_only_its_own_partition(harness):
    """A run that carries many projects plans the check for all of them at its start. p1's result
    is alerted on as soon as it is stored, while p2 (slow) is still PLANNED; p2's later records
    wait for it, in order; nothing is applied twice once p2 reports and the cursor moves on."""
    from dagster._core.storage.dagster_run import DagsterRun

    h = harness
    h.check_keys = [CACHE_CHECK]
    for p in ("p1", "p2"):
        h.report(CACHE_CHECK, p, passed=True)
    h.tick()
    h.instance.add_run(DagsterRun(job_name="batch_job", run_id="batch-run-0001", status=dg.DagsterRunStatus.STARTED))
    _planned(h, "batch-run-0001", CACHE_CHECK, ["p1", "p2"])
    _evaluated(h, "batch-run-0001", CACHE_CHECK, "p1", passed=False)
    tick = h.tick()
    assert tick["scan"].evaluations == 1 and tick["scan"].waiting_checks == ["analytics/database_health:cache_hit_ratio_low"]
    assert {r["project"] for r in h.store.query("select project from alert_state where status = 'firing'")} == {"p1"}
    h.report(CACHE_CHECK, "p1", passed=True)  # the next run: p1 recovered
    h.report(CACHE_CHECK, "p2", passed=True)  # the next run's p2 result waits behind the batch's p2
    tick = h.tick()
    assert tick["scan"].evaluations == 1
    assert h.store.query("select status from alert_state where project = 'p1'")[0][0] != "firing"
    assert h.store.query("select status from alert_state where project = 'p2'")[0][0] != "firing"
    _evaluated(h, "batch-run-0001", CACHE_CHECK, "p2", passed=False)  # p2 finally reports: failing
    tick = h.tick()
    assert tick["scan"].evaluations == 2 and tick["scan"].waiting_checks == []  # p2's two, in order
    assert h.tick()["scan"].evaluations == 0
    fired = [(r["project"], r["action"]) for r in h.store.query(
        "select json_extract(payload, '$.project') project, action from outbox where channel = 'pagerduty' "
        "order by rowid")]
    # p1 fired and resolved once; p2 fired (its failing result) then resolved (the later pass)
    assert fired == [("p1", "firing"), ("p1", "resolved"), ("p2", "firing"), ("p2", "resolved")]
    assert h.store.query("select count(*) from check_applied_ahead")[0][0] == 0
