"""Hostile values in every field of every YAML configuration file.

Files: the projects file (AIMATRIX_PROJECTS_FILE), the alert rules (AIMATRIX_ALERT_RULES), the price
book (sql/seed/price_book.yaml and AIMATRIX_PRICE_BOOK_OVERRIDES) and the analytics thresholds
(AIMATRIX_ANALYTICS_THRESHOLDS). Expected outcome for every row of the tables below: a
`ConfigError` whose one-line message names the file and the field, never a traceback from inside
a loader (TypeError, AttributeError, ...) and never a silently accepted value. A few rows run
through the `aimatrix-pipeline` command (exit 2, one line on stderr: the projects file's row and
the good files as a real process, the others through its main() in this process) and through
`dagster definitions validate` (the code location refuses to load and says why).
"""

from __future__ import annotations

import copy
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from aimatrix_pipeline.cost.price_book import read_entries
from aimatrix_pipeline.settings import ConfigError, parse_projects_file
from aimatrix_pipeline.shared.rules import load_rules
from aimatrix_pipeline.shared.thresholds import load_thresholds

ROOT = Path(__file__).resolve().parents[2]
NAN, INF = math.nan, math.inf

PROJECTS = {
    "organizations": [{"slug": "acme", "plan": "team", "monthly_budget_usd": 200}],
    "projects": [{"name": "prod", "organization": "acme", "db_url_env": "PROD_DB_URL", "ref": "abcdefghijklmnopqrst",
                  "compute_size": "small", "monthly_budget_usd": 120, "max_connections": 4,
                  "metrics_url": "https://abc.supabase.co/customer/v1/privileged/metrics",
                  "service_role_key_env": "PROD_SERVICE_KEY", "apply_db_url_env": "PROD_APPLY_URL"}],
}
RULES = {
    "settings": {"fire_after": 1, "suppression_window": "5m", "repeat_interval": "4h", "group_interval": "5m",
                 "group_by": ["project"], "default_channels": ["slack"], "default_severity": "high",
                 "give_up_after": "24h", "backoff_base": "5s", "backoff_cap": "5m", "timeout": "10s"},
    "channels": [
        {"name": "slack", "type": "slack", "webhook_url_env": "SLACK_URL", "rate_per_second": 1,
         "send_resolved": True},
        {"name": "email", "type": "email", "host_env": "SMTP_HOST", "port": 587, "from": "alerts@example.test",
         "to": ["oncall@example.test"]},
    ],
    "rules": [{"id": "cache_hit_ratio_low", "title": "Low cache hit ratio", "message": "{value} on {project}",
               "metric": "cache_hit_ratio", "operator": "<", "threshold": 0.99, "severity": "medium",
               "channels": ["slack", "email"], "suppression_window": "10m", "fire_after": 2,
               "description": "why"},
              {"id": "budget", "title": "Budget", "message": "over", "severity": "high",
               "check": "cost/monthly_cost_report:monthly_budget_not_exceeded", "channels": ["email"]}],
}
PRICES = {
    "currency": "USD",
    "entries": [{"line_item": "egress_gb", "plan": "pro", "organization": "*", "effective_from": "2025-01-01",
                 "unit": "GB", "price_usd": 0.09, "per_quantity": 1, "rounding": "none", "included": 250,
                 "included_basis": "cycle", "quota_scope": "organization", "kind": "usage", "notes": "public"}],
}
THRESHOLDS = {"slow_query_ms": 500, "summary_min_calls": 3, "cache_hit_ratio_min": 0.9, "regression_mean_growth": 1.5}

FILES = {"projects": ("projects.yaml", PROJECTS), "rules": ("alert_rules.yaml", RULES),
         "prices": ("price_overrides.yaml", PRICES), "thresholds": ("thresholds.yaml", THRESHOLDS)}


def load(kind: str, path: Path):
    if kind == "projects":
        return parse_projects_file(path)
    if kind == "rules":
        return load_rules(path)
    if kind == "prices":
        return read_entries(path)
    return load_thresholds(env={"AIMATRIX_ANALYTICS_THRESHOLDS": str(path)})


