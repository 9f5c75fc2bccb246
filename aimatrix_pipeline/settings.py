"""Typed settings: the one place that reads the environment and the projects file.

Everything the code location needs to know about *which* projects to watch is resolved here, at
definition-load time, because the project list decides the partitions. Secrets are never read here:
a project names the environment variable that holds its DSN (`db_url_env`), and resources resolve
it through `dagster.EnvVar` at run time, so DSNs never reach the UI, logs or metadata.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

from aimatrix_pipeline.config_checks import (
    ConfigError,
    env_finite,
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

__all__ = ["ConfigError", "Organization", "Project", "Settings", "load_settings", "parse_projects_file"]

PLANS = ("free", "pro", "team", "enterprise")
DEFAULT_PROJECT = "default"
DEFAULT_WAREHOUSE = "data/warehouse.duckdb"
DEFAULT_API_URL = "https://api.supabase.com"
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")
_REF_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_SIZE_RE = re.compile(r"^[a-z0-9_-]{1,32}$")
MAX_CONNECTIONS = (1, 100)  # per source; each one is also a slot file and a server backend
MAX_BUDGET_USD = 1e9
# Keys under a project that other modules read from `Project.extra`: checked here all the same.
_EXTRA_ENV_KEYS = ("service_role_key_env", "apply_db_url_env")
_URL_RE = re.compile(r"^https?://[^\s]{1,2000}$")


@dataclass(frozen=True)
class Organization:
    slug: str
    plan: str = "pro"
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
class Settings:
    projects: tuple[Project, ...]
    organizations: tuple[Organization, ...]
    warehouse_path: str
    api_url: str
    source: str  # "projects_file" | "single_database" | "unconfigured"

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
        plan = require_choice(raw.get("plan", "pro"), f"{where}: 'plan'", PLANS, lower=True)
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


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Resolve settings from the environment (defaults to `os.environ`)."""
    env = os.environ if env is None else env
    warehouse = env.get("AIMATRIX_WAREHOUSE") or DEFAULT_WAREHOUSE
    api_url = (env.get("SUPABASE_API_URL") or DEFAULT_API_URL).rstrip("/")
    projects_file = env.get("AIMATRIX_PROJECTS_FILE")
    if projects_file:
        projects, orgs = parse_projects_file(projects_file)
        return Settings(projects, orgs, warehouse, api_url, "projects_file")

    plan = (env.get("SUPABASE_PLAN") or "pro").lower()
    if plan not in PLANS:
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
    return Settings((project,), (org,), warehouse, api_url, source)
