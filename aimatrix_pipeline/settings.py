"""Typed settings: the one place that reads the environment and the projects file.

Why one module: the settings used to be read in some twenty modules, each with its own default
(the warehouse path in five places), some at import and some again at run time. Here every
environment variable the pipeline reads is declared once (`VARIABLES`: name, type, default, range,
meaning; docs/reference/settings.md is generated from it) and `load_settings` turns the environment
into one frozen `Settings` object. Code receives that object:

* definition-time code (partitions, schedules, sensor intervals) calls `current_settings()`, which
  builds it from the process environment once per distinct environment;
* assets, checks and sensors receive it through the `settings` resource (`SettingsResource`), which
  builds it again when a run starts, so an edited threshold or path applies to the next run
  without reloading the code location.

Secrets are never read here: a project names the environment variable that holds its DSN
(`db_url_env`), a channel names the variables of its credentials, and resources resolve them
through `dagster.EnvVar` at run time, so secrets never reach the UI, logs, metadata or this object.
"""

from __future__ import annotations

import functools
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

from aimatrix_pipeline.config_checks import (
    ConfigError,
    check_url,
    env_date,
    env_finite,
    env_int,
    read_yaml,
    require_choice,
    require_env_name,
    require_finite,
    require_int,
    require_list,
    require_mapping,
    require_str,
    shown,
)

__all__ = ["ConfigError", "Organization", "Project", "Settings", "VARIABLES", "absolute_paths",
           "current_settings", "load_settings", "make_paths_absolute", "parse_projects_file"]

PLANS = ("free", "pro", "team", "enterprise")
DEFAULT_PROJECT = "default"
WAREHOUSE_FILE_NAME = "warehouse.duckdb"
DEFAULT_WAREHOUSE = f"data/{WAREHOUSE_FILE_NAME}"  # the one place the default is computed
DEFAULT_API_URL = "https://api.supabase.com"
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")
_REF_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_SIZE_RE = re.compile(r"^[a-z0-9_-]{1,32}$")
MAX_CONNECTIONS = (1, 100)  # per source; each one is also a slot file and a server backend
MAX_BUDGET_USD = 1e9
# Keys under a project that other modules read from `Project.extra`: checked here all the same.
_EXTRA_ENV_KEYS = ("service_role_key_env", "apply_db_url_env")
_URL_RE = re.compile(r"^https?://[^\s]{1,2000}$")
DEFAULT_COST_START_DATE = "2025-01-01"
MAX_INTERVAL_S = 86_400
# A sensor tick must finish well inside Dagster's 60 s sensor gRPC timeout, sending included.
MAX_SENSOR_SEND_S = 30
MAX_PLAN_CAPTURE_TOP = 1000
MAX_PLAN_WINDOW_HOURS = 8760
MAX_RETENTION_DAYS = 36500  # a hundred years: more is a typo, and overflows date arithmetic
THRESHOLDS_FILE_ENV = "AIMATRIX_ANALYTICS_THRESHOLDS"
# Batch runs (aimatrix_pipeline/shared/batch.py). Measured through the daemon (docs/benchmarks.md,
# "200 projects at the default cadences"): a run costs ~5 s to launch and start (queue, process,
# code location) plus ~3 s of steps (statistics; ~1 s app logs), against ~0.38 s per project
# (statistics; ~0.19 s app logs), most of it Dagster storing each partition's events. At 16 projects
# a run the fixed part was over half of every run, and the box's one warehouse slot ran out of time
# at 200 projects; at 50 it is about a third.
DEFAULT_BATCH_SIZE = 50
MAX_BATCH_SIZE = 1000
DEFAULT_BATCH_WORKERS = 4
MAX_BATCH_WORKERS = 64
DEFAULT_PROJECT_DEADLINE_S = 120
THRESHOLD_ENV_PREFIX = "AIMATRIX_ANALYTICS_"  # + a threshold's name in upper case (thresholds.yaml)


@dataclass(frozen=True)
class Variable:
    """One environment variable the pipeline reads: the row of docs/reference/settings.md."""

    name: str
    type: str
    default: str
    allowed: str
    meaning: str
    secret: bool = False  # read through dagster.EnvVar where it is used, never into Settings