def mutated(doc: dict, keys: tuple, value) -> dict:
    doc = copy.deepcopy(doc)
    target = doc
    for k in keys[:-1]:
        target = target[k]
    target[keys[-1]] = value
    return doc


BIG = 10**23
DICT = {"a": 1}
# (file, path to the field, hostile value, text the error must contain besides the file name)
CASES = [
    # projects file
    ("projects", ("organizations",), 5, "'organizations'"),
    ("projects", ("organizations",), DICT, "'organizations'"),
    ("projects", ("organizations", 0), "acme", "organizations[0]"),
    ("projects", ("organizations", 0, "slug"), DICT, "'slug'"),
    ("projects", ("organizations", 0, "slug"), "bad slug\n--", "'slug'"),
    ("projects", ("organizations", 0, "plan"), DICT, "'plan'"),
    ("projects", ("organizations", 0, "plan"), "gold", "'plan'"),
    ("projects", ("organizations", 0, "monthly_budget_usd"), NAN, "'monthly_budget_usd'"),
    ("projects", ("organizations", 0, "monthly_budget_usd"), INF, "'monthly_budget_usd'"),
    ("projects", ("organizations", 0, "monthly_budget_usd"), "lots", "'monthly_budget_usd'"),
    ("projects", ("organizations", 0, "monthly_budget_usd"), -5, "'monthly_budget_usd'"),
    ("projects", ("organizations", 0, "monthly_budget_usd"), 1e23, "'monthly_budget_usd'"),
    ("projects", ("projects",), 5, "'projects'"),
    ("projects", ("projects",), "prod", "'projects'"),
    ("projects", ("projects", 0), ["prod"], "projects[0]"),
    ("projects", ("projects", 0, "name"), DICT, "'name'"),
    ("projects", ("projects", 0, "name"), ["a"], "'name'"),
    ("projects", ("projects", 0, "name"), "a'; drop table x; --", "'name'"),
    ("projects", ("projects", 0, "name"), "x" * 100_000, "'name'"),
    ("projects", ("projects", 0, "organization"), DICT, "'organization'"),
    ("projects", ("projects", 0, "db_url_env"), DICT, "'db_url_env'"),
    ("projects", ("projects", 0, "db_url_env"), "postgresql://u:secret@h/db", "'db_url_env'"),
    ("projects", ("projects", 0, "db_url_env"), "PROD DB URL", "'db_url_env'"),
    ("projects", ("projects", 0, "ref"), DICT, "'ref'"),
    ("projects", ("projects", 0, "ref"), "../../etc", "'ref'"),
    ("projects", ("projects", 0, "compute_size"), DICT, "'compute_size'"),
    ("projects", ("projects", 0, "compute_size"), "small; drop", "'compute_size'"),
    ("projects", ("projects", 0, "monthly_budget_usd"), NAN, "'monthly_budget_usd'"),
    ("projects", ("projects", 0, "monthly_budget_usd"), DICT, "'monthly_budget_usd'"),
    ("projects", ("projects", 0, "max_connections"), "lots", "'max_connections'"),
    ("projects", ("projects", 0, "max_connections"), 5_000_000, "'max_connections'"),
    ("projects", ("projects", 0, "max_connections"), 0, "'max_connections'"),
    ("projects", ("projects", 0, "max_connections"), -1, "'max_connections'"),
    ("projects", ("projects", 0, "max_connections"), 1.5, "'max_connections'"),
    ("projects", ("projects", 0, "max_connections"), NAN, "'max_connections'"),
    ("projects", ("projects", 0, "max_connections"), INF, "'max_connections'"),
    ("projects", ("projects", 0, "max_connections"), True, "'max_connections'"),
    ("projects", ("projects", 0, "max_connections"), DICT, "'max_connections'"),
    ("projects", ("projects", 0, "metrics_url"), DICT, "'metrics_url'"),
    ("projects", ("projects", 0, "metrics_url"), "file:///etc/passwd", "'metrics_url'"),
    ("projects", ("projects", 0, "service_role_key_env"), "eyJhbGciOi.secret", "'service_role_key_env'"),
    ("projects", ("projects", 0, "apply_db_url_env"), DICT, "'apply_db_url_env'"),
    # alert rules
    ("rules", ("settings",), 5, "'settings'"),
    ("rules", ("settings", "timout"), "10s", "'timout'"),
    ("rules", ("settings", "timeout"), INF, "'timeout'"),
    ("rules", ("settings", "timeout"), NAN, "'timeout'"),
    ("rules", ("settings", "timeout"), 0, "'timeout'"),
    ("rules", ("settings", "timeout"), 601, "'timeout'"),
    ("rules", ("settings", "timeout"), "lots", "'timeout'"),
    ("rules", ("settings", "timeout"), DICT, "'timeout'"),
    ("rules", ("settings", "repeat_interval"), "99999999d", "'repeat_interval'"),
    ("rules", ("settings", "group_interval"), -1, "'group_interval'"),
    ("rules", ("settings", "give_up_after"), NAN, "'give_up_after'"),
    ("rules", ("settings", "backoff_base"), 0, "'backoff_base'"),
    ("rules", ("settings", "backoff_cap"), "1s", "'backoff_cap'"),  # below backoff_base
    ("rules", ("settings", "suppression_window"), INF, "settings field 'suppression_window'"),
    ("rules", ("settings", "fire_after"), 1e23, "settings field 'fire_after'"),
    ("rules", ("settings", "fire_after"), 0, "settings field 'fire_after'"),
    ("rules", ("settings", "group_by"), 5, "'group_by'"),
    ("rules", ("settings", "group_by"), [DICT], "'group_by'"),
    ("rules", ("settings", "group_by"), ["region"], "'group_by'"),
    ("rules", ("settings", "default_channels"), [DICT], "'default_channels'"),
    ("rules", ("settings", "default_channels"), ["teams"], "'default_channels'"),
    ("rules", ("settings", "default_severity"), DICT, "'default_severity'"),
    ("rules", ("channels",), 5, "'channels'"),
    ("rules", ("channels",), DICT, "'channels'"),
    ("rules", ("channels", 0), "slack", "channels[0]"),
    ("rules", ("channels", 0, "name"), DICT, "'name'"),
    ("rules", ("channels", 0, "type"), DICT, "'type'"),
    ("rules", ("channels", 0, "type"), "teams", "'type'"),
    ("rules", ("channels", 0, "webhook_url_env"), DICT, "'webhook_url_env'"),
    ("rules", ("channels", 0, "webhook_url_env"), "https://hooks.slack.com/services/T/B/secret", "'webhook_url_env'"),
    ("rules", ("channels", 0, "rate_per_second"), NAN, "'rate_per_second'"),
    ("rules", ("channels", 0, "rate_per_second"), INF, "'rate_per_second'"),
    ("rules", ("channels", 0, "rate_per_second"), 0, "'rate_per_second'"),
    ("rules", ("channels", 0, "rate_per_second"), "fast", "'rate_per_second'"),
    ("rules", ("channels", 0, "send_resolved"), "no", "'send_resolved'"),
    ("rules", ("channels", 1, "port"), "smtp", "'port'"),
    ("rules", ("channels", 1, "port"), 0, "'port'"),
    ("rules", ("channels", 1, "port"), 70000, "'port'"),
    ("rules", ("channels", 1, "port"), NAN, "'port'"),
    ("rules", ("channels", 1, "port"), DICT, "'port'"),
    ("rules", ("channels", 1, "to"), 5, "'to'"),
    ("rules", ("channels", 1, "to"), [DICT], "'to'"),
    ("rules", ("channels", 1, "to"), ["a@b.test\nBcc: all@corp.test"], "'to'"),
    ("rules", ("channels", 1, "from"), DICT, "'from'"),
    ("rules", ("rules",), 5, "'rules'"),
    ("rules", ("rules",), DICT, "'rules'"),
    ("rules", ("rules", 0), "cache_hit_ratio_low", "rules[0]"),
    ("rules", ("rules", 0, "id"), DICT, "'id'"),
    ("rules", ("rules", 0, "title"), DICT, "'title'"),
    ("rules", ("rules", 0, "message"), ["x"], "'message'"),
    ("rules", ("rules", 0, "message"), "x" * 100_000, "'message'"),
    ("rules", ("rules", 0, "severity"), DICT, "'severity'"),
    ("rules", ("rules", 0, "channels"), [DICT], "'channels'"),
    ("rules", ("rules", 0, "channels"), DICT, "'channels'"),
    ("rules", ("rules", 0, "channels"), 5, "'channels'"),
    ("rules", ("rules", 0, "metric"), DICT, "'metric'"),
    ("rules", ("rules", 0, "metric"), ["cache_hit_ratio"], "'metric'"),
    ("rules", ("rules", 0, "operator"), DICT, "'operator'"),
    ("rules", ("rules", 0, "operator"), "=~", "'operator'"),
    ("rules", ("rules", 0, "threshold"), NAN, "'threshold'"),
    ("rules", ("rules", 0, "threshold"), INF, "'threshold'"),
    ("rules", ("rules", 0, "threshold"), "lots", "'threshold'"),
    ("rules", ("rules", 0, "threshold"), DICT, "'threshold'"),
    ("rules", ("rules", 1, "check"), DICT, "'check'"),
    ("rules", ("rules", 1, "check"), "no colon", "'check'"),
    ("rules", ("rules", 0, "suppression_window"), INF, "'suppression_window'"),
    ("rules", ("rules", 0, "suppression_window"), DICT, "'suppression_window'"),
    ("rules", ("rules", 0, "fire_after"), 1e23, "'fire_after'"),
    ("rules", ("rules", 0, "fire_after"), BIG, "'fire_after'"),
    ("rules", ("rules", 0, "fire_after"), "lots", "'fire_after'"),
    ("rules", ("rules", 0, "fire_after"), True, "'fire_after'"),
    ("rules", ("rules", 0, "description"), DICT, "'description'"),
    # price book
    ("prices", ("entries",), 5, "'entries'"),
    ("prices", ("entries",), DICT, "'entries'"),
    ("prices", ("currency",), "EUR", "USD"),
    ("prices", ("entries", 0), "egress_gb", "entries[0]"),
    ("prices", ("entries", 0, "line_item"), DICT, "'line_item'"),
    ("prices", ("entries", 0, "plan"), DICT, "'plan'"),
    ("prices", ("entries", 0, "plan"), "gold", "'plan'"),
    ("prices", ("entries", 0, "organization"), DICT, "'organization'"),
    ("prices", ("entries", 0, "effective_from"), DICT, "'effective_from'"),
    ("prices", ("entries", 0, "effective_from"), "soon", "'effective_from'"),
    ("prices", ("entries", 0, "effective_from"), 20250101, "'effective_from'"),
    ("prices", ("entries", 0, "unit"), DICT, "'unit'"),
    ("prices", ("entries", 0, "price_usd"), NAN, "'price_usd'"),
    ("prices", ("entries", 0, "price_usd"), INF, "'price_usd'"),
    ("prices", ("entries", 0, "price_usd"), -1, "'price_usd'"),
    ("prices", ("entries", 0, "price_usd"), 1e23, "'price_usd'"),
    ("prices", ("entries", 0, "price_usd"), "cheap", "'price_usd'"),
    ("prices", ("entries", 0, "price_usd"), DICT, "'price_usd'"),
    ("prices", ("entries", 0, "per_quantity"), 0, "'per_quantity'"),
    ("prices", ("entries", 0, "per_quantity"), NAN, "'per_quantity'"),
    ("prices", ("entries", 0, "included"), INF, "'included'"),
    ("prices", ("entries", 0, "included"), -1, "'included'"),
    ("prices", ("entries", 0, "rounding"), DICT, "'rounding'"),
    ("prices", ("entries", 0, "included_basis"), "month", "'included_basis'"),
    ("prices", ("entries", 0, "quota_scope"), ["project"], "'quota_scope'"),
    ("prices", ("entries", 0, "kind"), "refund", "'kind'"),
    ("prices", ("entries", 0, "notes"), DICT, "'notes'"),
    # analytics thresholds
    ("thresholds", ("slow_query_ms",), NAN, "slow_query_ms"),
    ("thresholds", ("slow_query_ms",), INF, "slow_query_ms"),
    ("thresholds", ("slow_query_ms",), -1, "slow_query_ms"),
    ("thresholds", ("slow_query_ms",), "lots", "slow_query_ms"),
    ("thresholds", ("slow_query_ms",), DICT, "slow_query_ms"),
    ("thresholds", ("summary_min_calls",), 1.5, "summary_min_calls"),
    ("thresholds", ("summary_min_calls",), BIG, "summary_min_calls"),
    ("thresholds", ("summary_min_calls",), True, "summary_min_calls"),
    ("thresholds", ("cache_hit_ratio_min",), 1.5, "cache_hit_ratio_min"),
    ("thresholds", ("cache_hit_ratio_min",), NAN, "cache_hit_ratio_min"),
    ("thresholds", ("regression_mean_growth",), 0, "regression_mean_growth"),
    ("thresholds", ("slow_querry_ms",), 1, "'slow_querry_ms'"),
]


