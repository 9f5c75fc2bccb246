"""`aimatrix-pipeline alerts ...`: resolve by id with who and notes, silence a rule, list, rules."""

from __future__ import annotations

import json
import time

import pytest

from aimatrix_pipeline.alerts.state import AlertStateMachine, AlertStore, Evaluation
from aimatrix_pipeline.cli import main
from aimatrix_pipeline.shared.rules import parse_rules

from .conftest import RULES_YAML, make_env


@pytest.fixture
def cli_env(tmp_path, monkeypatch, http, warehouse):
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES_YAML)
    state = tmp_path / "alerts_outbox.sqlite"
    for k, v in {**make_env(http), "AIMATRIX_ALERT_RULES": str(rules), "AIMATRIX_ALERT_STATE": str(state),
                 "AIMATRIX_WAREHOUSE": warehouse.path}.items():
        monkeypatch.setenv(k, v)
    store = AlertStore(state)
    machine = AlertStateMachine(store, parse_rules(RULES_YAML))
    machine.apply(Evaluation("analytics/database_health:cache_hit_ratio_low", "p1", "p1", "fail", time.time(),
                             metrics={"value": 0.5}))
    alert_id = store.query("select id from incidents")[0][0]
    yield store, alert_id, tmp_path
    store.close()


def test_resolve_by_id_records_who_and_notes_and_tells_the_channels(cli_env, capsys, warehouse):
    store, alert_id, _ = cli_env
    assert main(["alerts", "resolve", alert_id, "--by", "ana", "--notes", "added an index"]) == 0
    inc = store.query("select status, resolved_by, resolve_notes from incidents where id = ?", (alert_id,))[0]
    assert tuple(inc) == ("resolved", "ana", "added an index")
    resolved = store.query("select channel from outbox where action = 'resolved' order by channel")
    assert [r[0] for r in resolved] == ["pagerduty", "slack", "webhook"]
    with warehouse.reader() as conn:
        row = conn.execute("select status, resolved_by, resolve_notes, resolved_at is not null "
                           "from alerts.alert_events where id = ?", [alert_id]).fetchone()
    assert row == ("resolved", "ana", "added an index", True)
    # resolving again changes nothing and sends nothing more
    assert main(["alerts", "resolve", alert_id, "--by", "bob"]) == 0
    assert store.query("select count(*) from outbox where action = 'resolved'")[0][0] == 3
    assert main(["alerts", "resolve", "al_nope", "--by", "ana"]) == 2


def test_silence_a_rule_until_a_time(cli_env, capsys):
    store, _, _ = cli_env
    assert main(["alerts", "silence", "cache_hit_ratio_low", "--for", "2h", "--by", "ana",
                 "--reason", "maintenance"]) == 0
    row = store.query("select rule_id, ends_at, created_by, reason from silences")[0]
    assert row["rule_id"] == "cache_hit_ratio_low" and row["created_by"] == "ana"
    assert abs(row["ends_at"] - (time.time() + 7200)) < 60
    assert main(["alerts", "silence", "no_such_rule", "--for", "1h"]) == 2
    assert main(["alerts", "silence", "cache_hit_ratio_low", "--until", "2001-01-01T00:00Z"]) == 2


def test_list_shows_open_alerts_as_json(cli_env, capsys):
    _, alert_id, _ = cli_env
    capsys.readouterr()
    assert main(["alerts", "list", "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(r["id"], r["status"], r["rule_id"]) for r in rows] == [(alert_id, "firing", "cache_hit_ratio_low")]


def test_rules_command_validates_the_file(cli_env, capsys, monkeypatch):
    _, _, tmp = cli_env
    assert main(["alerts", "rules"]) == 0
    assert "channel slack (slack): enabled" in capsys.readouterr().err
    bad = tmp / "bad.yaml"
    bad.write_text(RULES_YAML.replace("severity: high", "severity: huge", 1))
    monkeypatch.setenv("AIMATRIX_ALERT_RULES", str(bad))
    assert main(["alerts", "rules"]) == 2
    assert "'severity'" in capsys.readouterr().err


def test_rules_command_hint_names_only_the_variables_a_channel_needs(cli_env, capsys, monkeypatch):
    for name in ("T_SMTP_HOST", "T_SMTP_CA", "T_HOOK_URL", "T_HOOK_SECRET", "T_HOOK_SECRET_OLD"):
        monkeypatch.delenv(name, raising=False)
    assert main(["alerts", "rules"]) == 0
    err = capsys.readouterr().err
    email = next(line for line in err.splitlines() if line.startswith("channel email"))
    assert email == "channel email (email): disabled (set T_SMTP_HOST); optional: T_SMTP_CA"
    hook = next(line for line in err.splitlines() if line.startswith("channel webhook"))
    assert hook == ("channel webhook (webhook): disabled (set T_HOOK_URL, T_HOOK_SECRET); "
                    "optional: T_HOOK_SECRET_OLD")