_CRON = "cron (5 fields, UTC)"
_SECONDS = f"1 to {MAX_INTERVAL_S}"
_DAYS = f"0 to {MAX_RETENTION_DAYS}"
VARIABLES: tuple[Variable, ...] = (
    # --- what to watch --------------------------------------------------------------------------
    Variable("AIMATRIX_PROJECTS_FILE", "path", "unset", "a YAML file", "the fleet file (organizations and "
             "projects); takes precedence over the SUPABASE_* single-database variables"),
    Variable("SUPABASE_DB_URL", "DSN", "unset", "postgresql://...", "the monitored database in "
             "single-database mode (a project's `db_url_env` names its own variable)", secret=True),
    Variable("SUPABASE_PLAN", "choice", "unset", ", ".join(PLANS), "single-database mode: the organization's "
             "plan; unset: no plan, so nothing is priced (a database that is not on Supabase gets no bill)"),
    Variable("SUPABASE_COMPUTE_SIZE", "text", "micro", "micro, small, ..., 16xl", "single-database mode: the "
             "project's compute size"),
    Variable("SUPABASE_MONTHLY_BUDGET_USD", "number", "unset", f"0 to {MAX_BUDGET_USD:g}", "single-database "
             "mode: the monthly budget the budget check compares against"),
    Variable("SUPABASE_PROJECT_REF", "text", "unset", "letters, digits, '_', '-'", "single-database mode: "
             "the project ref for the Management API"),
    Variable("SUPABASE_ACCESS_TOKEN", "token", "unset", "a token", "Management API token (usage, add-ons, "
             "disk, edge logs); without it API line items are `unknown`, never zero", secret=True),
    Variable("SUPABASE_SERVICE_ROLE_KEY", "token", "unset", "a key", "the metrics endpoint's key when a "
             "project sets `metrics_url` without `service_role_key_env`", secret=True),
    Variable("SUPABASE_API_URL", "URL", DEFAULT_API_URL, "http(s) URL", "Management API base URL"),
    # --- where data goes ------------------------------------------------------------------------
    Variable("AIMATRIX_WAREHOUSE", "path", DEFAULT_WAREHOUSE, "a file, or ducklake:<catalog>", "the "
             "warehouse: a DuckDB file, or a DuckLake catalog"),
    Variable("AIMATRIX_WAREHOUSE_DATA_PATH", "path", "data/lake", "a directory or s3:// URL",
             "DuckLake: where the Parquet data files go"),
    Variable("AIMATRIX_WAREHOUSE_READ_CATALOG", "text", "unset (readers use the catalog of AIMATRIX_WAREHOUSE)",
             "a libpq conninfo", "DuckLake: the catalog as a role that can only read, for the readers "
             "(`sql`, `query()`, the dashboard); no password in it"),
    Variable("AIMATRIX_WAREHOUSE_LOCAL_PATH", "path", "data/lake", "a directory", "DuckLake: local "
             "directory for the lock, slot and state files"),
    Variable("AIMATRIX_S3_ENDPOINT", "text", "unset", "host[:port]", "DuckLake on S3: a non-AWS endpoint"),
    Variable("AIMATRIX_S3_URL_STYLE", "text", "unset", "path or vhost", "DuckLake on S3: URL style"),
    Variable("AIMATRIX_S3_USE_SSL", "flag", "true", "true, false, 0, no", "DuckLake on S3: use TLS"),
    Variable("AIMATRIX_ALERT_STATE", "path", "alerts_outbox.sqlite next to the warehouse", "a file",
             "alert state and notification outbox (SQLite)"),
    Variable("AIMATRIX_DASHBOARD_DIR", "path", "dashboard/ next to the warehouse", "a directory",
             "where the HTML dashboard is written"),
    Variable("AIMATRIX_SQL_DIR", "path", "the package's sql/", "a directory", "where SQL files are loaded "
             "from"),
    # --- rules, thresholds, prices --------------------------------------------------------------
    Variable("AIMATRIX_ALERT_RULES", "path", "the shipped alert_rules.yaml", "a YAML file",
             "alert rules and notification channels (channels name their own secret variables)"),
    Variable(THRESHOLDS_FILE_ENV, "path", "unset", "a YAML file", "threshold values that replace the "
             "shipped thresholds.yaml's (only the names it lists)"),
    Variable(THRESHOLD_ENV_PREFIX + "<NAME>", "number", "thresholds.yaml", "see the thresholds table",
             "one threshold; wins over both files"),
    Variable("AIMATRIX_PRICE_BOOK_OVERRIDES", "path", "unset", "a YAML file", "negotiated prices merged "
             "over the shipped price book"),
    Variable("AIMATRIX_RETENTION_FULL_DAYS", "whole number", "7", _DAYS, "days every raw snapshot is kept"),
    Variable("AIMATRIX_RETENTION_HOURLY_DAYS", "whole number", "90", _DAYS, "days one snapshot per hour is "
             "kept (then one per day); at least the full days"),
    Variable("AIMATRIX_RETENTION_APP_LOG_DAYS", "whole number", "unset (keep)", f"1 to {MAX_RETENTION_DAYS}",
             "days app-log rows are kept"),
    Variable("AIMATRIX_COST_START_DATE", "date", DEFAULT_COST_START_DATE, "2000-01-01 to today",
             "first day of the daily cost partitions (the first day a backfill can price)"),
    # --- schedules and sensors ------------------------------------------------------------------
    Variable("AIMATRIX_STATS_CRON", _CRON, "*/5 * * * *", "cron", "schedule `snapshot_statistics`"),
    Variable("AIMATRIX_LOGS_CRON", _CRON, "*/2 * * * *", "cron", "schedule `load_app_logs`"),
    Variable("AIMATRIX_PLANS_CRON", _CRON, "11 * * * *", "cron", "schedule `capture_query_plans` (plan "
             "history: generic plans of the top statements)"),
    Variable("AIMATRIX_PLAN_CAPTURE_TOP", "whole number", "50", f"1 to {MAX_PLAN_CAPTURE_TOP}", "how many "
             "statements (fingerprints, by total time) each plan capture explains"),
    Variable("AIMATRIX_PLAN_CAPTURE_WINDOW_HOURS", "whole number", "24", f"1 to {MAX_PLAN_WINDOW_HOURS}",
             "the window of pg_stat_statements deltas (ending at the newest) that ranks the statements"),
    Variable("AIMATRIX_PLAN_CAPTURE_TIMEOUT_MS", "whole number", "2000", "10 to 60000", "statement_timeout "
             "and lock_timeout of each EXPLAIN a plan capture sends"),
    Variable("AIMATRIX_APPSIGNALS_CRON", _CRON, "*/15 * * * *", "cron", "schedule `load_app_signals`"),
    Variable("AIMATRIX_COST_DAILY_CRON", _CRON, "15 2 * * *", "cron", "schedule `price_yesterdays_usage`"),
    Variable("AIMATRIX_COST_REPORT_CRON", _CRON, "45 2 * * *", "cron", "schedule `rebuild_monthly_cost_report`"),
    Variable("AIMATRIX_RETENTION_CRON", _CRON, "17 3 * * *", "cron", "schedule `snapshot_retention`"),
    Variable("AIMATRIX_DASHBOARD_CRON", _CRON, "*/15 * * * *", "cron", "schedule "
             "`refresh_monitoring_dashboard`"),
    Variable("AIMATRIX_FRESHNESS_CRON", _CRON, "*/30 * * * *", "cron", "schedules `alert_freshness_schedule` "
             "and `alert_staleness_schedule` (is every project extracted recently? the `extraction_stopped` "
             "and `extraction_stale` alerts)"),
    Variable("AIMATRIX_BATCH_SIZE", "whole number", str(DEFAULT_BATCH_SIZE), f"1 to {MAX_BATCH_SIZE}", "projects "
             "per scheduled run: each tick of `snapshot_statistics`, `load_app_logs`, `capture_query_plans`, "
             "`load_app_signals`, `advise_indexes` and the staleness checks requests one run per shard of "
             "this many consecutive projects (1: one run per project)"),
    Variable("AIMATRIX_BATCH_WORKERS", "whole number", str(DEFAULT_BATCH_WORKERS), f"1 to {MAX_BATCH_WORKERS}",
             "projects a batch run works on at once (threads of one step); each source still sees at most "
             "its `max_connections`"),
    Variable("AIMATRIX_PROJECT_DEADLINE_S", "seconds", str(DEFAULT_PROJECT_DEADLINE_S), f"1 to {MAX_INTERVAL_S}",
             "limit of one project's time on its source in a run (sessions open; waits for the warehouse "
             "or a connection slot do not count): a project past it has its query cancelled, fails its "
             "own partition and is given up for the rest of the run, which goes on without it"),
    Variable("AIMATRIX_ALERT_SENSOR_INTERVAL_S", "seconds", "10", _SECONDS, "how often `alert_sensor` "
             "evaluates"),
    Variable("AIMATRIX_ALERT_SENSOR_SEND_S", "seconds", "15", "0 to 30", "how long an `alert_sensor` tick may "
             "spend sending due notifications itself before leaving the rest to `alert_delivery_job` (0: the run "
             "sends everything; a request under way finishes within the rules' `timeout`)"),
    Variable("AIMATRIX_AUTOMATION_INTERVAL_S", "seconds", "60", _SECONDS, "how often "
             "`derive_analytics_when_raw_data_lands` evaluates"),
    # --- remediation ----------------------------------------------------------------------------
    Variable("AIMATRIX_APPLY_DB_URL", "DSN", "unset", "postgresql://...", "write DSN for "
             "`aimatrix-pipeline apply` (a project's `apply_db_url_env` names its own)", secret=True),
    Variable("AIMATRIX_APPLIED_BY", "text", "the OS user name", "text", "operator name recorded by "
             "`aimatrix-pipeline apply`"),
    # --- analytics -------------------------------------------------------------------------------
    Variable("AIMATRIX_SLOW_QUERIES_INCLUDE_OWN", "flag", "false", "true, false, 1, 0, yes, no",
             "keep the pipeline's own statements (the monitoring role's, and those `apply` ran) in "
             "analytics.slow_queries_summary; by default they are left out"),
    # --- read by Dagster and DuckDB (named here so the reference lists them) ------------------
    Variable("DAGSTER_HOME", "path", "unset (`watch`, `demo`: under the data directory)", "a directory",
             "Dagster's instance directory (with dagster.yaml); read by Dagster itself"),
    Variable("DAGSTER_PG_URL", "DSN", "unset (`watch`: an embedded PostgreSQL)", "postgresql://...",
             "Dagster's run, event and schedule storage (dagster.yaml names it)", secret=True),
    Variable("AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_REGION", "credentials", "unset",
             "AWS credentials", "DuckLake on S3: object-store credentials (read only when connecting)",
             secret=True),
)
_CRON_DEFAULTS = {v.name: v.default for v in VARIABLES if v.type == _CRON}
_KNOWN = frozenset(v.name for v in VARIABLES if not v.secret and "<" not in v.name and not v.name.startswith("DAGSTER_"))


