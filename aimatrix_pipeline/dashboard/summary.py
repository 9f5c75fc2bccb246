"""What the dashboard asset's materialization says in the Dagster UI: headline numbers and Markdown.

Values are picked from the fleet rows ('*') the dashboard queries already aggregated; nothing is
computed here beyond choosing the latest point and adding up the month's line items for display.
"""

from __future__ import annotations

from aimatrix_pipeline.dashboard.data import DashboardData


def _records(data: DashboardData, name: str) -> list[dict]:
    d = data.datasets.get(name)
    return d.records() if d else []


def headline(data: DashboardData) -> dict[str, float | None]:
    month = [r for r in _records(data, "cost_month") if r["project"] == "*"]
    health = _records(data, "database_health")
    latest_health = {}
    for r in health:  # rows are ordered by project, snapshot_at: the last one per project wins
        latest_health[r["project"]] = r
    ratios = [r["heap_cache_hit_ratio"] for r in latest_health.values() if r["heap_cache_hit_ratio"] is not None]
    vector = [r["p95_ms"] for r in _records(data, "vector_p95") if r["p95_ms"] is not None]
    return {
        "cost_month_to_date_usd": round(sum(r["cost_usd"] or 0 for r in month), 2) if month else None,
        "projected_cost_usd": round(sum(r["projected_cost_usd"] or 0 for r in month), 2) if month else None,
        "min_cache_hit_ratio": min(ratios) if ratios else None,
        "latest_vector_p95_ms": vector[-1] if vector else None,
        "open_alerts": float(len(_records(data, "open_alerts"))),
    }


def cost_month_label(data: DashboardData) -> tuple[str, str]:
    """Labels for the month's cost and projection: the month they are for, whether it is the
    running month or only the latest reported one, and whether its figures are incomplete."""
    month = [r for r in _records(data, "cost_month") if r["project"] == "*"]
    if not month:
        return "cost so far this month", "projected at month end"
    shown = str(month[0]["month"])[:7]
    gaps = max((r.get("missing_days") or 0) for r in month)
    caveat = ""
    if any(r.get("complete") is False for r in month):
        caveat = f" (incomplete: {gaps} day(s) not extracted)" if gaps else " (incomplete: some items unknown)"
    running = shown == str(data.generated_at)[:7]
    spent = f"cost so far in {shown}" if running else f"cost in {shown}, the latest report"
    return spent + caveat, f"projected for {shown}"


def markdown_summary(data: DashboardData) -> str:
    h = headline(data)
    spent_label, projected_label = cost_month_label(data)

    def f(v, unit=""):
        return "–" if v is None else (f"${v:,.2f}" if unit == "$" else f"{v:,.4g}{unit}")

    lines = [
        "| figure | value |", "|---|---|",
        f"| {spent_label} | {f(h['cost_month_to_date_usd'], '$')} |",
        f"| {projected_label} | {f(h['projected_cost_usd'], '$')} |",
        f"| lowest cache hit ratio (latest) | {f(h['min_cache_hit_ratio'])} |",
        f"| vector query p95 (latest hour) | {f(h['latest_vector_p95_ms'], ' ms')} |",
        f"| open alerts | {int(h['open_alerts'] or 0)} |",
    ]
    recs = [r for r in _records(data, "top_recommendations") if r["project"] == "*"][:5]
    if recs:
        lines += ["", "**Top recommendations**", ""]
        lines += [f"{r['rank']}. [{r['level']}] {r['source_project']}: {r['title']}" for r in recs]
    return "\n".join(lines)
