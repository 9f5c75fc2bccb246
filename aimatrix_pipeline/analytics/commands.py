"""`aimatrix-pipeline report slow-queries` and `report recommendations`, read from the warehouse.

Both read through the warehouse's read-only path (safe while runs write). `recommendations`
exits 1 when `--fail-on LEVEL` is given and a finding at that level or worse exists, so it can
gate a deploy or a cron job; 2 on a usage error (no warehouse yet).

The `report` command is shared with other domains: whichever registers first creates it and
keeps its sub-command registry on the parser (`aimatrix_reports`); the others reuse it.
"""

from __future__ import annotations

import argparse
import sys

LEVELS = ("info", "warning", "critical")


def _report_registry(subparsers):
    parser = subparsers.choices.get("report")
    if parser is None:
        parser = subparsers.add_parser("report", help="print a report from the warehouse")
        parser.set_defaults(func=lambda args: (parser.print_help(), 2)[1])
    registry = getattr(parser, "aimatrix_reports", None)
    if registry is None:
        registry = parser.add_subparsers(dest="report", metavar="REPORT")
        parser.aimatrix_reports = registry
    return registry


def _query(sql_file: str, params: dict):
    from aimatrix_pipeline.resources.warehouse import warehouse_from_env
    from aimatrix_pipeline.sql_files import load_sql

    with warehouse_from_env().reader() as conn:
        cur = conn.execute(load_sql(sql_file), params)
        return [d[0] for d in cur.description], cur.fetchall()


def cmd_slow_queries(args) -> int:
    from aimatrix_pipeline.shared.cli_output import EXIT_OK, EXIT_USAGE, write_result

    try:
        columns, rows = _query("warehouse/analytics/report_slow_queries.sql",
                               {"project": args.project, "hours": args.hours, "limit": args.limit})
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    write_result(columns, rows, args.format)
    return EXIT_OK


def cmd_recommendations(args) -> int:
    from aimatrix_pipeline.shared.cli_output import EXIT_FAILED, EXIT_OK, EXIT_USAGE, write_result

    try:
        columns, rows = _query("warehouse/analytics/report_recommendations.sql",
                               {"project": args.project, "limit": args.limit})
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if args.no_sql:
        keep = [i for i, c in enumerate(columns) if c != "remediation_sql"]
        columns = [columns[i] for i in keep]
        rows = [tuple(r[i] for i in keep) for r in rows]
    write_result(columns, rows, args.format)
    if args.fail_on:
        level_col = columns.index("level")
        worst = [r for r in rows if LEVELS.index(r[level_col]) >= LEVELS.index(args.fail_on)]
        if worst:
            print(f"{len(worst)} finding(s) at level {args.fail_on} or above", file=sys.stderr)
            return EXIT_FAILED
    return EXIT_OK


def register(subparsers) -> None:
    reports = _report_registry(subparsers)
    p = reports.add_parser("slow-queries", help="slowest statements by total time (analytics.slow_queries_summary)")
    p.add_argument("--project", help="one project (default: all)")
    p.add_argument("--hours", type=int, default=24, help="look back this many hours (default 24)")
    p.add_argument("--limit", type=int, default=20)
    p.add_argument("--format", choices=("table", "csv", "json"), default="table")
    p.set_defaults(func=cmd_slow_queries)

    p = reports.add_parser("recommendations", help="current findings by impact (analytics.optimization_recommendations)")
    p.add_argument("--project", help="one project (default: all)")
    p.add_argument("--limit", type=int, default=50)
    # the SQL to fix each finding is what the report is for (README: "findings with the SQL to fix
    # them"); --sql, which once had to be asked for, is still accepted
    p.add_argument("--no-sql", action="store_true", help="leave out the remediation SQL column")
    p.add_argument("--sql", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--fail-on", choices=LEVELS, help="exit 1 if a finding at this level or worse exists")
    p.add_argument("--format", choices=("table", "csv", "json"), default="table")
    p.set_defaults(func=cmd_recommendations)