def _id(case) -> str:
    kind, keys, value, _ = case
    text = repr(value)
    return f"{kind}:{'.'.join(map(str, keys))}={text[:20]}"


@pytest.mark.parametrize("kind", sorted(FILES))
def test_base_documents_load(tmp_path, kind):
    """The control: without the hostile value each file loads, so each failure below is that value's."""
    name, doc = FILES[kind]
    path = tmp_path / name
    path.write_text(yaml.safe_dump(doc))
    assert load(kind, path)


@pytest.mark.parametrize("case", CASES, ids=[_id(c) for c in CASES])
def test_hostile_field_value_is_a_config_error_naming_file_and_field(tmp_path, case):
    kind, keys, value, field = case
    name, doc = FILES[kind]
    path = tmp_path / name
    path.write_text(yaml.safe_dump(mutated(doc, keys, value), allow_unicode=True))
    with pytest.raises(ConfigError) as err:
        load(kind, path)
    message = str(err.value)
    assert name in message and field in message, message
    assert "\n" not in message and len(message) < 1000, message  # one line, bad values shortened


WHOLE_FILE = [  # raw bytes of the whole file -> text the error must contain
    (b"- just\n- a list\n", "expected a mapping"),
    (b"42\n", "expected a mapping"),
    (b"projects: [\n", "not valid YAML"),
    (b"\xff\xfe\x00p\x00r\x00", "not UTF-8"),
    (b"a: " + b"[" * 700 + b"]" * 700 + b"\n", "nested too deeply"),
    (b"a: !!python/object/apply:os.system ['true']\n", "not valid YAML"),
]


