"""The `aimatrix-pipeline` command.

Subcommands live with their domain (`<domain>/commands.py` exposes `register(subparsers)`); this
module holds the entry point and the warehouse commands (`sql`, `publish`). Exit codes: 0 success,
1 the command ran but found a problem (query error, failed check), 2 usage or configuration error.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from aimatrix_pipeline.shared.cli_output import EXIT_FAILED, EXIT_OK, EXIT_USAGE, write_result
from aimatrix_pipeline.terminal import quiet_library_warnings, safe_output

__all__ = ["EXIT_FAILED", "EXIT_OK", "EXIT_USAGE", "build_parser", "main", "write_result"]

COMMAND_MODULES = (
    "aimatrix_pipeline.demo.commands",
    "aimatrix_pipeline.watch.commands",
    "aimatrix_pipeline.analytics.commands",
    "aimatrix_pipeline.cost.commands",
    "aimatrix_pipeline.alerts.commands",
    "aimatrix_pipeline.remediation.commands",
    "aimatrix_pipeline.dashboard.commands",
    "aimatrix_pipeline.config_commands",
)




def cmd_sql(args) -> int:
    import duckdb

    from aimatrix_pipeline.resources.warehouse import (
        WarehouseDamaged,
        WarehouseLockTimeout,
        damage_of,
        warehouse_from_env,
    )
    from aimatrix_pipeline.warehouse import FILES_HINT, QueryRefused, user_query

    wh = warehouse_from_env()
    query = sys.stdin.read() if args.query == "-" else args.query
    try:
        with user_query(query, warehouse=wh, timeout_s=args.timeout, allow_files=args.allow_files) as cur:
            columns = [d[0] for d in cur.description] if cur.description else []
            rows = cur.fetchall() if columns else []
    except QueryRefused as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except (WarehouseLockTimeout, WarehouseDamaged) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except duckdb.InterruptException:
        print(f"error: query interrupted after {args.timeout}s (--timeout)", file=sys.stderr)
        return EXIT_FAILED
    except duckdb.PermissionException as exc:
        print(f"error: {str(exc).splitlines()[0]}: {FILES_HINT}", file=sys.stderr)
        return EXIT_USAGE
    except duckdb.Error as exc:
        damage = damage_of(exc, wh.file)
        if damage is not None:
            print(f"error: {damage}", file=sys.stderr)
            return EXIT_FAILED
        if "the configuration has been locked" in str(exc):
            print(f"error: {str(exc).splitlines()[0]}: `sql` runs with the warehouse's settings", file=sys.stderr)
            return EXIT_USAGE
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    write_result(columns, rows, args.format)
    return EXIT_OK


def cmd_publish(args) -> int:
    from aimatrix_pipeline.resources.warehouse import WarehouseLockTimeout, warehouse_from_env

    wh = warehouse_from_env()
    if not wh.file.exists():
        print(f"error: warehouse {wh.file} does not exist yet: materialize the extract assets first",
              file=sys.stderr)
        return EXIT_USAGE
    try:
        path = wh.publish_snapshot()
    except WarehouseLockTimeout as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    print(f"published {path}")
    return EXIT_OK


EXIT_CODES_EPILOG = "exit codes: 0 ok, 1 the command ran but found a problem, 2 usage or configuration error"
MAIN_EPILOG = """quick start:
  aimatrix-pipeline demo                  # embedded Supabase-like database + Dagster UI on :3000
  aimatrix-pipeline watch                 # your database (SUPABASE_DB_URL) + Dagster UI on :3000
  aimatrix-pipeline dashboard open        # render the monitoring dashboard and open it

examples:
  aimatrix-pipeline sql "select * from analytics.slow_queries_summary order by total_time_ms desc limit 10"
  aimatrix-pipeline report recommendations --sql --fail-on critical
  aimatrix-pipeline backfill --month 2026-10              # price a past month and build its report
  aimatrix-pipeline report cost --month 2026-11 --format csv > cost.csv
  aimatrix-pipeline alerts list

environment: AIMATRIX_WAREHOUSE (warehouse file, default data/warehouse.duckdb), SUPABASE_DB_URL or
AIMATRIX_PROJECTS_FILE (what to monitor); see docs/configuration.md.
Run `aimatrix-pipeline COMMAND --help` for a command's options.

""" + EXIT_CODES_EPILOG
SQL_EPILOG = """examples:
  aimatrix-pipeline sql "select project, count(*) from analytics.optimization_recommendations group by 1"
  aimatrix-pipeline sql --format csv "select * from cost.monthly_cost_report" > cost.csv
  echo "select * from alerts.alert_events where status = 'firing'" | aimatrix-pipeline sql --format json -