def warehouse_in(data_dir: str | Path) -> str:
    """The warehouse file of a data directory (`watch` and `demo` keep everything in one)."""
    return str(Path(data_dir) / WAREHOUSE_FILE_NAME)


@dataclass(frozen=True)
class Organization:
    slug: str
    plan: str | None = None  # None: no plan configured, nothing priced (not on Supabase, or not told)
    monthly_budget_usd: float | None = None


APP_LOG_TABLES = ("query_performance_logs", "vector_query_logs", "embedding_generation_logs", "error_events")
DEFAULT_LOG_SCHEMA = "public"
DEFAULT_CLOCK_SKEW_MINUTES = 5.0


@dataclass(frozen=True)
class AppLogSettings:
    """Where a project's app-log tables are, per project (`app_logs:` in the projects file).

    By default each log is looked for as `<schema>.<log name>` (schema `public`) and is optional:
    the extract discovers at run time whether it exists. A log can point at another table
    (`"name"` or `"schema.name"`, or `{schema: ..., table: ...}` for names with dots) or be turned
    off (`false`). Rows stamped more than `clock_skew_minutes` after the source's clock are
    quarantined as rows from the future; closer ones wait for the clock to pass them.
    """

    schema: str = DEFAULT_LOG_SCHEMA
    tables: Mapping[str, tuple[str, str] | None] = field(default_factory=dict)
    clock_skew_minutes: float = DEFAULT_CLOCK_SKEW_MINUTES

    def source(self, log: str, schema: str | None = None) -> tuple[str, str] | None:
        """(schema, table) of `log`, or None when it is turned off. `schema` overrides the default."""
        if log in self.tables:
            return self.tables[log]
        return (schema or self.schema, log)


