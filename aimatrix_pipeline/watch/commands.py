"""The `watch` and `dagster` subcommands (registered by cli.py through `register(subparsers)`)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from aimatrix_pipeline.watch.runner import DEFAULT_DATA_DIR


def cmd_watch(args) -> int:
    from aimatrix_pipeline.watch.runner import watch

    return watch(Path(args.data_dir), args.port, connect_check=not args.no_connect_check)


def cmd_dagster(args) -> int:
    from aimatrix_pipeline.shared.cli_output import EXIT_USAGE
    from aimatrix_pipeline.watch.runner import run_dagster

    rest = args.dagster_args[1:] if args.dagster_args[:1] == ["--"] else args.dagster_args
    if not rest:
        print("error: give a Dagster command, e.g. aimatrix-pipeline dagster -- instance info", file=sys.stderr)
        return EXIT_USAGE
    return run_dagster(rest, Path(args.data_dir))


def cmd_backfill(args) -> int:
    from aimatrix_pipeline.shared.cli_output import EXIT_USAGE
    from aimatrix_pipeline.watch.backfill import BackfillKeyError, run_backfill

    selection = [s.strip() for s in args.select.split(",") if s.strip()]
    try:
        return run_backfill(selection, args.month, args.day_from, args.day_to, Path(args.data_dir))
    except BackfillKeyError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "watch",
        help="run the pipeline on your own database (SUPABASE_DB_URL or AIMATRIX_PROJECTS_FILE) with the Dagster UI",
        description="Run the Dagster UI, schedules and sensors on the database in SUPABASE_DB_URL (or the "
        "fleet in AIMATRIX_PROJECTS_FILE). Dagster's storage is DAGSTER_PG_URL if set, else an embedded "
        "PostgreSQL kept in --data-dir; the warehouse is AIMATRIX_WAREHOUSE if set, else "
        "<data-dir>/warehouse.duckdb. Ctrl-C stops everything; running it again continues.",
    )
    p.add_argument("--data-dir", default=str(DEFAULT_DATA_DIR),
                   help=f"Dagster home, embedded cluster and warehouse (default: {DEFAULT_DATA_DIR})")
    p.add_argument("--port", type=int, default=3000, help="Dagster UI port (default: 3000)")
    p.add_argument("--no-connect-check", action="store_true",
                   help="start even if a monitored database cannot be logged in to now (by default "
                   "that is one line and exit code 2)")
    p.set_defaults(func=cmd_watch)

    p = subparsers.add_parser(
        "dagster",
        help="run a Dagster CLI command on the instance `watch` uses (e.g. a backfill)",
        description="Run `dagster ARGS` with the environment `watch` gives the code location (DAGSTER_HOME "
        "and storage under --data-dir, the embedded PostgreSQL started if needed). Put -- before "
        "Dagster's own options.",
        epilog="example:\n  aimatrix-pipeline dagster -- asset materialize -m aimatrix_pipeline.definitions "
        "--select raw/table_stats --partition default\n\nexit codes: the Dagster command's own; 2 usage or "
        "configuration error (one line on stderr)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--data-dir", default=str(DEFAULT_DATA_DIR),
                   help=f"as for watch (default: {DEFAULT_DATA_DIR})")
    p.add_argument("dagster_args", nargs=argparse.REMAINDER, help="the Dagster command and its options")
    p.set_defaults(func=cmd_dagster)

    from aimatrix_pipeline.watch.backfill import DEFAULT_SELECTION

    p = subparsers.add_parser(
        "backfill",
        help="price past days and build their months' cost reports (one run per partitions definition)",
        description="Backfill the cost report assets for a month or a range of days on the instance `watch` "
        "(or, with --data-dir .aimatrix-demo, the demo) uses: the days' usage in one run (it waits on Supabase's "
        "APIs without a warehouse pool slot), their price book and daily cost in one run, then the months' "
        "reports in one run (BackfillPolicy.single_run()). Days are UTC; a day "
        "is priced once it is over, so the running month is priced through yesterday. Partition keys: "
        "a day is YYYY-MM-DD, a month's key is its first day (2026-10-01).",
        epilog="examples:\n  aimatrix-pipeline backfill --month 2026-10\n"
        "  aimatrix-pipeline backfill --from 2026-03-01 --to 2026-05-31\n"
        "  aimatrix-pipeline backfill --data-dir .aimatrix-demo --month 2026-11\n\n"
        "exit codes: 0 every run succeeded, 1 a run failed (its reason on stderr), 2 a wrong month, day or "
        "asset, or a configuration error (one line on stderr)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    when = p.add_mutually_exclusive_group()
    when.add_argument("--month", help="YYYY-MM: every finished day of that month, and its report")
    when.add_argument("--from", dest="day_from", metavar="YYYY-MM-DD", help="first day (UTC)")
    p.add_argument("--to", dest="day_to", metavar="YYYY-MM-DD", help="last day (default: yesterday)")
    p.add_argument("--select", default=",".join(DEFAULT_SELECTION),
                   help=f"comma-separated asset keys (default: {','.join(DEFAULT_SELECTION)})")
    p.add_argument("--data-dir", default=str(DEFAULT_DATA_DIR), help=f"as for watch (default: {DEFAULT_DATA_DIR})")
    p.set_defaults(func=cmd_backfill)
