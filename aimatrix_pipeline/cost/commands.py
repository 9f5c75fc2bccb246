"""`aimatrix-pipeline report cost --month YYYY-MM`: the month's invoice from the warehouse.

Reads cost.monthly_cost_report (read-only, safe while runs write), prints one block per
organization with a total line (and says on stderr when a month is incomplete: days never
extracted, or items unknown, with the reasons in the `detail` column), and exits 1 when a projected month-end cost exceeds a configured
budget (the same rule as the `monthly_budget_not_exceeded` check), 2 on a usage error.

`report` is shared: a domain that wants `report <thing>` reuses the parser registered first
(`report_subparsers`), so domains can add reports in any order.
"""

from __future__ import annotations

import datetime as dt
import sys

REPORT_COLUMNS = ["organization", "line_item", "usage", "unit", "included", "billable", "cost_usd",
                  "projected_cost_usd", "status", "missing_days", "detail"]


def report_subparsers(subparsers):
    """The `report` command's sub-command registry, created on first use."""
    parser = subparsers.choices.get("report")
    if parser is None:
        parser = subparsers.add_parser("report", help="print a report from the warehouse")
        parser.set_defaults(func=lambda args: (parser.print_help(), 2)[1])
    registry = getattr(parser, "aimatrix_reports", None)
    if registry is None:
        registry = parser.add_subparsers(dest="report", metavar="REPORT")
        parser.aimatrix_reports = registry
    return registry


def _month(text: str) -> dt.date:
    try:
        return dt.datetime.strptime(text, "%Y-%m").date()
    except ValueError:
        raise ValueError(f"--month must look like 2026-03, got {text!r}") from None


MAX_REASONS = 4


def incomplete_reasons(rows: list[tuple]) -> dict[str, str]:
    """Why each incomplete organization's month is incomplete, from its lines (REPORT_COLUMNS):
    the days never extracted, if any, then the distinct reasons of its unknown lines (e.g. no
    Supabase project ref, no plan configured), most frequent first. Never "missing days" when
    none are missing."""
    out: dict[str, str] = {}
    for total in (r for r in rows if r[1] == "TOTAL" and r[8] != "known"):
        org, missing = total[0], total[9]
        counts: dict[str, int] = {}
        for r in rows:
            if r[0] == org and r[1] != "TOTAL" and r[8] != "known" and r[10]:
                for reason in str(r[10]).split("; "):
                    if reason and not reason.startswith(f"{missing} day(s) with no usage extracted"):
                        counts[reason] = counts.get(reason, 0) + 1
        parts = []
        if missing:
            parts.append(f"{missing} finished day(s) of usage never extracted (materialize raw/usage_daily "
                         "and cost/cost_breakdown_daily for them: aimatrix-pipeline backfill)")
        ranked = sorted(counts, key=lambda k: (-counts[k], k))
        if ranked:
            shown_reasons = "; ".join(ranked[:MAX_REASONS])
            more = f"; and {len(ranked) - MAX_REASONS} more" if len(ranked) > MAX_REASONS else ""
            parts.append(f"unknown items: {shown_reasons}{more}")
        out[org] = "; ".join(parts or ["some items are unknown"]) + " (see the status and detail columns)"
    return out


def cmd_report_cost(args) -> int:
    from aimatrix_pipeline.cost.budgets import evaluate_budgets
    from aimatrix_pipeline.resources.warehouse import warehouse_from_env
    from aimatrix_pipeline.shared.cli_output import EXIT_FAILED, EXIT_OK, EXIT_USAGE, write_result
    from aimatrix_pipeline.sql_files import load_sql

    try:
        month = _month(args.month) if args.month else dt.datetime.now(dt.UTC).date().replace(day=1)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    try:
        with warehouse_from_env().reader() as conn:
            cur = conn.execute(load_sql("warehouse/cost/report_cost.sql"),
                               {"month": month, "organization": args.organization})
            rows = cur.fetchall()
            _, budgets, _ = evaluate_budgets(conn, month)
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if not rows:
        print(f"no cost report for {month:%Y-%m}: materialize cost/monthly_cost_report for that month",
              file=sys.stderr)
        return EXIT_FAILED
    write_result(REPORT_COLUMNS, rows, args.format)
    for org, why in incomplete_reasons(rows).items():
        print(f"incomplete: {org} {month:%Y-%m}: {why}", file=sys.stderr)
    over = [b for b in budgets if b["over"] and (not args.organization or b["scope"] == "project"
                                                 or b["name"] == args.organization)]
    for b in over:
        if b["not_a_number"]:
            print(f"budget not judged: {b['scope']} {b['name']}: the projected cost or the budget is not a "
                  "finite number", file=sys.stderr)
            continue
        print(f"over budget: {b['scope']} {b['name']} projects ${b['projected_cost_usd']:.2f} "
              f"against ${b['budget_usd']:.2f}", file=sys.stderr)
    return EXIT_FAILED if over else EXIT_OK


def register(subparsers) -> None:
    p = report_subparsers(subparsers).add_parser(
        "cost",
        help="the month's Supabase bill per organization and line item",
        description="Print cost.monthly_cost_report for a month: usage, included quota, billable, "
        "cost and the month-end projection. Exit 1 when a projection exceeds a budget.",
    )
    p.add_argument("--month", help="YYYY-MM (default: the running month)")
    p.add_argument("--organization", help="only this organization")
    p.add_argument("--format", choices=("table", "csv", "json"), default="table")
    p.set_defaults(func=cmd_report_cost)