@dataclass(frozen=True)
class Project:
    name: str
    organization: str
    db_url_env: str
    ref: str | None = None
    compute_size: str = "micro"
    monthly_budget_usd: float | None = None
    max_connections: int = 2  # connections we may open to this source at once
    extra: Mapping[str, object] = field(default_factory=dict)
    app_logs: AppLogSettings = field(default_factory=AppLogSettings)


@dataclass(frozen=True)
class Schedules:
    """Cron expressions (UTC) of the schedules; the schedule names never depend on them."""

    statistics: str = _CRON_DEFAULTS["AIMATRIX_STATS_CRON"]
    app_logs: str = _CRON_DEFAULTS["AIMATRIX_LOGS_CRON"]
    appsignals: str = _CRON_DEFAULTS["AIMATRIX_APPSIGNALS_CRON"]
    cost_daily: str = _CRON_DEFAULTS["AIMATRIX_COST_DAILY_CRON"]
    cost_report: str = _CRON_DEFAULTS["AIMATRIX_COST_REPORT_CRON"]
    retention: str = _CRON_DEFAULTS["AIMATRIX_RETENTION_CRON"]
    dashboard: str = _CRON_DEFAULTS["AIMATRIX_DASHBOARD_CRON"]
    plans: str = _CRON_DEFAULTS["AIMATRIX_PLANS_CRON"]
    freshness: str = _CRON_DEFAULTS["AIMATRIX_FRESHNESS_CRON"]


_CRON_FIELDS = {"statistics": "AIMATRIX_STATS_CRON", "app_logs": "AIMATRIX_LOGS_CRON",
                "appsignals": "AIMATRIX_APPSIGNALS_CRON", "cost_daily": "AIMATRIX_COST_DAILY_CRON",
                "cost_report": "AIMATRIX_COST_REPORT_CRON", "retention": "AIMATRIX_RETENTION_CRON",
                "dashboard": "AIMATRIX_DASHBOARD_CRON", "plans": "AIMATRIX_PLANS_CRON",
                "freshness": "AIMATRIX_FRESHNESS_CRON"}


@dataclass(frozen=True)
class PlanCaptureSettings:
    """Plan history (extract/plans.py): how many statements each capture explains, the window of
    deltas that ranks them, and the timeout of each EXPLAIN on the monitored database."""

    top: int = 50
    window_hours: int = 24
    timeout_ms: int = 2000


@dataclass(frozen=True)
class LakeSettings:
    """DuckLake warehouse options (used when `AIMATRIX_WAREHOUSE` starts with `ducklake:`)."""

    data_path: str = "data/lake"
    local_path: str = "data/lake"
    s3_endpoint: str = ""
    s3_url_style: str = ""
    s3_use_ssl: bool = True
    read_catalog: str = ""  # libpq conninfo of a read-only catalog role, for readers


@dataclass(frozen=True)
class RetentionDays:
    """Retention periods from the environment; None: the policy's default (fleet/retention.py)."""

    full_days: int | None = None
    hourly_days: int | None = None
    app_log_days: int | None = None


_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


def _flag(env: Mapping[str, str], name: str, default: bool = False) -> bool:
    """A yes/no variable: unset or empty is `default`; anything but the listed words is an error."""
    raw = (env.get(name) or "").strip().lower()
    if not raw:
        return default
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise ConfigError(f"{name} must be true or false (1/0, yes/no, on/off), got {shown(raw)}")


@dataclass(frozen=True)
class Settings:
    projects: tuple[Project, ...]
    organizations: tuple[Organization, ...]
    warehouse_path: str
    api_url: str
    source: str  # "projects_file" | "single_database" | "unconfigured"
    schedules: Schedules = field(default_factory=Schedules)
    alert_sensor_interval_s: int = 10
    alert_sensor_send_s: int = 15
    automation_interval_s: int = 60
    cost_start_date: str = DEFAULT_COST_START_DATE
    lake: LakeSettings = field(default_factory=LakeSettings)
    alert_rules_file: str | None = None  # None: the shipped alert_rules.yaml
    alert_state_file: str | None = None  # None: alerts_outbox.sqlite next to the warehouse
    dashboard_dir: str | None = None  # None: dashboard/ next to the warehouse
    price_book_overrides: str | None = None
    thresholds_file: str | None = None
    threshold_overrides: Mapping[str, str] = field(default_factory=dict)  # threshold name -> raw env text
    retention: RetentionDays = field(default_factory=RetentionDays)
    applied_by: str | None = None
    plan_capture: PlanCaptureSettings = field(default_factory=PlanCaptureSettings)
    slow_queries_include_own: bool = False
    batch_size: int = DEFAULT_BATCH_SIZE
    batch_workers: int = DEFAULT_BATCH_WORKERS
    project_deadline_s: int = DEFAULT_PROJECT_DEADLINE_S

    @functools.cached_property
    def thresholds(self):
        """The analytics thresholds: thresholds.yaml, the `AIMATRIX_ANALYTICS_THRESHOLDS` file, then
        `AIMATRIX_ANALYTICS_<NAME>` (parsed on first use: a run that needs none never reads the files)."""
        from aimatrix_pipeline.shared.thresholds import thresholds_from_settings

        return thresholds_from_settings(self)

    def rules_path(self) -> Path:
        """The alert rules file (`AIMATRIX_ALERT_RULES`, default the shipped alert_rules.yaml)."""
        if self.alert_rules_file:
            return Path(self.alert_rules_file)
        from aimatrix_pipeline.sql_files import shipped_path

        return shipped_path("alert_rules.yaml")

    @property
    def project_names(self) -> list[str]:
        return [p.name for p in self.projects]

    def project(self, name: str) -> Project:
        for p in self.projects:
            if p.name == name:
                return p
        raise ConfigError(
            f"unknown project {name!r}: configured projects are {', '.join(self.project_names) or 'none'}"
        )

    def organization(self, slug: str) -> Organization:
        for o in self.organizations:
            if o.slug == slug:
                return o
        raise ConfigError(f"unknown organization {slug!r}")


