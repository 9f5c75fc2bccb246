"""`aimatrix-pipeline config check`: validate every configuration input before a deployment.

Why a command: the code location reads the projects file and the alert rules when it loads, the
price book and the analytics thresholds only when a run needs them, so a typo in those could sit
unnoticed until a nightly run fails. This builds the settings the way the pipeline does (every
environment variable of docs/reference/settings.md: paths, crons, intervals, dates, retention
periods), then loads every file they name, and reports the first problem as one line naming the
file (or variable) and the field, with exit code 2.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping

EXIT_OK = 0


def check_all(env: Mapping[str, str] | None = None) -> dict[str, int]:
    """Load every configuration input; raises ConfigError on the first problem. Returns counts.

    `env`: the variables to check (default: the process environment, read by the settings module).
    Imports happen step by step, cheapest first, so a bad projects file is reported at once."""
    from aimatrix_pipeline.settings import environment, load_settings

    settings = load_settings(env)  # the projects file and every variable's type and range
    from aimatrix_pipeline.config_checks import env_dsn

    source_env = environment(env)
    for name in dsn_variables(settings):  # secrets: checked for shape here, read by the runs only
        env_dsn(source_env, name)
    from aimatrix_pipeline.shared.rules import load_rules

    rules = load_rules(settings.rules_path())
    from aimatrix_pipeline.fleet.retention import policy_from_settings

    policy_from_settings(settings)  # the retention periods' order (hourly at least full)
    settings.thresholds  # noqa: B018 - thresholds.yaml, AIMATRIX_ANALYTICS_THRESHOLDS and AIMATRIX_ANALYTICS_*
    from aimatrix_pipeline.cost.price_book import load_price_book

    prices = load_price_book(overrides_path=settings.price_book_overrides or "")
    return {"projects": len(settings.projects), "rules": len(rules.rules), "channels": len(rules.channels),
            "price entries": len(prices)}


def check_connections(env: Mapping[str, str] | None = None) -> list[str]:
    """Log in to every configured source as the pipeline does; ConfigError naming the first that
    fails (and how many more), one line, no secret. Returns the project names checked.

    Projects are probed in parallel (a fleet of unreachable hosts would otherwise take
    10 s each); the message names the first failing project in the projects file's order.
    """
    from concurrent.futures import ThreadPoolExecutor

    from aimatrix_pipeline.resources.source_postgres import SourcePostgresResource, probe_source
    from aimatrix_pipeline.settings import ConfigError, load_settings

    settings = load_settings(env)
    # DSNs are secrets: read the way the extract reads them (dagster.EnvVar), or from `env`
    dsn = (lambda name: env.get(name)) if env is not None else SourcePostgresResource().raw_dsn
    dsns = {p.name: dsn(p.db_url_env) for p in settings.projects}
    missing = [f"{p.db_url_env} (project {p.name})" for p in settings.projects if not dsns[p.name]]
    if missing:
        raise ConfigError(f"{', '.join(missing)} not set: each project's db_url_env must hold its DSN")
    with ThreadPoolExecutor(max_workers=min(8, max(1, len(settings.projects)))) as pool:
        reasons = list(pool.map(lambda p: probe_source(dsns[p.name], p.db_url_env), settings.projects))
    failed = [(p, r) for p, r in zip(settings.projects, reasons) if r]
    if failed:
        project, reason = failed[0]
        more = f" (and {len(failed) - 1} more project(s))" if len(failed) > 1 else ""
        raise ConfigError(f"cannot connect to project {project.name} (${project.db_url_env}): {reason}{more}")
    return [p.name for p in settings.projects]
def dsn_variables(settings) -> list[str]:
    """The variables holding DSNs: every project's `db_url_env` and `apply_db_url_env`, and
    AIMATRIX_APPLY_DB_URL."""
    names = []
    for project in settings.projects:
        names.append(project.db_url_env)
        apply_env = project.extra.get("apply_db_url_env")
        if isinstance(apply_env, str):
            names.append(apply_env)
    names.append("AIMATRIX_APPLY_DB_URL")
    return list(dict.fromkeys(names))


def cmd_check(args) -> int:
    counts = check_all()
    if args.connect:
        counts["sources connected"] = len(check_connections())
    print("configuration ok: " + ", ".join(f"{n} {what}" for what, n in counts.items()), file=sys.stdout)
    return EXIT_OK


def cmd_reference(args) -> int:
    from aimatrix_pipeline.settings import reference_markdown

    sys.stdout.write(reference_markdown())
    return EXIT_OK


def register(subparsers) -> None:
    p = subparsers.add_parser("config", help="validate the configuration files and environment")
    sub = p.add_subparsers(dest="config_command", metavar="SUBCOMMAND", required=True)
    q = sub.add_parser(
        "check",
        help="load the projects file, alert rules, price book, thresholds and numeric environment variables",
        description="Load every configuration input the pipeline reads (AIMATRIX_PROJECTS_FILE or "
        "SUPABASE_* variables, AIMATRIX_ALERT_RULES, AIMATRIX_PRICE_BOOK_OVERRIDES, thresholds.yaml, "
        "AIMATRIX_ANALYTICS_THRESHOLDS and AIMATRIX_ANALYTICS_*, AIMATRIX_RETENTION_*, "
        "AIMATRIX_COST_START_DATE, the AIMATRIX_*_CRON schedules, the sensor intervals; see "
        "docs/reference/settings.md) and report the first problem, naming the file and the field.",
    )
    q.add_argument("--connect", action="store_true",
                   help="also log in to every monitored database as the pipeline does (exit 2 if one fails)")
    q.set_defaults(func=cmd_check)
    r = sub.add_parser(
        "reference",
        help="print the settings reference (docs/reference/settings.md): every variable and threshold",
        description="Print the table of every environment variable and threshold (type, default, range, "
        "meaning), generated from the settings module and thresholds.yaml.",
    )
    r.set_defaults(func=cmd_reference)
