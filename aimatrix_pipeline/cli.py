"""The `aimatrix-pipeline` command.

Subcommands live with their domain (`<domain>/commands.py` exposes `register(subparsers)`); this
module holds the entry point and the warehouse commands (`sql`, `publish`). Exit codes: 0 success,
1 the command ran but found a problem (query error, failed check), 2 usage or configuration error.
"""

from __future__ import annotations

import argparse
import csv
import importlib
import json
import sys

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2

COMMAND_MODULES = (
    "aimatrix_pipeline.demo.commands",
    "aimatrix_pipeline.analytics.commands",
    "aimatrix_pipeline.cost.commands",
    "aimatrix_pipeline.alerts.commands",
    "aimatrix_pipeline.remediation.commands",
    "aimatrix_pipeline.dashboard.commands",
)


def _print_table(columns: list[str], rows: list[tuple], out) -> None:
    cells = [[("NULL" if v is None else str(v)) for v in row] for row in rows]
    widths = [min(60, max([len(c)] + [len(r[i]) for r in cells])) for i, c in enumerate(columns)]
    out.write(" | ".join(c.ljust(w) for c, w in zip(columns, widths)) + "\n")
    out.write("-+-".join("-" * w for w in widths) + "\n")
    for r in cells:
        out.write(" | ".join(v[:w].ljust(w) for v, w in zip(r, widths)) + "\n")
    out.write(f"({len(rows)} row{'s' if len(rows) != 1 else ''})\n")


def write_result(columns: list[str], rows: list[tuple], fmt: str, out=None) -> None:
    out = out or sys.stdout
    if fmt == "csv":
        writer = csv.writer(out)
        writer.writerow(columns)
        writer.writerows(rows)
    elif fmt == "json":
        json.dump([dict(zip(columns, r)) for r in rows], out, default=str, indent=2)
        out.write("\n")
    else:
        _print_table(columns, rows, out)


def cmd_sql(args) -> int:
    import duckdb

    from aimatrix_pipeline.resources.warehouse import WarehouseLockTimeout, warehouse_from_env

    wh = warehouse_from_env()
    query = sys.stdin.read() if args.query == "-" else args.query
    try:
        with wh.reader(timeout_s=args.timeout) as conn:
            cur = conn.execute(query)
            columns = [d[0] for d in cur.description] if cur.description else []
            rows = cur.fetchall() if columns else []
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except WarehouseLockTimeout as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except duckdb.InterruptException:
        print(f"error: query interrupted after {args.timeout}s (--timeout)", file=sys.stderr)
        return EXIT_FAILED
    except duckdb.Error as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    write_result(columns, rows, args.format)
    return EXIT_OK


def cmd_publish(args) -> int:
    from aimatrix_pipeline.resources.warehouse import warehouse_from_env

    path = warehouse_from_env().publish_snapshot()
    print(f"published {path}")
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="aimatrix-pipeline",
        description="Monitor Supabase projects: query statistics, health, cost and alerts.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser(
        "sql",
        help="run a read-only query on the warehouse (safe while schedules run)",
        description="Run SQL on the DuckDB warehouse ($AIMATRIX_WAREHOUSE) read-only. Waits for a "
        "running write to commit, never sees half-written data, never blocks a run for longer "
        "than --timeout seconds.",
    )
    p.add_argument("query", help="SQL text, or - to read it from standard input")
    p.add_argument("--format", choices=("table", "csv", "json"), default="table")
    p.add_argument("--timeout", type=float, default=120.0, help="interrupt the query after N seconds")
    p.set_defaults(func=cmd_sql)

    p = sub.add_parser(
        "publish",
        help="copy the warehouse to <name>.snapshot.duckdb for tools that keep connections open",
    )
    p.set_defaults(func=cmd_publish)

    for module_name in COMMAND_MODULES:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name == module_name:
                continue
            raise
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_USAGE
    from aimatrix_pipeline.settings import ConfigError

    try:
        return int(args.func(args) or 0)
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