def _require(mapping: Mapping, key: str, where: str):
    if key not in mapping or mapping[key] in (None, ""):
        raise ConfigError(f"{where}: missing required field '{key}'")
    return mapping[key]


def _budget(value, where: str) -> float | None:
    """A monthly budget: unset, or a finite number of dollars (a NaN budget would never breach)."""
    if value is None:
        return None
    return require_finite(value, where, 0, MAX_BUDGET_USD)


def _compute_size(value, where: str) -> str:
    text = require_str(value, where, max_len=32, numbers_ok=True).lower()
    if not _SIZE_RE.match(text):
        raise ConfigError(f"{where} must be a compute size such as micro, small or 2xl, got {shown(text)}")
    return text


def _identifier(value, where: str) -> str:
    if not isinstance(value, str) or not value or len(value.encode()) > 63 or "\x00" in value:
        raise ConfigError(f"{where}: must be a non-empty name of at most 63 bytes, got {value!r}")
    return value


def _app_logs(raw, where: str) -> AppLogSettings:
    """Parse a project's `app_logs:` mapping (see AppLogSettings)."""
    if raw is None:
        return AppLogSettings()
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: 'app_logs' must be a mapping")
    known = {"schema", "clock_skew_minutes", *APP_LOG_TABLES}
    unknown = sorted(str(k) for k in raw if k not in known)
    if unknown:
        raise ConfigError(f"{where}: app_logs: unknown field(s) {', '.join(unknown)}; "
                          f"expected schema, clock_skew_minutes or one of {', '.join(APP_LOG_TABLES)}")
    schema = _identifier(raw.get("schema", DEFAULT_LOG_SCHEMA), f"{where}: app_logs.schema")
    skew = raw.get("clock_skew_minutes", DEFAULT_CLOCK_SKEW_MINUTES)
    if isinstance(skew, bool) or not isinstance(skew, (int, float)) or not math.isfinite(skew) \
            or not 0 <= skew <= 1440:
        raise ConfigError(f"{where}: app_logs.clock_skew_minutes must be a number of minutes "
                          f"between 0 and 1440, got {skew!r}")
    tables: dict[str, tuple[str, str] | None] = {}
    for log in APP_LOG_TABLES:
        if log not in raw:
            continue
        value, field_where = raw[log], f"{where}: app_logs.{log}"
        if value is False or value is None:
            tables[log] = None
        elif isinstance(value, str):
            table_schema, dot, table = value.partition(".")
            tables[log] = (_identifier(table_schema, field_where), _identifier(table, field_where)) if dot \
                else (schema, _identifier(value, field_where))
        elif isinstance(value, dict) and set(value) <= {"schema", "table"} and "table" in value:
            tables[log] = (_identifier(value.get("schema", schema), f"{field_where}.schema"),
                           _identifier(value["table"], f"{field_where}.table"))
        else:
            raise ConfigError(f"{field_where}: expected a table name ('name' or 'schema.name'), "
                              f"{{schema: ..., table: ...}} or false, got {value!r}")
    return AppLogSettings(schema, tables, float(skew))


