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

import yaml

PLANS = ("free", "pro", "team", "enterprise")
DEFAULT_PROJECT = "default"
DEFAULT_WAREHOUSE = "data/warehouse.duckdb"
DEFAULT_API_URL = "https://api.supabase.com"
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")


class ConfigError(ValueError):
    """A configuration problem, with the file and field it concerns in the message."""


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
    if value is None:
        return None
    try:
        budget = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{where}: 'monthly_budget_usd' must be a number, got {value!r}") from None
    if not math.isfinite(budget):  # a NaN budget compares False with every cost: never exceeded
        raise ConfigError(f"{where}: 'monthly_budget_usd' must be a finite number, got {value!r}")
    if budget < 0:
        raise ConfigError(f"{where}: 'monthly_budget_usd' must not be negative")
    return budget


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
    try:
        doc = yaml.safe_load(path.read_text()) or {}
    except FileNotFoundError:
        raise ConfigError(f"AIMATRIX_PROJECTS_FILE points at {path}, which does not exist") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(doc, dict):
        raise ConfigError(f"{path}: expected a mapping with 'organizations' and 'projects'")

    orgs: list[Organization] = []
    for i, raw in enumerate(doc.get("organizations") or []):
        where = f"{path}: organizations[{i}]"
        slug = str(_require(raw, "slug", where))
        plan = str(raw.get("plan", "pro")).lower()
        if plan not in PLANS:
            raise ConfigError(f"{where}: 'plan' must be one of {', '.join(PLANS)}, got {plan!r}")
        orgs.append(Organization(slug, plan, _budget(raw.get("monthly_budget_usd"), where)))
    org_slugs = {o.slug for o in orgs}
    declared = bool(org_slugs)  # with an organizations section, projects must name one of them

    projects: list[Project] = []
    known = {"name", "organization", "db_url_env", "ref", "compute_size", "monthly_budget_usd",
             "max_connections", "app_logs"}
    for i, raw in enumerate(doc.get("projects") or []):
        where = f"{path}: projects[{i}]"
        if not isinstance(raw, dict):
            raise ConfigError(f"{where}: expected a mapping")
        name = str(_require(raw, "name", where))
        if not _NAME_RE.match(name):
            raise ConfigError(f"{where}: 'name' {name!r} must be 1-63 letters, digits, '_', '.', '-'")
        if any(p.name == name for p in projects):
            raise ConfigError(f"{where}: duplicate project name {name!r}")
        org = str(raw.get("organization") or DEFAULT_PROJECT)
        if declared and org not in org_slugs:
            raise ConfigError(f"{where}: organization {org!r} is not listed under 'organizations'")
        if org not in org_slugs:
            orgs.append(Organization(org))
            org_slugs.add(org)
        db_url_env = str(_require(raw, "db_url_env", where))
        if "://" in db_url_env:
            raise ConfigError(f"{where}: 'db_url_env' is the NAME of an environment variable, not a DSN")
        projects.append(
            Project(
                name=name,
                organization=org,
                db_url_env=db_url_env,
                ref=raw.get("ref"),
                compute_size=str(raw.get("compute_size", "micro")).lower(),
                monthly_budget_usd=_budget(raw.get("monthly_budget_usd"), where),
                max_connections=int(raw.get("max_connections", 2)),
                extra={k: v for k, v in raw.items() if k not in known},
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
        raise ConfigError(f"SUPABASE_PLAN must be one of {', '.join(PLANS)}, got {plan!r}")
    org = Organization(DEFAULT_PROJECT, plan, _budget(env.get("SUPABASE_MONTHLY_BUDGET_USD"),
                                                   "environment variable SUPABASE_MONTHLY_BUDGET_USD"))
    project = Project(
        name=DEFAULT_PROJECT,
        organization=DEFAULT_PROJECT,
        db_url_env="SUPABASE_DB_URL",
        ref=env.get("SUPABASE_PROJECT_REF") or None,
        compute_size=(env.get("SUPABASE_COMPUTE_SIZE") or "micro").lower(),
        monthly_budget_usd=org.monthly_budget_usd,
    )
    source = "single_database" if env.get("SUPABASE_DB_URL") else "unconfigured"
    return Settings((project,), (org,), warehouse, api_url, source)
