"""Configuration: the projects file, single-database mode, and DSNs that never leak."""

from __future__ import annotations

import pytest

from aimatrix_pipeline.resources.source_postgres import (
    SourceConfigError,
    SourcePostgresResource,
    SourceUnavailable,
    bounded_dsn,
    redact_dsn,
)
from aimatrix_pipeline.settings import ConfigError, load_settings

FLEET = """
organizations:
  - slug: acme
    plan: team
    monthly_budget_usd: 200
projects:
  - name: prod-app
    organization: acme
    db_url_env: PROD_APP_DB_URL
    ref: abcdefghijklmnopqrst
    compute_size: small
    monthly_budget_usd: 120
  - name: staging
    organization: acme
    db_url_env: STAGING_DB_URL
"""


def write(tmp_path, text):
    path = tmp_path / "projects.yaml"
    path.write_text(text)
    return {"AIMATRIX_PROJECTS_FILE": str(path)}


def test_projects_file_parsed(tmp_path):
    s = load_settings(write(tmp_path, FLEET))
    assert s.project_names == ["prod-app", "staging"]
    prod = s.project("prod-app")
    assert (prod.organization, prod.compute_size, prod.monthly_budget_usd, prod.ref) == (
        "acme", "small", 120.0, "abcdefghijklmnopqrst")
    assert s.organization("acme").plan == "team"
    assert s.project("staging").compute_size == "micro"


@pytest.mark.parametrize(
    "text, message",
    [
        ("projects:\n  - organization: x\n    db_url_env: A\n", "projects[0]: missing required field 'name'"),
        ("projects:\n  - name: a\n", "missing required field 'db_url_env'"),
        ("projects:\n  - name: a\n    db_url_env: postgresql://u:p@h/db\n", "NAME of an environment variable"),
        ("projects:\n  - {name: a, db_url_env: A}\n  - {name: a, db_url_env: B}\n", "duplicate project name"),
        ("organizations:\n  - {slug: o, plan: gold}\nprojects:\n  - {name: a, db_url_env: A}\n", "'plan' must be one of"),
        ("organizations:\n  - {slug: o}\nprojects:\n  - {name: a, db_url_env: A, organization: other}\n",
         "organization 'other' is not listed"),
        ("projects: [", "not valid YAML"),
        ("projects: []\n", "'projects' is empty"),
    ],
)
def test_bad_projects_file_names_the_field(tmp_path, text, message):
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        load_settings(write(tmp_path, text))


APP_LOGS = """
projects:
  - name: a
    db_url_env: A
    app_logs:
      schema: observability
      clock_skew_minutes: 2
      query_performance_logs: slow_queries
      vector_query_logs: other.vector_searches
      embedding_generation_logs: {schema: odd.schema, table: "embeddings.log"}
      error_events: false
  - name: b
    db_url_env: B
"""


def test_app_log_sources_per_project(tmp_path):
    s = load_settings(write(tmp_path, APP_LOGS))
    a, b = s.project("a").app_logs, s.project("b").app_logs
    assert a.source("query_performance_logs") == ("observability", "slow_queries")
    assert a.source("vector_query_logs") == ("other", "vector_searches")
    assert a.source("embedding_generation_logs") == ("odd.schema", "embeddings.log")
    assert a.source("error_events") is None and a.clock_skew_minutes == 2.0
    assert b.source("error_events") == ("public", "error_events") and b.clock_skew_minutes == 5.0
    assert "app_logs" not in s.project("a").extra


@pytest.mark.parametrize(
    "app_logs, message",
    [
        ("[1]", "'app_logs' must be a mapping"),
        ("{query_logs: x}", "app_logs: unknown field(s) query_logs"),
        ("{error_events: 5}", "app_logs.error_events: expected a table name"),
        ("{error_events: ''}", "app_logs.error_events: must be a non-empty name"),
        ("{clock_skew_minutes: .nan}", "app_logs.clock_skew_minutes must be a number"),
        ("{clock_skew_minutes: -1}", "app_logs.clock_skew_minutes must be a number"),
        ("{clock_skew_minutes: lots}", "app_logs.clock_skew_minutes must be a number"),
        ("{schema: " + "s" * 64 + "}", "app_logs.schema: must be a non-empty name of at most 63 bytes"),
    ],
)
def test_bad_app_logs_names_the_field(tmp_path, app_logs, message):
    text = f"projects:\n  - name: a\n    db_url_env: A\n    app_logs: {app_logs}\n"
    with pytest.raises(ConfigError, match=r"projects\[0\]: .*" + message.replace("(", r"\(").replace(")", r"\)")):
        load_settings(write(tmp_path, text))