def parse_projects_file(path: str | Path) -> tuple[tuple[Project, ...], tuple[Organization, ...]]:
    """Parse and validate the fleet file; every error names the file and the offending field."""
    path = Path(path)
    doc = read_yaml(path, f"AIMATRIX_PROJECTS_FILE points at {path}, which does not exist") or {}
    if not isinstance(doc, dict):
        raise ConfigError(f"{path}: expected a mapping with 'organizations' and 'projects'")

    orgs: list[Organization] = []
    raw_orgs = require_list(doc.get("organizations") or [], f"{path}: 'organizations'", max_len=1000)
    for i, raw in enumerate(raw_orgs):
        where = f"{path}: organizations[{i}]"
        require_mapping(raw, where)
        slug = require_str(_require(raw, "slug", where), f"{where}: 'slug'", max_len=63, pattern=_NAME_RE,
                           pattern_text="must be 1-63 letters, digits, '_', '.', '-'", numbers_ok=True)
        if any(o.slug == slug for o in orgs):
            raise ConfigError(f"{where}: duplicate organization slug {shown(slug)}")
        plan = raw.get("plan")
        if plan is not None:
            plan = require_choice(plan, f"{where}: 'plan'", PLANS, lower=True)
        orgs.append(Organization(slug, plan, _budget(raw.get("monthly_budget_usd"), f"{where}: 'monthly_budget_usd'")))
    org_slugs = {o.slug for o in orgs}
    declared = bool(org_slugs)  # with an organizations section, projects must name one of them

    projects: list[Project] = []
    known = {"name", "organization", "db_url_env", "ref", "compute_size", "monthly_budget_usd",
             "max_connections", "app_logs"}
    raw_projects = require_list(doc.get("projects") or [], f"{path}: 'projects'", max_len=1000)
    for i, raw in enumerate(raw_projects):
        where = f"{path}: projects[{i}]"
        if not isinstance(raw, dict):
            raise ConfigError(f"{where}: expected a mapping")
        name = require_str(_require(raw, "name", where), f"{where}: 'name'", numbers_ok=True)
        if not _NAME_RE.match(name):
            raise ConfigError(f"{where}: 'name' {shown(name)} must be 1-63 letters, digits, '_', '.', '-'")
        if any(p.name == name for p in projects):
            raise ConfigError(f"{where}: duplicate project name {shown(name)}")
        org = require_str(raw.get("organization") or DEFAULT_PROJECT, f"{where}: 'organization'",
                          max_len=63, pattern=_NAME_RE, numbers_ok=True,
                          pattern_text="must be an organization slug (1-63 letters, digits, '_', '.', '-')")
        if declared and org not in org_slugs:
            raise ConfigError(f"{where}: organization {shown(org)} is not listed under 'organizations'")
        if org not in org_slugs:
            orgs.append(Organization(org))
            org_slugs.add(org)
        db_url_env = _require(raw, "db_url_env", where)
        if isinstance(db_url_env, str) and "://" in db_url_env:
            raise ConfigError(f"{where}: 'db_url_env' is the NAME of an environment variable, not a DSN")
        db_url_env = require_env_name(db_url_env, f"{where}: 'db_url_env'")
        ref = raw.get("ref")
        if ref is not None:
            ref = require_str(ref, f"{where}: 'ref'", pattern=_REF_RE, numbers_ok=True,
                              pattern_text="must be a project ref (letters, digits, '_', '-')")
        extra = {k: v for k, v in raw.items() if k not in known}
        for key in _EXTRA_ENV_KEYS:
            if extra.get(key) is not None:
                require_env_name(extra[key], f"{where}: '{key}'")
        if extra.get("metrics_url") is not None:
            require_str(extra["metrics_url"], f"{where}: 'metrics_url'", max_len=2000, pattern=_URL_RE,
                        pattern_text="must be an http:// or https:// URL")
        projects.append(
            Project(
                name=name,
                organization=org,
                db_url_env=db_url_env,
                ref=ref,
                compute_size=_compute_size(raw.get("compute_size", "micro"), f"{where}: 'compute_size'"),
                monthly_budget_usd=_budget(raw.get("monthly_budget_usd"), f"{where}: 'monthly_budget_usd'"),
                max_connections=require_int(raw.get("max_connections", 2), f"{where}: 'max_connections'",
                                            *MAX_CONNECTIONS),
                extra=extra,
                app_logs=_app_logs(raw.get("app_logs"), where),
            )
        )
    if not projects:
        raise ConfigError(f"{path}: 'projects' is empty")
    return tuple(projects), tuple(orgs)


def _valid_cron(value: str) -> bool:
    """Dagster's own cron validation, through its public API: a schedule definition refuses an
    expression its scheduler would not run."""
    import dagster as dg

    try:
        dg.ScheduleDefinition(name="cron_check", cron_schedule=value, job_name="cron_check")
    except dg.DagsterInvalidDefinitionError:
        return False
    return True


def _cron(env: Mapping[str, str], name: str) -> str:
    value = env.get(name)
    if value is None:
        return _CRON_DEFAULTS[name]
    if not _valid_cron(value):
        raise ConfigError(f"environment variable {name} must be a cron expression such as "
                          f"'*/5 * * * *', got {shown(value)}")
    return value


def _text(env: Mapping[str, str], name: str) -> str | None:
    """An optional text variable: unset and empty are the same (None)."""
    return env.get(name) or None


