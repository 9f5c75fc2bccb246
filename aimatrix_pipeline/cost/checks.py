"""Budget check: the projected month-end cost must stay within the configured monthly budgets.

Budgets come from the projects file (`monthly_budget_usd` on an organization or a project; in
single-database mode `SUPABASE_MONTHLY_BUDGET_USD`). The check looks at the running month (or, when
it has no report yet, the latest reported month) and fails when any projected cost exceeds its
budget; the alerts domain turns the failed check into a notification. Unknown line items are not
counted (they have no cost), which the metadata says so a reader can judge the margin.
"""

from __future__ import annotations

import datetime as dt

import dagster as dg

from aimatrix_pipeline.cost.assets import MONTHLY_KEY
from aimatrix_pipeline.cost.budgets import evaluate_budgets
from aimatrix_pipeline.resources.warehouse import WarehouseResource

BUDGET_CHECK_NAME = "monthly_budget_not_exceeded"


@dg.asset_check(
    asset=MONTHLY_KEY,
    name=BUDGET_CHECK_NAME,
    description="Projected month-end cost of each organization and project is within its monthly budget.",
    blocking=False,
)
def monthly_budget_not_exceeded(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    with warehouse.reader() as conn:
        month, rows, unknown = evaluate_budgets(conn, dt.datetime.now(dt.UTC).date())
    over = [r for r in rows if r["over"]]
    invalid = [r for r in rows if r["not_a_number"]]
    table = "| scope | name | budget_usd | cost_usd | projected_cost_usd |\n|---|---|---|---|---|\n" + "\n".join(
        f"| {r['scope']} | {r['name']} | {r['budget_usd']:.2f} | {(r['cost_usd'] or 0):.2f} | "
        f"{(r['projected_cost_usd'] or 0):.2f} |" for r in rows)
    return dg.AssetCheckResult(
        passed=not over,
        severity=dg.AssetCheckSeverity.WARN,
        description=(f"{len(invalid)} budget(s) cannot be judged: the cost or budget is not a finite number"
                     if invalid else
                     f"{len(over)} budget(s) exceeded by the projected month-end cost" if over
                     else "all budgets hold" if rows else "no budgets configured"),
        metadata={
            "month": month.isoformat() if month else "none",
            "budgets": dg.MetadataValue.md(table),
            "over_budget": dg.MetadataValue.json(
                [{"scope": r["scope"], "name": r["name"], "budget_usd": r["budget_usd"],
                  "projected_cost_usd": round(r["projected_cost_usd"] or 0, 2)} for r in over]),
            "unknown_or_partial_items": unknown,
        },
    )


COST_CHECKS = [monthly_budget_not_exceeded]