def test_single_database_mode_defaults():
    s = load_settings({"SUPABASE_DB_URL": "postgresql://x"})
    assert s.source == "single_database"
    (p,) = s.projects
    assert (p.name, p.organization, p.db_url_env, p.compute_size) == ("default", "default", "SUPABASE_DB_URL", "micro")
    assert s.organization("default").plan is None  # no plan configured: nothing invented, nothing priced
    s = load_settings({"SUPABASE_PLAN": "team", "SUPABASE_COMPUTE_SIZE": "Large"})
    assert s.source == "unconfigured" and s.projects[0].compute_size == "large"
    assert s.organization("default").plan == "team"


def test_organization_without_a_plan_has_none(tmp_path):
    path = tmp_path / "projects.yaml"
    path.write_text("organizations:\n  - slug: acme\n  - slug: paid\n    plan: Team\n"
                    "projects:\n  - {name: a, organization: acme, db_url_env: A}\n"
                    "  - {name: b, organization: paid, db_url_env: B}\n")
    s = load_settings({"AIMATRIX_PROJECTS_FILE": str(path)})
    assert (s.organization("acme").plan, s.organization("paid").plan) == (None, "team")


def test_relative_path_settings_mean_the_working_directory(tmp_path):
    """Made absolute once, where the command line reads the environment, so a child process
    running in another folder (Dagster in the instance folder) reads the same files."""
    from aimatrix_pipeline.settings import PATH_VARIABLES, absolute_paths

    assert {"AIMATRIX_WAREHOUSE", "AIMATRIX_PROJECTS_FILE", "AIMATRIX_PRICE_BOOK_OVERRIDES",
            "AIMATRIX_ALERT_RULES", "DAGSTER_HOME"} <= set(PATH_VARIABLES)
    env = {"AIMATRIX_WAREHOUSE": ".aimatrix-demo/warehouse.duckdb", "AIMATRIX_PROJECTS_FILE": "./projects.yaml",
           "AIMATRIX_ALERT_STATE": str(tmp_path / "abs.sqlite"), "AIMATRIX_WAREHOUSE_DATA_PATH": "s3://bucket/lake",
           "AIMATRIX_DASHBOARD_DIR": "", "SUPABASE_DB_URL": "postgresql://x"}
    changed = absolute_paths(env, cwd=tmp_path)
    assert changed == {"AIMATRIX_WAREHOUSE": str(tmp_path / ".aimatrix-demo" / "warehouse.duckdb"),
                       "AIMATRIX_PROJECTS_FILE": str(tmp_path / "projects.yaml")}
    assert absolute_paths({"AIMATRIX_WAREHOUSE": "ducklake:postgres:dbname=lake"}, cwd=tmp_path) == {}


def test_bounded_dsn_sets_read_only_timeouts_and_label():
    dsn = bounded_dsn("postgresql://u:secret@127.0.0.1:5432/db?sslmode=disable",
                      statement_timeout_ms=1234, lock_timeout_ms=56)
    assert "default_transaction_read_only%3Don" in dsn
    assert "statement_timeout%3D1234" in dsn and "lock_timeout%3D56" in dsn
    assert "application_name=aimatrix_pipeline" in dsn and "sslmode=disable" in dsn


def test_sessions_are_read_only_and_bounded(source_db, monkeypatch):
    monkeypatch.setenv("MONITORED_URL", source_db.url)
    with SourcePostgresResource(statement_timeout_ms=4321).connect("MONITORED_URL") as conn:
        settings = dict(conn.execute(
            "select name, setting from pg_settings where name in "
            "('default_transaction_read_only', 'statement_timeout', 'lock_timeout', 'application_name')"
        ).fetchall())
        with pytest.raises(Exception, match="read-only transaction"):
            conn.execute("create table nope (x int)")
    assert settings == {"default_transaction_read_only": "on", "statement_timeout": "4321",
                        "lock_timeout": "1000", "application_name": "aimatrix_pipeline"}


def test_missing_or_unreachable_dsn_never_leaks(monkeypatch):
    monkeypatch.delenv("NOT_SET_URL", raising=False)
    with pytest.raises(SourceConfigError, match="NOT_SET_URL is not set"):
        SourcePostgresResource().dsn_for("NOT_SET_URL")
    monkeypatch.setenv("DEAD_URL", "postgresql://admin:hunter2@127.0.0.1:1/db")
    with pytest.raises(SourceUnavailable) as err:
        with SourcePostgresResource(connect_timeout_s=2).connect("DEAD_URL"):
            pass
    assert "hunter2" not in str(err.value) and "DEAD_URL" in str(err.value)
    assert redact_dsn("postgresql://a:b@h/d password=zz") == "postgresql://***@h/d password=***"


def test_organizations_section_is_optional_for_several_organizations(tmp_path):
    s = load_settings(write(tmp_path, "projects:\n  - {name: a, db_url_env: A, organization: one}\n"
                                      "  - {name: b, db_url_env: B, organization: two}\n"))
    assert [p.organization for p in s.projects] == ["one", "two"]
    assert {o.slug: o.plan for o in s.organizations} == {"one": None, "two": None}  # no plan configured