""" + EXIT_CODES_EPILOG + " (1: query error, lock or --timeout; 2: no warehouse yet, or the query was refused)"
GENERIC_HELP = {
    "--format": "output format: table (default, aligned text), csv or json",
    "--limit": "at most this many rows",
    "--by": "who did it (recorded with the change)",
    "--reason": "why (recorded with the change)",
}


def _polish(parser: argparse.ArgumentParser, top: bool = True) -> None:
    """Give every command a description, an exit-code epilog and help for common options, so each
    `--help` stands on its own for a new user. Commands' own texts always win."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {a.dest: a.help for a in action._choices_actions}
            for name, sub in action.choices.items():
                if not sub.description and helps.get(name):
                    sub.description = helps[name][:1].upper() + helps[name][1:] + "."
                _polish(sub, top=False)
        elif action.help is None:
            for opt in action.option_strings:
                if opt in GENERIC_HELP:
                    action.help = GENERIC_HELP[opt]
    if not top and not parser.epilog and not any(
            isinstance(a, argparse._SubParsersAction) for a in parser._actions):
        parser.epilog = EXIT_CODES_EPILOG


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="aimatrix-pipeline",
        description="Monitor Supabase projects (managed PostgreSQL): query statistics, health, cost "
        "and alerts, kept in a DuckDB warehouse by a Dagster code location.",
        epilog=MAIN_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser(
        "sql",
        help="run a read-only query on the warehouse (safe while schedules run)",
        description="Run SQL on the DuckDB warehouse ($AIMATRIX_WAREHOUSE) read-only. Waits for a "
        "running write to commit, never sees half-written data, never blocks a run for longer "
        "than --timeout seconds. Sandboxed: no file but the warehouse (unless --allow-files), no "
        "extension download or load, no ATTACH, no configuration change.",
        epilog=SQL_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("query", help="SQL text, or - to read it from standard input")
    p.add_argument("--format", choices=("table", "csv", "json"), default="table")
    p.add_argument("--timeout", type=float, default=120.0, help="interrupt the query after N seconds")
    p.add_argument("--allow-files", action="store_true",
                   help="let the query read and write local files (read_csv, read_text, COPY ... TO, EXPORT); "
                   "without it only the warehouse is reachable. Extensions and ATTACH stay refused")
    p.set_defaults(func=cmd_sql)

    p = sub.add_parser(
        "publish",
        help="copy the warehouse to <name>.snapshot.duckdb for tools that keep connections open",
        description="Copy the committed warehouse to <name>.snapshot.duckdb next to it (atomically). "
        "BI tools and notebooks that keep a connection open should read the snapshot: an open "
        "connection to the warehouse itself would hold back the pipeline's writers.",
    )
    p.set_defaults(func=cmd_publish)

    for module_name in COMMAND_MODULES:
        importlib.import_module(module_name).register(sub)
    _polish(parser)
    return parser


# `sh`'s status for a command ended by SIGPIPE (128 + 13): what `cmd | head` reports for C tools.
EXIT_BROKEN_PIPE = 141


def _stdout_to_devnull() -> None:
    """After a broken pipe: what is still buffered for stdout goes nowhere, so the interpreter's
    flush at exit does not print "Exception ignored ... BrokenPipeError" (Python's documented
    recipe, docs.python.org/3/library/signal.html#note-on-sigpipe)."""
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.__stdout__.fileno())
    except (OSError, AttributeError, ValueError):
        pass


def main(argv: list[str] | None = None) -> int:
    from aimatrix_pipeline.settings import ConfigError, make_paths_absolute

    quiet_library_warnings()
    # relative paths in settings mean this working directory, also for the children we start
    make_paths_absolute()
    with safe_output():  # nothing a command prints reaches the terminal with raw control characters
        try:
            parser = build_parser()  # imports modules that read the environment at import time
            args = parser.parse_args(argv)
            if not getattr(args, "func", None):
                parser.print_help()
                return EXIT_USAGE
            status = int(args.func(args) or 0)
            sys.stdout.flush()  # a reader that went away (`| head`) shows here, not at exit
            return status
        except BrokenPipeError:
            # the reader (`head`, a pager) stopped reading: that is how such pipes end, not an error
            _stdout_to_devnull()
            return EXIT_BROKEN_PIPE
        except ConfigError as exc:
            # one line (a YAML parser's message spans several), whatever the bad value contained
            print(f"configuration error: {' '.join(str(exc).split())}", file=sys.stderr)
            return EXIT_USAGE
        except KeyboardInterrupt:
            return 130


if __name__ == "__main__":
    sys.exit(main())
