"""Projected month-end cost against the configured budgets (shared by the check and the CLI)."""

from __future__ import annotations

import datetime as dt
import math

from aimatrix_pipeline.sql_files import load_sql


def evaluate_budgets(conn, today: dt.date) -> tuple[dt.date | None, list[dict], int]:
    """(month, rows with scope/name/budget/cost/projection/over, unknown items in that month).

    A row whose projection or budget is not a finite number counts as over (`not_a_number`).
    """
    month = today.replace(day=1)
    has = conn.execute("select count(*) from cost.monthly_cost_report where month = ?", [month]).fetchone()[0]
    if not has:
        month = conn.execute("select max(month) from cost.monthly_cost_report").fetchone()[0]
        if month is None:
            return None, [], 0
    cur = conn.execute(load_sql("warehouse/cost/budget_status.sql"), {"month": month})
    cols = [d[0] for d in cur.description]
    rows = [dict(zip(cols, r)) for r in cur.fetchall()]
    for r in rows:
        # a NaN/Infinity cost or budget compares False with everything: never read it as "holds"
        figures = (r["projected_cost_usd"] or 0, r["budget_usd"])
        r["not_a_number"] = not all(math.isfinite(x) for x in figures)
        r["over"] = r["not_a_number"] or figures[0] > figures[1]
    unknown = conn.execute(
        "select count(*) from cost.monthly_cost_report where month = ? and status <> 'known'", [month]
    ).fetchone()[0]
    return month, rows, int(unknown)
