"""`aimatrix-pipeline config check`: validate every configuration input before a deployment.

Why a command: the code location reads the projects file and the alert rules when it loads, the
price book and the analytics thresholds only when a run needs them, so a typo in those could sit
unnoticed until a nightly run fails. This loads all of them (and the numeric environment
variables) the way the pipeline does and reports the first problem as one line naming the file
and the field, with exit code 2.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping

EXIT_OK = 0
# Schedules whose cron expression comes from the environment (read where each schedule is defined).
CRON_VARIABLES = ("AIMATRIX_STATS_CRON", "AIMATRIX_LOGS_CRON", "AIMATRIX_COST_DAILY_CRON", "AIMATRIX_COST_REPORT_CRON",
                  "AIMATRIX_APPSIGNALS_CRON", "AIMATRIX_RETENTION_CRON", "AIMATRIX_DASHBOARD_CRON")


def _valid_cron(value: str) -> bool:
    """Dagster's own cron validation, through its public API: a schedule definition refuses an
    expression its scheduler would not run."""
    import dagster as dg

    try:
        dg.ScheduleDefinition(name="cron_check", cron_schedule=value, job_name="cron_check")
    except dg.DagsterInvalidDefinitionError:
        return False
    return True


def _check_crons(env: Mapping[str, str]) -> None:
    from aimatrix_pipeline.config_checks import ConfigError, shown

    for name in CRON_VARIABLES:
        value = env.get(name)
        if value is not None and not _valid_cron(value):
            raise ConfigError(f"environment variable {name} must be a cron expression such as "
                              f"'*/5 * * * *', got {shown(value)}")


def check_all(env: Mapping[str, str] | None = None) -> dict[str, int]:
    """Load every configuration input; raises ConfigError on the first problem. Returns counts.

    Imports happen step by step, cheapest first, so a bad projects file is reported at once."""
    env = os.environ if env is None else env
    from aimatrix_pipeline.config_checks import env_date, env_int
    from aimatrix_pipeline.settings import load_settings

    settings = load_settings(env)
    env_date(env, "AIMATRIX_COST_START_DATE", "2025-01-01")
    from aimatrix_pipeline.shared.rules import load_rules, rules_path

    rules = load_rules(rules_path(env))
    from aimatrix_pipeline.fleet.retention import policy_from_env

    policy_from_env(env)
    from aimatrix_pipeline.analytics.thresholds import load_thresholds

    load_thresholds(env)
    from aimatrix_pipeline.cost.price_book import OVERRIDES_ENV, load_price_book

    prices = load_price_book(overrides_path=env.get(OVERRIDES_ENV) or None)
    _check_crons(env)
    # read at import by alerts/sensors.py and analytics/sensors.py with the same bounds
    for name, default in (("AIMATRIX_ALERT_SENSOR_INTERVAL_S", 30), ("AIMATRIX_AUTOMATION_INTERVAL_S", 60)):
        env_int(env, name, 1, 86_400, default=default)
    return {"projects": len(settings.projects), "rules": len(rules.rules), "channels": len(rules.channels),
            "price entries": len(prices)}


def cmd_check(args) -> int:
    counts = check_all()
    print("configuration ok: " + ", ".join(f"{n} {what}" for what, n in counts.items()), file=sys.stdout)
    return EXIT_OK


def register(subparsers) -> None:
    p = subparsers.add_parser("config", help="validate the configuration files and environment")
    sub = p.add_subparsers(dest="config_command", metavar="SUBCOMMAND", required=True)
    q = sub.add_parser(
        "check",
        help="load the projects file, alert rules, price book, thresholds and numeric environment variables",
        description="Load every configuration input the pipeline reads (AIMATRIX_PROJECTS_FILE or "
        "SUPABASE_* variables, AIMATRIX_ALERT_RULES, AIMATRIX_PRICE_BOOK_OVERRIDES, "
        "AIMATRIX_ANALYTICS_THRESHOLDS and AIMATRIX_ANALYTICS_*, AIMATRIX_RETENTION_*, "
        "AIMATRIX_COST_START_DATE, the AIMATRIX_*_CRON schedules) and report the first problem, naming the file and the field.",
    )
    q.set_defaults(func=cmd_check)