def _thresholds_from_env(env: Mapping[str, str]) -> dict[str, str]:
    """`AIMATRIX_ANALYTICS_<NAME>` values by threshold name (checked against thresholds.yaml on use)."""
    return {k[len(THRESHOLD_ENV_PREFIX):].lower(): v for k, v in env.items()
            if k.startswith(THRESHOLD_ENV_PREFIX) and k != THRESHOLDS_FILE_ENV and v not in (None, "")}


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Resolve settings from the environment (defaults to `os.environ`); a bad value raises a
    ConfigError naming the variable. The projects file is read and checked here too."""
    env = os.environ if env is None else env
    warehouse = env.get("AIMATRIX_WAREHOUSE") or DEFAULT_WAREHOUSE
    api_url = check_url((env.get("SUPABASE_API_URL") or DEFAULT_API_URL).rstrip("/"),
                        "environment variable SUPABASE_API_URL")
    common = dict(
        schedules=Schedules(**{f: _cron(env, name) for f, name in _CRON_FIELDS.items()}),
        alert_sensor_interval_s=env_int(env, "AIMATRIX_ALERT_SENSOR_INTERVAL_S", 1, MAX_INTERVAL_S, default=10),
        alert_sensor_send_s=env_int(env, "AIMATRIX_ALERT_SENSOR_SEND_S", 0, MAX_SENSOR_SEND_S, default=15),
        automation_interval_s=env_int(env, "AIMATRIX_AUTOMATION_INTERVAL_S", 1, MAX_INTERVAL_S, default=60),
        batch_size=env_int(env, "AIMATRIX_BATCH_SIZE", 1, MAX_BATCH_SIZE, default=DEFAULT_BATCH_SIZE),
        batch_workers=env_int(env, "AIMATRIX_BATCH_WORKERS", 1, MAX_BATCH_WORKERS, default=DEFAULT_BATCH_WORKERS),
        project_deadline_s=env_int(env, "AIMATRIX_PROJECT_DEADLINE_S", 1, MAX_INTERVAL_S,
                                   default=DEFAULT_PROJECT_DEADLINE_S),
        cost_start_date=env_date(env, "AIMATRIX_COST_START_DATE", DEFAULT_COST_START_DATE),
        lake=LakeSettings(
            data_path=env.get("AIMATRIX_WAREHOUSE_DATA_PATH") or "data/lake",
            local_path=env.get("AIMATRIX_WAREHOUSE_LOCAL_PATH") or "data/lake",
            s3_endpoint=env.get("AIMATRIX_S3_ENDPOINT") or "",
            s3_url_style=env.get("AIMATRIX_S3_URL_STYLE") or "",
            s3_use_ssl=(env.get("AIMATRIX_S3_USE_SSL") or "true").lower() not in ("0", "false", "no"),
            read_catalog=env.get("AIMATRIX_WAREHOUSE_READ_CATALOG") or "",
        ),
        alert_rules_file=_text(env, "AIMATRIX_ALERT_RULES"),
        alert_state_file=_text(env, "AIMATRIX_ALERT_STATE"),
        dashboard_dir=_text(env, "AIMATRIX_DASHBOARD_DIR"),
        price_book_overrides=_text(env, "AIMATRIX_PRICE_BOOK_OVERRIDES"),
        thresholds_file=_text(env, THRESHOLDS_FILE_ENV),
        threshold_overrides=_thresholds_from_env(env),
        retention=RetentionDays(*(env_int(env, f"AIMATRIX_RETENTION_{n}_DAYS", 0, MAX_RETENTION_DAYS)
                                  for n in ("FULL", "HOURLY", "APP_LOG"))),
        applied_by=_text(env, "AIMATRIX_APPLIED_BY"),
        plan_capture=PlanCaptureSettings(
            top=env_int(env, "AIMATRIX_PLAN_CAPTURE_TOP", 1, MAX_PLAN_CAPTURE_TOP, default=50),
            window_hours=env_int(env, "AIMATRIX_PLAN_CAPTURE_WINDOW_HOURS", 1, MAX_PLAN_WINDOW_HOURS, default=24),
            timeout_ms=env_int(env, "AIMATRIX_PLAN_CAPTURE_TIMEOUT_MS", 10, 60_000, default=2000),
        ),
        slow_queries_include_own=_flag(env, "AIMATRIX_SLOW_QUERIES_INCLUDE_OWN"),
    )
    projects_file = env.get("AIMATRIX_PROJECTS_FILE")
    if projects_file:
        projects, orgs = parse_projects_file(projects_file)
        return Settings(projects, orgs, warehouse, api_url, "projects_file", **common)

    plan = (env.get("SUPABASE_PLAN") or "").lower() or None
    if plan is not None and plan not in PLANS:
        raise ConfigError(f"SUPABASE_PLAN must be one of {', '.join(PLANS)}, got {shown(plan)}")
    budget = env_finite(env, "SUPABASE_MONTHLY_BUDGET_USD", 0, MAX_BUDGET_USD)
    org = Organization(DEFAULT_PROJECT, plan, budget)
    ref = env.get("SUPABASE_PROJECT_REF") or None
    if ref is not None:
        require_str(ref, "environment variable SUPABASE_PROJECT_REF", pattern=_REF_RE,
                    pattern_text="must be a project ref (letters, digits, '_', '-')")
    project = Project(
        name=DEFAULT_PROJECT,
        organization=DEFAULT_PROJECT,
        db_url_env="SUPABASE_DB_URL",
        ref=ref,
        compute_size=_compute_size(env.get("SUPABASE_COMPUTE_SIZE") or "micro",
                                   "environment variable SUPABASE_COMPUTE_SIZE"),
        monthly_budget_usd=org.monthly_budget_usd,
    )
    source = "single_database" if env.get("SUPABASE_DB_URL") else "unconfigured"
    return Settings((project,), (org,), warehouse, api_url, source, **common)


def _environment_key(env: Mapping[str, str]) -> tuple:
    """What of the environment decides the settings (never a secret's value: only whether the
    single-database DSN is set)."""
    return (tuple(sorted((k, v) for k, v in env.items() if k in _KNOWN or k.startswith(THRESHOLD_ENV_PREFIX))),
            bool(env.get("SUPABASE_DB_URL")))


_CURRENT: dict[tuple, Settings] = {}


def current_settings() -> Settings:
    """The settings of this process's environment, for definition-time code (partitions, schedules,
    sensor intervals, rule checks): built once per distinct environment, so the code location reads
    the projects file once however many modules ask."""
    key = _environment_key(os.environ)
    if key not in _CURRENT:
        _CURRENT.clear()
        _CURRENT[key] = load_settings(os.environ)
    return _CURRENT[key]


def sql_dir_override() -> str | None:
    """`AIMATRIX_SQL_DIR` (read before anything else: the SQL folder is fixed at import)."""
    return os.environ.get("AIMATRIX_SQL_DIR") or None


def secret_is_set(name: str, env: Mapping[str, str] | None = None) -> bool:
    """Whether the secret variable `name` is set (`env`, default the process environment). Only
    the fact is read here, never kept: the value is resolved through `dagster.EnvVar` when used."""
    return bool((os.environ if env is None else env).get(name))


def environment(env: Mapping[str, str] | None = None) -> Mapping[str, str]:
    """`env`, or this process's environment: for a check of a secret's shape (`config check`
    parses every DSN variable), which reads it once and keeps nothing."""
    return os.environ if env is None else env


PATH_VARIABLES = tuple(v.name for v in VARIABLES if v.type == "path" and "," not in v.name)


def absolute_paths(env: Mapping[str, str], cwd: str | Path | None = None) -> dict[str, str]:
    """The path settings of `env` that are relative, made absolute against `cwd` (default: the
    working directory), as {variable: absolute path}.

    Why: a relative path means the user's working directory, but a child process may run
    elsewhere (`aimatrix-pipeline dagster` runs Dagster in the instance folder), and it would
    then read and write a second warehouse or miss the projects file. The command line makes
    them absolute once, before anything reads them or starts a child. A DuckLake catalog
    (`ducklake:...`) and a URL (`s3://...`) are not local paths and are left as they are."""
    base = Path(cwd) if cwd is not None else Path.cwd()
    changed: dict[str, str] = {}
    for name in PATH_VARIABLES:
        value = env.get(name)
        if not value or value.startswith("ducklake:") or "://" in value:
            continue
        path = Path(value).expanduser()
        if not path.is_absolute():
            changed[name] = os.path.normpath(base / path)
        elif str(path) != value:
            changed[name] = str(path)
    return changed


def make_paths_absolute(env: dict[str, str] | None = None) -> dict[str, str]:
    """Rewrite the relative path settings of `env` (default: this process's environment) in place,
    so this process and every child it starts read the same files; returns what changed."""
    env = os.environ if env is None else env
    changed = absolute_paths(env)
    env.update(changed)
    return changed


def environment_for_subprocess() -> dict[str, str]:
    """A copy of this process's environment for a child process (the demo's PostgreSQL, the
    Dagster daemon and webserver): they need every variable, secrets included, unread here."""
    return dict(os.environ)


REFERENCE_PAGE = "docs/reference/settings.md"


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def reference_markdown() -> str:
    """docs/reference/settings.md: every environment variable, then every threshold, from `VARIABLES`
    and thresholds.yaml (`aimatrix-pipeline config reference` prints it; a test keeps it current)."""
    from dataclasses import fields

    from aimatrix_pipeline.shared.thresholds import Thresholds, range_text, shipped_values

    lines = [
        "# Settings reference",
        "",
        "<!-- Generated by `aimatrix-pipeline config reference > docs/reference/settings.md` from",
        "     aimatrix_pipeline/settings.py and thresholds.yaml; tests/test_settings_reference.py fails when",
        "     it is out of date. Do not edit by hand. -->",
        "",
        "Every environment variable the pipeline reads. `aimatrix_pipeline/settings.py` reads them (and",
        "the projects file) into one `Settings` object; definition-time code gets it from",
        "`current_settings()`, assets, checks and sensors from the `settings` resource, built when each",
        "run starts. An empty variable counts as unset. A value outside its range is a configuration",
        "error naming the variable (`aimatrix-pipeline config check` reports it with exit code 2).",
        "Secrets are never read into the settings: the code resolves them with `dagster.EnvVar` when it",
        "uses them. Alert channel credentials are named per channel in the rules file (`*_env` keys).",
        "",
        "| variable | type | default | range | what it does |",
        "|---|---|---|---|---|",
    ]
    for v in VARIABLES:
        kind = f"{v.type} (secret)" if v.secret else v.type
        literal = v.type == _CRON or (" " not in v.default and v.default != "unset")
        default = f"`{v.default}`" if literal else v.default
        names = ", ".join(f"`{n.strip()}`" for n in v.name.split(","))
        lines.append(f"| {names} | {_cell(kind)} | {_cell(default)} | {_cell(v.allowed)} | {_cell(v.meaning)} |")
    lines += [
        "",
        "## Thresholds",
        "",
        "The values of the analytics findings' thresholds live in the shipped `thresholds.yaml`. A file",
        f"named by `{THRESHOLDS_FILE_ENV}` replaces the values it lists; `{THRESHOLD_ENV_PREFIX}<NAME>`",
        "replaces one value and wins over both files (e.g. `AIMATRIX_ANALYTICS_SLOW_QUERY_MS=2000`). A",
        "name that is not in this table is an error.",
        "",
        "| variable | type | default | range | what it does |",
        "|---|---|---|---|---|",
    ]
    values = shipped_values()
    for f in fields(Thresholds):
        kind = "whole number" if "whole number" in range_text(f) else "number"
        allowed = range_text(f).replace("whole number, ", "")
        lines.append(f"| `{THRESHOLD_ENV_PREFIX}{f.name.upper()}` | {kind} | `{values[f.name]}` | {_cell(allowed)} "
                     f"| {_cell(f.metadata['doc'])} |")
    return "\n".join(lines) + "\n"
