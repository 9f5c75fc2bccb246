"""One place for settings: the environment is read by aimatrix_pipeline/settings.py only, every
variable the package names is in the generated reference (docs/reference/settings.md), the code
receives the settings as a resource built when a run starts, and schedule names do not depend on
their cron expressions."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from aimatrix_pipeline import settings as settings_module
from aimatrix_pipeline.config_commands import check_all
from aimatrix_pipeline.resources.settings_resource import SettingsResource
from aimatrix_pipeline.settings import (
    DEFAULT_WAREHOUSE,
    REFERENCE_PAGE,
    THRESHOLD_ENV_PREFIX,
    VARIABLES,
    ConfigError,
    current_settings,
    load_settings,
    reference_markdown,
)

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "aimatrix_pipeline"

# Modules that may touch os.environ, and why (none of them reads a setting).
ENVIRONMENT_EXCEPTIONS = {
    "settings.py": "the one reader of settings",
    "instance_storage.py": "Dagster's storage URL, a secret named in dagster.yaml, read when Dagster loads it",
    "resources/ducklake_warehouse.py": "AWS credentials (secrets) handed to DuckDB when connecting",
    "watch/runner.py": "builds the environment of the Dagster processes it starts (DAGSTER_HOME, storage)",
    "demo/runner.py": "points itself and the processes it starts at the demo database",
    "demo/local_postgres.py": "the environment of the PostgreSQL binaries it runs",
    "docs_reference/__main__.py": "clears the shell's variables so the generated pages show the defaults",
    "resources/warehouse.py": "DAGSTER_HOME, the instance folder `sql --allow-files` may never write into",
}
_ENV_READ = re.compile(r"\bos\.environ\b|\bgetenv\(|\bos\.getenv\b")
_VARIABLE = re.compile(r"\b(?:AIMATRIX|SUPABASE)_[A-Z0-9_]*[A-Z0-9]\b")
# Names the package mentions that are not variables of their own: prefixes of families in the
# reference, and the variable the demo sets for itself.
NOT_VARIABLES = {"AIMATRIX_ANALYTICS", "AIMATRIX_RETENTION", "AIMATRIX_DEMO_SERVICE_ROLE_KEY"}


def _sources():
    for path in sorted(PACKAGE.rglob("*.py")):
        yield path.relative_to(PACKAGE).as_posix(), path.read_text()


def test_reference_page_is_generated_from_the_settings_module():
    page = ROOT / REFERENCE_PAGE
    assert page.exists(), f"{REFERENCE_PAGE} is missing: aimatrix-pipeline config reference > {REFERENCE_PAGE}"
    assert page.read_text() == reference_markdown(), (
        f"{REFERENCE_PAGE} is out of date: aimatrix-pipeline config reference > {REFERENCE_PAGE}")


def test_only_the_settings_module_reads_the_environment():
    readers = {name for name, text in _sources() if _ENV_READ.search(text)}
    assert readers - set(ENVIRONMENT_EXCEPTIONS) == set(), "read settings through aimatrix_pipeline.settings"
    assert "settings.py" in readers  # the check finds readers at all


def test_every_variable_the_package_names_is_in_the_reference():
    documented = {name.strip() for v in VARIABLES for name in v.name.split(",")}
    from aimatrix_pipeline.shared.thresholds import Thresholds

    documented |= {THRESHOLD_ENV_PREFIX + f.upper() for f in Thresholds.__dataclass_fields__}
    documented |= {"AIMATRIX_ANALYTICS_THRESHOLDS"}
    rules = (ROOT / "alert_rules.yaml").read_text()  # channel credentials: named in the rules file
    named = {m for _, text in _sources() for m in _VARIABLE.findall(text)}
    missing = {n for n in named - documented - NOT_VARIABLES if n not in rules and not n.endswith("_")}
    assert missing == set(), f"add these to settings.VARIABLES: {sorted(missing)}"
    page = (ROOT / REFERENCE_PAGE).read_text()
    assert all(f"`{n}`" in page for n in documented)


def test_the_warehouse_default_is_computed_in_one_place():
    holders = {name for name, text in _sources() if '"warehouse.duckdb"' in text or "data/warehouse" in text}
    assert holders <= {"settings.py", "cli.py"}  # cli.py: the help text quoting the default
    assert load_settings({}).warehouse_path == DEFAULT_WAREHOUSE
    from aimatrix_pipeline.resources.ducklake_warehouse import warehouse_for

    assert warehouse_for(settings=load_settings({})).path == DEFAULT_WAREHOUSE


def test_current_settings_is_built_once_per_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("AIMATRIX_WAREHOUSE", str(tmp_path / "a.duckdb"))
    first = current_settings()
    assert current_settings() is first and first.warehouse_path == str(tmp_path / "a.duckdb")
    monkeypatch.setenv("AIMATRIX_WAREHOUSE", str(tmp_path / "b.duckdb"))
    assert current_settings().warehouse_path == str(tmp_path / "b.duckdb")
    monkeypatch.setenv("AIMATRIX_STATS_CRON", "every minute")
    with pytest.raises(ConfigError, match="AIMATRIX_STATS_CRON must be a cron expression"):
        current_settings()


def test_assets_receive_the_settings_built_when_the_run_starts(monkeypatch, tmp_path):
    @dg.asset
    def probe(settings: SettingsResource) -> dict:
        current = settings.get()
        return {"warehouse": current.warehouse_path, "slow": current.thresholds.slow_query_ms,
                "retention": current.retention.full_days}

    def run(resource) -> dict:
        result = dg.materialize([probe], resources={"settings": resource})
        return result.output_for_node("probe")

    monkeypatch.setenv("AIMATRIX_WAREHOUSE", str(tmp_path / "w.duckdb"))
    monkeypatch.setenv("AIMATRIX_ANALYTICS_SLOW_QUERY_MS", "250")
    resource = SettingsResource()
    assert run(resource) == {"warehouse": str(tmp_path / "w.duckdb"), "slow": 250.0, "retention": None}
    # the same resource object, the next run: the edited environment applies without a reload
    monkeypatch.setenv("AIMATRIX_ANALYTICS_SLOW_QUERY_MS", "750")
    monkeypatch.setenv("AIMATRIX_RETENTION_FULL_DAYS", "3")
    assert run(resource) == {"warehouse": str(tmp_path / "w.duckdb"), "slow": 750.0, "retention": 3}
    # settings handed in explicitly, whatever the process environment says
    explicit = SettingsResource(environment={"AIMATRIX_WAREHOUSE": "elsewhere.duckdb"})
    assert run(explicit)["warehouse"] == "elsewhere.duckdb"
    monkeypatch.setenv("AIMATRIX_ANALYTICS_SLOW_QUERY_MS", "nan")
    result = dg.materialize([probe], resources={"settings": SettingsResource()}, raise_on_error=False)
    assert not result.success


def test_the_code_location_binds_the_settings_resource():
    from aimatrix_pipeline.definitions import defs

    assert isinstance(defs.resources["settings"], SettingsResource)
    assert "settings" in defs.get_repository_def().get_top_level_resources()


def test_config_check_covers_thresholds_file_and_variables(tmp_path):
    base = {"AIMATRIX_WAREHOUSE": str(tmp_path / "w.duckdb")}
    assert check_all(base)["projects"] == 1
    with pytest.raises(ConfigError, match="AIMATRIX_ANALYTICS_SLOW_QUERY_MSS names no threshold"):
        check_all({**base, "AIMATRIX_ANALYTICS_SLOW_QUERY_MSS": "10"})
    bad = tmp_path / "thresholds.yaml"
    bad.write_text("cache_hit_ratio_min: 2\n")
    with pytest.raises(ConfigError, match="cache_hit_ratio_min must be between 0 and 1"):
        check_all({**base, "AIMATRIX_ANALYTICS_THRESHOLDS": str(bad)})
    with pytest.raises(ConfigError, match="AIMATRIX_ALERT_SENSOR_INTERVAL_S"):
        check_all({**base, "AIMATRIX_ALERT_SENSOR_INTERVAL_S": "0"})
    with pytest.raises(ConfigError, match="hourly_days"):
        check_all({**base, "AIMATRIX_RETENTION_FULL_DAYS": "30", "AIMATRIX_RETENTION_HOURLY_DAYS": "10"})


def test_thresholds_file_must_name_every_threshold(tmp_path, monkeypatch):
    from aimatrix_pipeline.shared import thresholds

    partial = tmp_path / "thresholds.yaml"
    partial.write_text("slow_query_ms: 1000\n")
    monkeypatch.setattr(thresholds, "shipped_file", lambda: partial)
    with pytest.raises(ConfigError, match="missing threshold.*summary_min_calls"):
        thresholds.load_thresholds(env={})


SCHEDULES = """
import json
from aimatrix_pipeline.definitions import defs
print(json.dumps({s.name: s.cron_schedule for s in defs.get_repository_def().schedule_defs}))
"""


def _schedules(**crons: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIMATRIX_", "SUPABASE_"))}
    env.update(crons)
    proc = subprocess.run([sys.executable, "-W", "ignore", "-c", SCHEDULES], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_changing_a_cron_never_renames_its_schedule():
    crons = {v.name: "7 * * * *" for v in VARIABLES if v.name.endswith("_CRON")}
    default, changed = _schedules(), _schedules(**crons)
    assert set(changed) == set(default)  # same names: history and on/off state stay attached
    moved = {name for name in default if default[name] != changed[name]}
    # one schedule per variable, but AIMATRIX_FRESHNESS_CRON drives both freshness checks' schedules
    assert {"alert_freshness_schedule", "alert_staleness_schedule"} <= moved
    assert len(moved) == len(crons) + 1 and all(changed[n] == "7 * * * *" for n in moved)
    assert not any(re.search(r"\d|every|daily|minute|hour", n) for n in moved)


def test_settings_module_reads_a_given_mapping_not_the_process(monkeypatch):
    monkeypatch.setenv("AIMATRIX_STATS_CRON", "not a cron")
    assert load_settings({}).schedules.statistics == "*/5 * * * *"
    assert settings_module.secret_is_set("X_SECRET", {"X_SECRET": "v"})
    assert not settings_module.secret_is_set("X_SECRET", {})