@pytest.mark.parametrize("kind", sorted(FILES))
@pytest.mark.parametrize("raw, expected", WHOLE_FILE, ids=["list", "scalar", "truncated", "utf16", "deep", "python-tag"])
def test_hostile_whole_file_is_a_config_error_naming_the_file(tmp_path, kind, raw, expected):
    name, _ = FILES[kind]
    path = tmp_path / name
    path.write_bytes(raw)
    with pytest.raises(ConfigError) as err:
        load(kind, path)
    assert name in str(err.value)
    if kind != "thresholds" or expected != "expected a mapping":  # thresholds word it their own way
        assert expected in str(err.value), str(err.value)


@pytest.mark.parametrize("kind", sorted(FILES))
def test_missing_file_or_a_directory_is_a_config_error(tmp_path, kind):
    name, _ = FILES[kind]
    with pytest.raises(ConfigError):
        load(kind, tmp_path / "absent" / name)
    (tmp_path / name).mkdir()
    with pytest.raises(ConfigError, match=name):
        load(kind, tmp_path / name)


def _cli(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    full = {k: v for k, v in os.environ.items()
            if not k.startswith(("AIMATRIX_", "SUPABASE_"))}
    full.update(env, AIMATRIX_WAREHOUSE=str(cwd / "warehouse.duckdb"))
    return subprocess.run([sys.executable, "-m", "aimatrix_pipeline.cli", *args], env=full, cwd=cwd,
                          capture_output=True, text=True, timeout=120)


def _cli_in_process(args: list[str], env: dict[str, str], cwd: Path, monkeypatch, capsys) -> subprocess.CompletedProcess:
    """The same command through its main() in this process: same environment, same working directory."""
    from aimatrix_pipeline.cli import main

    for name in [k for k in os.environ if k.startswith(("AIMATRIX_", "SUPABASE_"))]:
        monkeypatch.delenv(name)
    for name, value in {**env, "AIMATRIX_WAREHOUSE": str(cwd / "warehouse.duckdb")}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(cwd)
    capsys.readouterr()
    status = main(args)
    out = capsys.readouterr()
    return subprocess.CompletedProcess(args, status, out.out, out.err)


CLI_CASES = [  # (file, field path, value, variable naming the file, command, text the message must hold)
    ("projects", ("projects", 0, "max_connections"), "lots", "AIMATRIX_PROJECTS_FILE", ["config", "check"],
     "'max_connections' must be a whole number, got 'lots'"),
    ("rules", ("settings", "timeout"), INF, "AIMATRIX_ALERT_RULES", ["alerts", "rules"],
     "settings field 'timeout'"),
    ("rules", ("rules", 0, "channels"), [DICT], "AIMATRIX_ALERT_RULES", ["config", "check"], "'channels'"),
    ("prices", ("entries", 0, "price_usd"), NAN, "AIMATRIX_PRICE_BOOK_OVERRIDES", ["config", "check"],
     "'price_usd' must be a finite number"),
    ("thresholds", ("cache_hit_ratio_min",), "</script>\n\x1b[31mred", "AIMATRIX_ANALYTICS_THRESHOLDS",
     ["config", "check"], "cache_hit_ratio_min must be a number"),
]


@pytest.mark.parametrize("case", CLI_CASES, ids=[c[0] for c in CLI_CASES])
def test_cli_exits_2_with_one_line_naming_file_and_field(tmp_path, monkeypatch, capsys, case):
    kind, keys, value, variable, command, expected = case
    name, doc = FILES[kind]
    path = tmp_path / name
    path.write_text(yaml.safe_dump(mutated(doc, keys, value)))
    env = {variable: str(path)}
    if kind != "projects":
        good = tmp_path / "projects.yaml"
        good.write_text(yaml.safe_dump(PROJECTS))
        env["AIMATRIX_PROJECTS_FILE"] = str(good)
    # the projects file's row runs the real command in its own process; the others its main()
    proc = _cli(command, env, tmp_path) if kind == "projects" else _cli_in_process(command, env, tmp_path,
                                                                                   monkeypatch, capsys)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert lines[0].startswith("configuration error: ") and str(path) in lines[0] and expected in lines[0], lines
    assert "\x1b" not in proc.stderr  # the bad value is quoted with repr, escape codes never reach the terminal


def test_cli_config_check_accepts_good_files(tmp_path):
    env = {}
    for kind, variable in (("projects", "AIMATRIX_PROJECTS_FILE"), ("rules", "AIMATRIX_ALERT_RULES"),
                           ("prices", "AIMATRIX_PRICE_BOOK_OVERRIDES"), ("thresholds", "AIMATRIX_ANALYTICS_THRESHOLDS")):
        name, doc = FILES[kind]
        (tmp_path / name).write_text(yaml.safe_dump(doc))
        env[variable] = str(tmp_path / name)
    proc = _cli(["config", "check"], env, tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("configuration ok: 1 projects, 2 rules, 2 channels,"), proc.stdout


def test_code_location_refuses_to_load_with_a_bad_projects_file(tmp_path):
    bad = tmp_path / "projects.yaml"
    bad.write_text(yaml.safe_dump(mutated(PROJECTS, ("projects", 0, "max_connections"), 5_000_000)))
    home = tmp_path / "dagster_home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIMATRIX_", "SUPABASE_"))}
    env.update(AIMATRIX_PROJECTS_FILE=str(bad), DAGSTER_HOME=str(home),
               AIMATRIX_WAREHOUSE=str(tmp_path / "warehouse.duckdb"))
    dagster = Path(sys.executable).with_name("dagster")
    proc = subprocess.run([str(dagster), "definitions", "validate", "-w", str(ROOT / "workspace.yaml")],
                          env=env, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode != 0
    out = proc.stdout + proc.stderr
    assert f"{bad}: projects[0]: 'max_connections' must be between 1 and 100, got 5000000" in out, out[-3000:]
    assert not list(tmp_path.rglob("*.slot"))  # nothing was opened before the check
